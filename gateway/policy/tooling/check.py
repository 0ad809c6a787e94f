"""``spawngate policy check``: everything a policy change could break, reported with file and line.

Checks, in order: data files parse and have the shape the rules expect; every
Rego module parses on its own, then all of them compile together; no test
replaces the whole input (which crashes the embedded interpreter) or repeats a
test name; every blueprint loads and offers only capabilities that some
allowlist knows; every Casbin line names a known object, action and effect, and
every role granted in a ``g`` line has permissions in a ``p`` line.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import regopy
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from gateway.policy.blueprints import TemplateCatalog
from gateway.policy.casbin import Action, Obj
from gateway.policy.embedded import compile_bundle
from gateway.policy.files import PolicyFiles, load_policy_files
from gateway.policy.tooling.testing import find_tests, unsafe_with_input

__all__ = ["Problem", "check_policies"]

# rego-cpp errors: "(error 18:spawngate/x/x.rego|45|2 (errormsg 24:Invalid ...)": the
# file, the byte offset and length of the offending node, then the message.
_REGO_ERROR = re.compile(
    r"\(error \d+:(?P<file>[^|\s]+)\|(?P<offset>\d+)\|\d+\s*\(errormsg \d+:(?P<message>[^)]*)\)"
)

Name = Annotated[str, StringConstraints(min_length=1)]


@dataclass(frozen=True, slots=True)
class Problem:
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Tools(_Strict):
    spawning_tools: list[Name]


class _Capabilities(_Strict):
    default_allowed: list[Name]
    tenants: dict[str, list[Name]] = Field(default_factory=dict)
    allowed_providers: list[Name]


class _Templates(_Strict):
    tenants: dict[str, list[Name]] = Field(default_factory=dict)


class _Cost(_Strict):
    hard_max_cost_per_day: float = Field(ge=0)


class _AutoApprove(_Strict):
    capabilities: list[Name]
    max_swarm_size: int = Field(ge=0)
    max_daily_spawns: int = Field(ge=0)


class _Approval(_Strict):
    require_approval_templates: list[Name]
    risky_capabilities: list[Name]
    risky_tools: list[Name]
    auto_approve: _AutoApprove


class _Danger(_Strict):
    deny_at: float = Field(ge=0, le=1)


#: The data each concern's rules rely on (policies/spawngate/<concern>/data.yaml).
DATA_SCHEMAS: dict[str, type[BaseModel]] = {
    "tools": _Tools,
    "capabilities": _Capabilities,
    "templates": _Templates,
    "cost": _Cost,
    "approval": _Approval,
    "danger": _Danger,
}


def _line_of(path: Path, key: str) -> int:
    """The first line that mentions a key, for pointing at a data problem."""
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.match(rf"\s*-?\s*{re.escape(key)}\s*:", line):
                return number
    except OSError:
        pass
    return 1


def _rego_problems(text: str, fallback: str, files: PolicyFiles) -> list[Problem]:
    found = []
    for m in _REGO_ERROR.finditer(text):
        source = files.modules.get(m["file"])
        if source is None:
            found.append(Problem(m["file"], m["message"].strip()))
            continue
        offset = int(m["offset"])
        line = source.count("\n", 0, offset) + 1
        column = offset - (source.rfind("\n", 0, offset) + 1) + 1
        found.append(Problem(f"{m['file']}:{line}:{column}", m["message"].strip()))
    if found:
        return found
    messages = re.findall(r"errormsg \d+:([^)]*)\)", text)
    return [Problem(fallback, "; ".join(messages) or text.strip()[:300])]


def _check_data(root: Path, files: PolicyFiles) -> list[Problem]:
    problems = []
    data = files.data.get("spawngate", {})
    for concern, schema in DATA_SCHEMAS.items():
        path = root / "spawngate" / concern / "data.yaml"
        rel = path.relative_to(root).as_posix()
        section = data.get(concern, {})
        if not path.is_file():
            problems.append(Problem(rel, "missing: the rules of this package rely on it"))
            continue
        try:
            schema.model_validate(section)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                key = str(err["loc"][0]) if err["loc"] else ""
                where = ".".join(str(p) for p in err["loc"]) or "(top level)"
                problems.append(Problem(f"{rel}:{_line_of(path, key)}", f"{where}: {err['msg']}"))
    return problems


def _check_rego(files: PolicyFiles) -> list[Problem]:
    problems = []
    for name, source in sorted(files.modules.items()):
        try:
            regopy.Interpreter().add_module(name, source)
        except regopy.RegoError as exc:
            problems.extend(_rego_problems(str(exc), name, files))
    if problems:
        return problems  # compiling the whole would only repeat them
    try:
        compile_bundle(files)
    except ValueError as exc:
        problems.extend(_rego_problems(str(exc.__cause__ or exc), "policies", files))
    for location in unsafe_with_input(files):
        problems.append(
            Problem(
                location,
                "`with input as` replaces the whole input and crashes the embedded "
                "interpreter; replace top-level keys (`with input.request as ...`)",
            )
        )
    try:
        find_tests(files)
    except ValueError as exc:
        problems.append(Problem(str(exc).split(":", 1)[0], str(exc).split(":", 1)[-1].strip()))
    return problems


def _check_templates(templates_dir: Path, files: PolicyFiles) -> list[Problem]:
    try:
        catalog = TemplateCatalog.load(templates_dir)
    except ValueError as exc:
        return [Problem(templates_dir.name, str(exc))]
    capabilities: dict[str, Any] = files.data.get("spawngate", {}).get("capabilities", {})
    known = set(capabilities.get("default_allowed", []))
    for allowed in (capabilities.get("tenants") or {}).values():
        known.update(allowed or [])
    problems = []
    for name in catalog.names():
        blueprint = catalog.get(name)
        assert blueprint is not None
        path = templates_dir / f"{name}.yaml"
        for module in sorted(set(blueprint.capability_modules) - known):
            problems.append(
                Problem(
                    f"{templates_dir.name}/{path.name}:{_line_of(path, module)}",
                    f"capability module '{module}' is in no capability allowlist "
                    "(policies/spawngate/capabilities/data.yaml), so no tenant could ever use it",
                )
            )
    return problems


def _check_casbin(root: Path) -> list[Problem]:
    path = root / "casbin" / "policy.csv"
    rel = "casbin/policy.csv"
    if not path.is_file():
        return [Problem(rel, "missing")]
    objects = {o.value for o in Obj} | {"*"}
    actions = {a.value for a in Action} | {"*"}
    granted: dict[str, int] = {}
    with_permissions: set[str] = set()
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([line]))]
        kind = fields[0]
        if kind == "p":
            if len(fields) != 6:
                problems.append(
                    Problem(
                        f"{rel}:{number}",
                        "a p line has 5 fields: subject, tenant, object, action, allow|deny",
                    )
                )
                continue
            _, subject, _, obj, act, effect = fields
            with_permissions.add(subject)
            if obj not in objects:
                problems.append(
                    Problem(
                        f"{rel}:{number}",
                        f"unknown object '{obj}' (known: {', '.join(sorted(objects))})",
                    )
                )
            if act not in actions:
                problems.append(
                    Problem(
                        f"{rel}:{number}",
                        f"unknown action '{act}' (known: {', '.join(sorted(actions))})",
                    )
                )
            if effect not in ("allow", "deny"):
                problems.append(
                    Problem(f"{rel}:{number}", f"effect must be allow or deny, not '{effect}'")
                )
        elif kind == "g":
            if len(fields) != 4:
                problems.append(
                    Problem(f"{rel}:{number}", "a g line has 3 fields: principal, role, tenant")
                )
                continue
            role = fields[2]
            if not role.startswith("role:"):
                problems.append(
                    Problem(f"{rel}:{number}", f"roles are written 'role:<name>', not '{role}'")
                )
            granted.setdefault(role, number)
        else:
            problems.append(Problem(f"{rel}:{number}", f"unknown line type '{kind}' (p or g)"))
    for role, number in sorted(granted.items(), key=lambda item: item[1]):
        if role not in with_permissions:
            known = sorted(s for s in with_permissions if s.startswith("role:"))
            problems.append(
                Problem(
                    f"{rel}:{number}",
                    f"unknown role '{role}': no p line gives it any permission "
                    f"(roles: {', '.join(known)})",
                )
            )
    return problems


def check_policies(policies_dir: Path, templates_dir: Path) -> tuple[list[Problem], str | None]:
    """All problems found, and the revision of the files when they load at all."""
    try:
        files = load_policy_files(policies_dir)
    except ValueError as exc:
        return [Problem(policies_dir.name, str(exc))], None
    except yaml.YAMLError as exc:  # pragma: no cover - load_policy_files wraps these
        return [Problem(policies_dir.name, str(exc))], None
    problems = _check_data(policies_dir, files)
    problems += _check_rego(files)
    problems += _check_templates(templates_dir, files)
    problems += _check_casbin(policies_dir)
    return problems, files.revision
