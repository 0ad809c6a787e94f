"""Every Redis key name and Lua script lives in gateway.storage.schema, and stays put.

Key names are data: a renamed key strands what is already in Redis. So the
names are pinned here, and the rule that nothing outside ``gateway/storage``
spells a key or carries a script is checked over the source (AST).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.storage import schema
from gateway.storage.schema import Keys, agent_scope, root_scope, tenant_scope

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
STORAGE = GATEWAY / "storage"
SCRIPT_CALLS = frozenset({"register_script", "eval", "evalsha", "script_load"})


def _outside_storage() -> list[Path]:
    return [p for p in sorted(GATEWAY.rglob("*.py")) if STORAGE not in p.parents]


def _schema_names(tree: ast.Module) -> set[str]:
    """Names a module imported from gateway.storage.schema (or the module itself)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "gateway.storage.schema":
            names |= {a.asname or a.name for a in node.names}
        if isinstance(node, ast.ImportFrom) and node.module == "gateway.storage":
            names |= {a.asname or a.name for a in node.names if a.name == "schema"}
    return names


def _from_schema(arg: ast.expr, names: set[str]) -> bool:
    if isinstance(arg, ast.Name):
        return arg.id in names and arg.id != "schema"
    return (
        isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id in names
    )


def _literal(arg: ast.expr) -> bool:
    return isinstance(arg, ast.JoinedStr) or (
        isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    )


def _violations(source: str, where: str) -> list[str]:
    tree = ast.parse(source, filename=where)
    names = _schema_names(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and "redis.call(" in str(node.value):
            found.append(f"{where}:{node.lineno}: a Lua script outside gateway.storage.schema")
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attr = node.func.attr
        if attr == "key" and any(_literal(a) for a in node.args):
            found.append(f"{where}:{node.lineno}: .key() with literal parts (use store.keys)")
        if attr in SCRIPT_CALLS and not (node.args and _from_schema(node.args[0], names)):
            found.append(f"{where}:{node.lineno}: .{attr}() of a script not from the schema")
    return found


def test_no_key_name_or_script_outside_storage() -> None:
    problems = [
        v
        for path in _outside_storage()
        for v in _violations(path.read_text(), str(path.relative_to(GATEWAY.parent)))
    ]
    assert not problems, "\n".join(problems)


def test_the_rule_catches_what_it_is_for() -> None:
    source = (
        "from gateway.storage import schema\n"
        "def f(store, name):\n"
        "    store.key('reg', name)\n"
        "    store.client.register_script(\"return redis.call('GET', KEYS[1])\")\n"
        "    store.client.register_script(schema.AUDIT_APPEND)\n"
        "    store.keys.agent('acme', name)\n"
    )
    problems = _violations(source, "probe.py")
    assert len(problems) == 3, problems


def test_every_script_says_what_it_guarantees() -> None:
    source = (STORAGE / "schema.py").read_text().splitlines()
    scripts = [name for name in schema.__all__ if name.isupper()]
    assert scripts
    for name in scripts:
        line = next(i for i, text in enumerate(source) if text.startswith(f'{name} = """'))
        comment: list[str] = []
        for text in reversed(source[:line]):
            if not text.startswith("#"):
                break
            comment.append(text)
        assert any("Guarantees" in c for c in comment), f"{name} has no guarantee comment"
        assert "redis.call" in getattr(schema, name)


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (lambda k: k.decisions(), "sg:decisions"),
        (lambda k: k.decisions_head(), "sg:decisions:head"),
        (lambda k: k.checkpoints(), "sg:decisions:checkpoints"),
        (lambda k: k.shipped(), "sg:decisions:shipped"),
        (lambda k: k.checkpoints_shipped(), "sg:decisions:checkpoints:shipped"),
        (lambda k: k.shipper_lease(), "sg:decisions:shipper"),
        (lambda k: k.approval("apr_1"), "sg:approval:apr_1"),
        (lambda k: k.approval_prefix(), "sg:approval:"),
        (lambda k: k.approvals_pending("acme"), "sg:approvals:acme:pending"),
        (lambda k: k.approvals_tenants(), "sg:approvals:tenants"),
        (lambda k: k.approvals_approving(), "sg:approvals:approving"),
        (lambda k: k.agent("acme", "bot"), "sg:reg:acme:agent:bot"),
        (lambda k: k.agent_names("acme"), "sg:reg:acme:names"),
        (lambda k: k.agent_capability("acme", "search"), "sg:reg:acme:cap:search"),
        (lambda k: k.agent_tombstone("acme", "dec_1"), "sg:reg:acme:abandoned:dec_1"),
        (lambda k: k.agent_activity("acme"), "sg:reg:acme:activity"),
        (lambda k: k.agents_expiring(), "sg:reg:expiring"),
        (lambda k: k.retirement_claim("acme", "dec_1"), "sg:life:acme:retire:dec_1"),
        (lambda k: k.quota_window(agent_scope("acme", "p"), "hour", 7), "sg:q:agent:acme:p:hour:7"),
        (lambda k: k.quota_held(tenant_scope("acme"), "active"), "sg:q:tenant:acme:active"),
        (
            lambda k: k.quota_held(root_scope("acme", "r"), "descendants"),
            "sg:q:root:acme:r:descendants",
        ),
        (lambda k: k.quotas(), "sg:q:*"),
        (lambda k: k.quota_lease("sg:q:tenant:acme:active"), "sg:q:tenant:acme:active:leases"),
        (lambda k: k.principal("abc"), "sg:principal:abc"),
        (lambda k: k.idempotency("acme", "p", "d"), "sg:idem:acme:p:d"),
        (lambda k: k.llm_review("d"), "sg:llm:d"),
        (lambda k: k.reconcile_reported(), "sg:reconcile:reported"),
        (lambda k: k.cost_active("acme"), "sg:cost:acme:active"),
        (lambda k: k.cost_active_total("acme"), "sg:cost:acme:active:total"),
        (lambda k: k.cost_day("acme", "2026-05-01"), "sg:cost:acme:day:2026-05-01"),
        (
            lambda k: k.cost_day_spenders("acme", "2026-05-01", "agent", "cost"),
            "sg:cost:acme:day:2026-05-01:agent:cost",
        ),
        (lambda k: k.cost_days("acme"), "sg:cost:acme:days"),
    ],
)
def test_key_names_are_stable(built: Callable[[Keys], str], expected: str) -> None:
    assert built(Keys("sg")) == expected


def test_unstored_keys_have_no_prefix() -> None:
    assert Keys.unstored().llm_review("d") == "llm:d"


def test_quota_key_parsing() -> None:
    assert Keys.quota_tenant("sg:q:root:acme:r:descendants") == "acme"
    assert Keys.quota_tenant("sg:q:tenant:acme:minute:5") == "acme"
    assert Keys.quota_tenant("sg:q:other") == ""
    assert Keys.quota_is_held("sg:q:agent:acme:p:total")
    assert not Keys.quota_is_held("sg:q:agent:acme:p:minute:5")
