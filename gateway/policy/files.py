"""Reading a ``policies/`` directory the way OPA reads a bundle.

``*.rego`` files are modules; ``data.yaml`` / ``data.json`` files are data,
mounted at the path of their directory (``policies/spawngate/tools/data.yaml``
becomes ``data.spawngate.tools``), exactly as OPA mounts bundle data. The
``casbin/`` directory is not part of the Rego bundle.

Hidden paths (any component below the root starting with ".": ``.git``,
``.idea``, an editor's ``.#main.rego`` or ``.main.rego.swp``) are not policy:
``visible_files`` is the one list that loading, the revision hash and the
reload watcher all use, so such a file counts nowhere. Components above the
root do not count (``~/.config/spawngate/policies`` is a fine place).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["PolicyFiles", "load_policy_files", "visible_files"]

_DATA_FILES = ("data.json", "data.yaml", "data.yml")
_NOT_REGO = ("casbin",)


@dataclass(frozen=True)
class PolicyFiles:
    root: Path
    #: path relative to root -> source, for every .rego file (tests included).
    modules: Mapping[str, str]
    data: Mapping[str, Any]
    #: Content hash of every file that decides (modules, data, Casbin files).
    revision: str
    tests: tuple[str, ...] = field(default=())

    def serving_modules(self) -> dict[str, str]:
        """Modules that decide requests: everything but ``*_test.rego``."""
        return {k: v for k, v in self.modules.items() if not k.endswith("_test.rego")}


def _merge(
    target: dict[str, Any], path: tuple[str, ...], value: Mapping[str, Any], origin: Path
) -> None:
    node = target
    for part in path:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"{origin}: data path {'.'.join(path)} clashes with other data")
        node = child
    for key, item in value.items():
        if key in node:
            raise ValueError(f"{origin}: data key '{key}' is defined twice under {'.'.join(path)}")
        node[key] = item


def visible_files(root: Path) -> list[Path]:
    """Every file under ``root`` that no hidden component hides, in a stable order."""
    found: list[Path] = []
    # followlinks: symlinked directories count, as they did with Path.rglob.
    for directory, subdirs, names in os.walk(root, followlinks=True):
        # Pruned in place, so .git and friends are not even walked.
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        found.extend(Path(directory) / n for n in names if not n.startswith("."))
    return sorted(p for p in found if p.is_file())


def load_policy_files(root: Path) -> PolicyFiles:
    if not root.is_dir():
        raise ValueError(f"policies directory not found: {root}")
    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    digest = hashlib.sha256()
    for path in visible_files(root):
        parts = path.relative_to(root).parts
        rel = "/".join(parts)
        raw = path.read_bytes()
        if parts[0] in _NOT_REGO:
            digest.update(rel.encode() + b"\0" + raw + b"\0")
            continue
        if path.suffix == ".rego":
            modules[rel] = raw.decode("utf-8")
        elif path.name in _DATA_FILES:
            try:
                loaded = json.loads(raw) if path.suffix == ".json" else yaml.safe_load(raw)
            except (json.JSONDecodeError, yaml.YAMLError) as exc:
                raise ValueError(f"{rel}: not valid {path.suffix[1:].upper()}: {exc}") from exc
            if loaded is None:
                loaded = {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{rel}: a data file must hold a mapping at its top level")
            _merge(data, parts[:-1], loaded, path)
        else:
            continue
        digest.update(rel.encode() + b"\0" + raw + b"\0")
    if not modules:
        raise ValueError(f"no .rego files under {root}")
    tests = tuple(sorted(k for k in modules if k.endswith("_test.rego")))
    return PolicyFiles(
        root=root,
        modules=modules,
        data=data,
        revision="sha256:" + digest.hexdigest()[:16],
        tests=tests,
    )
