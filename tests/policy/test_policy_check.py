"""`spawngate policy check`: each error class is reported with its file and line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.policy.tooling.check import check_policies
from gateway.settings import PROJECT_ROOT


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    policies, templates = tmp_path / "policies", tmp_path / "templates"
    shutil.copytree(PROJECT_ROOT / "policies", policies)
    shutil.copytree(PROJECT_ROOT / "templates", templates)
    return policies, templates


def locations(policies: Path, templates: Path) -> list[str]:
    problems, _ = check_policies(policies, templates)
    return [str(p) for p in problems]


def test_shipped_files_have_no_problems(tree: tuple[Path, Path]) -> None:
    problems, revision = check_policies(*tree)
    assert problems == [] and revision is not None and revision.startswith("sha256:")


def test_rego_syntax_error_names_file_and_line(tree: tuple[Path, Path]) -> None:
    policies, templates = tree
    rego = policies / "spawngate" / "cost" / "cost.rego"
    lines = rego.read_text().splitlines()
    lines.insert(14, "broken if {\n\tinput.a ==\n}")  # becomes lines 15-17
    rego.write_text("\n".join(lines) + "\n")
    found = locations(policies, templates)
    assert any(p.startswith("spawngate/cost/cost.rego:16:") for p in found), found


def test_data_file_of_the_wrong_shape_names_file_and_line(tree: tuple[Path, Path]) -> None:
    policies, templates = tree
    data = policies / "spawngate" / "danger" / "data.yaml"
    data.write_text(data.read_text().replace("deny_at: 0.9", "deny_at: high"))
    line = next(
        i
        for i, text in enumerate(data.read_text().splitlines(), start=1)
        if text.startswith("deny_at")
    )
    found = locations(policies, templates)
    assert any(p.startswith(f"spawngate/danger/data.yaml:{line}: deny_at") for p in found), found


def test_misspelt_data_key_is_reported(tree: tuple[Path, Path]) -> None:
    policies, templates = tree
    data = policies / "spawngate" / "cost" / "data.yaml"
    data.write_text(data.read_text() + "hard_max_cost_per_dya: 5\n")
    assert any("hard_max_cost_per_dya" in p for p in locations(policies, templates))


def test_template_with_unknown_capability_names_file_and_line(tree: tuple[Path, Path]) -> None:
    policies, templates = tree
    (templates / "trader.yaml").write_text(
        "name: trader\ndescription: trades\ncapability_modules:\n  crypto_trading:\n    tools: []\n"
    )
    found = locations(policies, templates)
    assert any(
        p.startswith("templates/trader.yaml:4: capability module 'crypto_trading'") for p in found
    ), found


def test_casbin_line_with_unknown_role_names_file_and_line(tree: tuple[Path, Path]) -> None:
    policies, templates = tree
    csv = policies / "casbin" / "policy.csv"
    text = csv.read_text() + "g, dave, role:approvr, acme\n"
    csv.write_text(text)
    line = len(text.splitlines())
    found = locations(policies, templates)
    assert any(
        p.startswith(f"casbin/policy.csv:{line}: unknown role 'role:approvr'") for p in found
    ), found


def test_casbin_unknown_object_is_reported(tree: tuple[Path, Path]) -> None:
    policies, templates = tree
    csv = policies / "casbin" / "policy.csv"
    csv.write_text(csv.read_text() + "p, role:admin, *, spaceship, create, allow\n")
    assert any("unknown object 'spaceship'" in p for p in locations(policies, templates))


def test_cli_exits_nonzero_and_prints_locations(tree: tuple[Path, Path]) -> None:
    policies, templates = tree
    csv = policies / "casbin" / "policy.csv"
    csv.write_text(csv.read_text() + "p, role:admin, *, agent, create, maybe\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "policy",
            "check",
            "--policies",
            str(policies),
            "--templates",
            str(templates),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "casbin/policy.csv:" in result.stdout and "effect must be allow or deny" in result.stdout
