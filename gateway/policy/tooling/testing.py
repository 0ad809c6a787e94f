"""Running the Rego unit tests (``test_*`` rules in ``*_test.rego``) with the embedded interpreter.

Each test rule is evaluated on its own, so a failure names the test and where
it is. Tests that replace the whole input (``with input as {...}``) are refused
before anything runs: they crash rego-cpp (a segmentation fault, not an error),
so tests replace top-level keys instead (``with input.request as {...}``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regopy

from gateway.policy.files import PolicyFiles

__all__ = [
    "CasbinTestResult",
    "RegoTestResult",
    "find_tests",
    "run_casbin_tests",
    "run_rego_tests",
    "unsafe_with_input",
]

_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)\s+if\b", re.MULTILINE)
_WHOLE_INPUT = re.compile(r"\bwith\s+input\s+as\b")


@dataclass(frozen=True, slots=True)
class RegoTestResult:
    file: str
    line: int
    package: str
    name: str
    passed: bool
    error: str | None = None

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


def unsafe_with_input(files: PolicyFiles) -> list[str]:
    """Locations of ``with input as`` in any module (they crash the interpreter)."""
    found = []
    for name, source in files.modules.items():
        for m in _WHOLE_INPUT.finditer(source):
            found.append(f"{name}:{source.count(chr(10), 0, m.start()) + 1}")
    return found


def find_tests(files: PolicyFiles) -> list[tuple[str, int, str, str]]:
    out = []
    for name in files.tests:
        source = files.modules[name]
        pkg = _PACKAGE.search(source)
        if pkg is None:
            continue
        seen: set[str] = set()
        for m in _TEST_RULE.finditer(source):
            if m.group(1) in seen:
                raise ValueError(f"{name}: test '{m.group(1)}' is defined twice")
            seen.add(m.group(1))
            out.append((name, source.count("\n", 0, m.start()) + 1, pkg.group(1), m.group(1)))
    return out


def run_rego_tests(files: PolicyFiles) -> list[RegoTestResult]:
    unsafe = unsafe_with_input(files)
    if unsafe:
        raise ValueError(
            "policy tests must not replace the whole input (`with input as`), which crashes "
            "the embedded interpreter; replace top-level keys instead "
            f"(`with input.request as ...`): {', '.join(unsafe)}"
        )
    rego = regopy.Interpreter()
    rego.add_data_json(json.dumps(files.data))
    for name, source in sorted(files.modules.items()):
        rego.add_module(name, source)
    tests = find_tests(files)
    if not tests:
        return []
    # One bundle with every test as an entry point: compiling once is ~50x
    # faster than a query per test, which recompiles every module.
    entrypoints = [f"{package.replace('.', '/')}/{test}" for _, _, package, test in tests]
    try:
        bundle = rego.build(None, entrypoints)
    except regopy.RegoError as exc:
        raise ValueError(f"policies do not compile: {_error_text(str(exc))}") from exc
    results = []
    for (file, line, package, test), entrypoint in zip(tests, entrypoints, strict=True):
        passed, error = _evaluate(rego, bundle, entrypoint)
        results.append(RegoTestResult(file, line, package, test, passed, error))
    return results


def _error_text(text: str) -> str:
    messages = re.findall(r"errormsg \d+:([^)]*)\)", text)
    return "; ".join(messages) or text[:300]


def _evaluate(rego: Any, bundle: Any, entrypoint: str) -> tuple[bool, str | None]:
    """True only when the test rule is defined and true; undefined is a failure."""
    # regopy's Output parses the interpreter's text as JSON, which fails for
    # "undefined" and for error trees; read the raw text instead.
    from regopy.rego_shared import rego_bundle_query_entrypoint, rego_output_string

    text = rego_output_string(rego_bundle_query_entrypoint(rego._impl, bundle._impl, entrypoint))
    if text.strip() == "undefined":
        return False, "undefined: the test's conditions were not all true"
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return False, _error_text(text)
    expressions = parsed.get("expressions") if isinstance(parsed, dict) else None
    if expressions == [True]:
        return True, None
    return False, f"evaluated to {expressions!r}, not true"


@dataclass(frozen=True, slots=True)
class CasbinTestResult:
    location: str
    request: str
    expected: bool
    actual: bool
    rule: str

    @property
    def passed(self) -> bool:
        return self.expected is self.actual


def run_casbin_tests(policies_dir: Path) -> list[CasbinTestResult]:
    """Rows of ``casbin/tests.yaml`` against the real model and policy files."""
    import yaml

    from gateway.policy.casbin import Action, Authorizer, Obj

    table = policies_dir / "casbin" / "tests.yaml"
    if not table.is_file():
        return []
    rows = yaml.safe_load(table.read_text(encoding="utf-8")) or []
    if not isinstance(rows, list):
        raise ValueError(f"{table}: expected a list of rows")
    authorizer = Authorizer(policies_dir)
    lines = table.read_text(encoding="utf-8").splitlines()
    row_lines = [i + 1 for i, line in enumerate(lines) if line.lstrip().startswith("- ")]
    results = []
    for index, row in enumerate(rows):
        where = f"casbin/tests.yaml:{row_lines[index] if index < len(row_lines) else '?'}"
        try:
            sub, dom, allow = str(row["sub"]), str(row["dom"]), bool(row["allow"])
            obj, act = Obj(row["obj"]), Action(row["act"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: a row needs sub, dom, obj, act, allow ({exc})") from exc
        result = authorizer.check(sub, dom, obj, act)
        results.append(
            CasbinTestResult(
                where,
                f"{sub}, {dom}, {obj.value}, {act.value}",
                allow,
                result.allowed,
                result.matched,
            )
        )
    return results
