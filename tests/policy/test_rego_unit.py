"""The Rego unit tests in policies/ (``*_test.rego``), each as a pytest case, and the runner itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.policy.files import load_policy_files
from gateway.policy.tooling.testing import find_tests, run_rego_tests
from gateway.settings import PROJECT_ROOT

POLICIES = PROJECT_ROOT / "policies"
_FILES = load_policy_files(POLICIES)
_RESULTS = {f"{r.package}.{r.name}": r for r in run_rego_tests(_FILES)}


@pytest.mark.parametrize("test_id", sorted(_RESULTS))
def test_rego(test_id: str) -> None:
    result = _RESULTS[test_id]
    assert result.passed, f"{result.location} {test_id}: {result.error}"


def test_every_policy_package_has_tests() -> None:
    packages = {
        name.split("/")[1] for name in _FILES.serving_modules() if name.startswith("spawngate/")
    }
    tested = {name.split("/")[1] for name in _FILES.tests}
    assert packages - {"lib"} <= tested


def test_a_failing_rego_test_is_reported_with_its_location(tmp_path: Path) -> None:
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    broken = copy / "spawngate" / "cost" / "cost_test.rego"
    broken.write_text(
        broken.read_text()
        + '\ntest_deliberately_wrong if {\n\teffective := {"estimated_cost_per_day": 500}\n'
        "\tcount(cost.deny) == 0 with input.effective as effective\n}\n"
    )
    results = run_rego_tests(load_policy_files(copy))
    failed = [r for r in results if not r.passed]
    assert [(r.name, r.file) for r in failed] == [
        ("test_deliberately_wrong", "spawngate/cost/cost_test.rego")
    ]
    assert failed[0].line > 1 and failed[0].error


def test_whole_input_replacement_is_refused_before_it_can_crash(tmp_path: Path) -> None:
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    bad = copy / "spawngate" / "cost" / "cost_test.rego"
    bad.write_text(
        bad.read_text() + "\ntest_crashy if {\n\tcount(cost.deny) == 0 with input as {}\n}\n"
    )
    with pytest.raises(ValueError, match=r"cost_test\.rego"):
        run_rego_tests(load_policy_files(copy))


def test_duplicate_test_names_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    dup = copy / "spawngate" / "cost" / "cost_test.rego"
    dup.write_text(dup.read_text() + "\ntest_cost_above_ceiling_is_denied if {\n\ttrue\n}\n")
    with pytest.raises(ValueError, match="defined twice"):
        find_tests(load_policy_files(copy))
