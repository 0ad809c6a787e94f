"""Imports point one way: fronts -> runtime -> admission -> domain -> storage -> base.

Read from the source (AST), so a lazy import inside a function counts too.
ARCHITECTURE.md draws the same layers; change both together.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

import gateway

PACKAGE = Path(gateway.__file__).parent

#: Layer of each top-level part of ``gateway``; a module imports only its own layer or lower.
LAYERS: dict[str, int] = {
    # The package's face re-exports the public surface (lazily at run time, and for
    # type checkers under TYPE_CHECKING); nothing inside the package imports it.
    "__init__": 7,
    "fronts": 6,
    # The Python client reads the API's response models (fronts/http): a front of its own.
    "client": 6,
    "__main__": 6,
    "runtime": 5,
    # The runtime's parts (their list, their wiring, their periodic tasks): its own layer.
    "parts": 5,
    "assembly": 5,
    "background": 5,
    "admission": 4,
    # Retirement and ttl expiry: beside admission, over approvals, registry and quotas.
    "lifecycle": 4,
    "policy": 3,
    "danger": 3,
    "approvals": 3,
    "audit": 3,
    "registry": 3,
    "quotas": 3,
    "identity": 3,
    "notifications": 3,
    "costs": 3,
    # Signed admission receipts: issued by admission, checked by the registry's drift audit.
    "receipts": 3,
    "storage": 2,
    # Metrics and logs: every layer may report, so it imports nothing of the gateway.
    "telemetry": 1,
    "settings": 1,
    "errors": 1,
    "config": 1,
    "contract": 1,
}
DOMAIN = {part for part, layer in LAYERS.items() if layer == 3}


def _part(module: str) -> str:
    """``gateway.audit.log`` -> ``audit``; ``gateway`` -> ``__init__``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name for name in names if name == "gateway" or name.startswith("gateway.")}


def _edges() -> list[tuple[str, str]]:
    return [
        (module, imported)
        for module, path in sorted(_modules().items())
        for imported in sorted(_imports(path))
    ]


def test_every_part_has_a_layer() -> None:
    parts = {_part(module) for module in _modules()}
    assert parts <= set(LAYERS), f"parts without a layer: {sorted(parts - set(LAYERS))}"


def test_imports_never_point_up() -> None:
    upward = [
        f"{module} ({_part(module)}) imports {imported} ({_part(imported)})"
        for module, imported in _edges()
        if LAYERS[_part(imported)] > LAYERS[_part(module)]
    ]
    assert upward == []


@pytest.mark.parametrize("lower", ["policy", "danger", "registry", "identity"])
def test_policy_danger_registry_identity_never_import_workflows(lower: str) -> None:
    """The deciding parts never reach into the workflows that use them."""
    reached = {
        _part(imported)
        for module, imported in _edges()
        if _part(module) == lower and _part(imported) in {"approvals", "quotas"}
    }
    assert reached == set()


def test_domain_packages_form_no_circle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, imported in _edges():
        source, target = _part(module), _part(imported)
        if source in DOMAIN and target in DOMAIN and source != target:
            graph[source].add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = sorted(
        f"{a} <-> {b}" for a in sorted(graph) for b in sorted(graph[a]) if reaches(b, a, {b})
    )
    assert circles == [], f"domain packages import each other in a circle: {circles}"
