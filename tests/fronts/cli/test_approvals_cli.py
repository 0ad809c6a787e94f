"""The approvers' CLI goes through the same approval service as HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from gateway.runtime import Gateway
from gateway.settings import Settings
from tests.conftest import bearer, client_for


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "approvals", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


async def test_list_approve_and_deny_from_the_cli(
    gateway: Gateway, redis_url: str, settings: Settings
) -> None:
    async with client_for(gateway) as c:
        ids = []
        for name in ("cli-approved", "cli-denied"):
            r = await c.post(
                "/v1/create_agent",
                json={"name": name, "estimated_cost_per_day": 12},
                headers=bearer("orchestrator"),
            )
            ids.append(r.json()["request_id"])
    env = {
        "REDIS_URL": redis_url,
        "SPAWNGATE_REDIS_PREFIX": settings.redis_prefix,
        "SPAWNGATE_DATA_DIR": str(settings.data_dir),
        "SPAWNGATE_API_KEY": "sg_demo_alice",
    }
    listed = await asyncio.to_thread(cli, env, "list")
    assert (
        listed.returncode == 0
        and "2 pending" in listed.stdout
        and "SG-APPROVAL-004" in listed.stdout
    )
    approved = await asyncio.to_thread(cli, env, "approve", ids[0], "--note", "fine")
    assert approved.returncode == 0 and f"{ids[0]}: created (acme/cli-approved)" in approved.stdout
    denied = await asyncio.to_thread(cli, env, "deny", ids[1], "--note", "no")
    assert denied.returncode == 0 and f"{ids[1]}: denied" in denied.stdout
    again = await asyncio.to_thread(cli, env, "approve", ids[1])
    assert again.returncode == 1 and "approval_already_decided" in again.stderr
    not_approver = await asyncio.to_thread(cli, {**env, "SPAWNGATE_API_KEY": "sg_demo_bob"}, "list")
    assert not_approver.returncode == 1 and "not_an_approver" in not_approver.stderr
    assert await gateway.registry.get("acme", "cli-approved") is not None
