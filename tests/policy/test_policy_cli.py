"""`spawngate policy test`: every Rego test and the Casbin truth table, failures named."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import PROJECT_ROOT


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "policies", copy)
    return copy


def policy_test(policies: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "policy", "test", "--policies", str(policies)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_shipped_policies_pass(policies: Path) -> None:
    result = policy_test(policies)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("passed, 0 failed")


def test_a_failing_rego_test_exits_nonzero_and_names_it(policies: Path) -> None:
    test_file = policies / "spawngate" / "cost" / "cost_test.rego"
    test_file.write_text(
        test_file.read_text()
        + '\ntest_wrong_on_purpose if {\n\teffective := {"estimated_cost_per_day": 500}\n'
        "\tcount(cost.deny) == 0 with input.effective as effective\n}\n"
    )
    result = policy_test(policies)
    assert result.returncode == 1
    assert "FAIL spawngate/cost/cost_test.rego:" in result.stdout
    assert "spawngate.cost_test.test_wrong_on_purpose" in result.stdout
    assert result.stdout.strip().endswith("passed, 1 failed")


def test_a_wrong_casbin_row_exits_nonzero_and_names_the_row(policies: Path) -> None:
    table = policies / "casbin" / "tests.yaml"
    table.write_text(
        table.read_text() + "- {sub: alice, dom: acme, obj: agent, act: create, allow: true}\n"
    )
    result = policy_test(policies)
    assert result.returncode == 1
    assert "casbin/tests.yaml:" in result.stdout and "(alice, acme, agent, create)" in result.stdout
    assert "expected allow, got deny" in result.stdout


def test_a_malformed_casbin_row_is_an_error(policies: Path) -> None:
    table = policies / "casbin" / "tests.yaml"
    table.write_text(
        table.read_text() + "- {sub: alice, dom: acme, obj: spaceship, act: create, allow: true}\n"
    )
    result = policy_test(policies)
    assert result.returncode == 2 and "casbin/tests.yaml" in result.stderr


def test_manifest_writes_the_revision_for_opa(policies: Path) -> None:
    import json

    result = subprocess.run(
        [sys.executable, "-m", "gateway", "policy", "manifest", "--policies", str(policies)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((policies / ".manifest").read_text())
    assert manifest["revision"].startswith("sha256:")  # a copy outside git: content hash
    assert manifest["revision"] in result.stdout
