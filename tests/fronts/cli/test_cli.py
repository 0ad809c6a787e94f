"""The CLI goes through the same admission service as HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


@pytest.fixture
def cli_env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "SPAWNGATE_REDIS_PREFIX": f"cli{os.getpid()}{tmp_path.name[-6:]}".lower().replace("_", ""),
        "SPAWNGATE_DATA_DIR": str(tmp_path),
    }


def test_decide_created_denied_and_queued(cli_env: dict[str, str], tmp_path: Path) -> None:
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"name": "cli-agent", "role": "helps from the shell"}))
    created = run_cli(["decide", str(request), "--key", "sg_demo_acme_orchestrator"], cli_env)
    assert created.returncode == 0, created.stderr
    body = json.loads(created.stdout)
    assert body["status"] == 201 and body["agent"]["system_prompt"].startswith(
        "You are agent cli-agent."
    )

    again = run_cli(["decide", str(request), "--key", "sg_demo_acme_orchestrator"], cli_env)
    assert again.returncode == 1 and json.loads(again.stdout)["status"] == 409

    queued = run_cli(
        ["decide", "-", "--key", "sg_demo_acme_orchestrator"],
        cli_env,
        stdin=json.dumps({"name": "ops", "template": "devops", "capabilities": ["docker"]}),
    )
    assert queued.returncode == 3 and json.loads(queued.stdout)["outcome"] == "pending_approval"

    sme = run_cli(
        ["decide", "-", "--key", "sg_demo_acme_orchestrator", "--kind", "sme"], cli_env, stdin="{}"
    )
    assert sme.returncode == 1
    assert json.loads(sme.stdout)["error"]["problems"][0] == {
        "field": "name",
        "problem": "field required",
    }


def test_decide_with_invalid_settings_says_why(cli_env: dict[str, str], tmp_path: Path) -> None:
    request = tmp_path / "req.json"
    request.write_text("{}")
    result = run_cli(
        ["decide", str(request), "--key", "k"], {**cli_env, "SPAWNGATE_POLICY_ENGINE": "magic"}
    )
    assert result.returncode == 2 and "policy_engine" in result.stderr
