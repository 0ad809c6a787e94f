"""``spawngate swarm report``: the daily table from the same figures as the HTTP API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime

from gateway.runtime import Gateway
from gateway.settings import Settings
from tests.conftest import bearer, client_for


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "swarm", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


async def test_swarm_report_prints_the_daily_table(
    gateway: Gateway, redis_url: str, settings: Settings
) -> None:
    async with client_for(gateway) as c:
        for name, cost in (("diagrams", 6), ("notes", 2)):
            r = await c.post(
                "/v1/create_agent",
                json={"name": name, "estimated_cost_per_day": cost},
                headers=bearer("orchestrator"),
            )
            assert r.status_code == 201, r.json()
        r = await c.post(
            "/v1/agents/diagrams/usage",
            json={"tokens": 4200, "cost": 1.5},
            headers=bearer("orchestrator"),
        )
        assert r.status_code == 200
        http = (await c.get("/v1/metrics/swarm", headers=bearer("bob"))).json()
    env = {
        "REDIS_URL": redis_url,
        "SPAWNGATE_REDIS_PREFIX": settings.redis_prefix,
        "SPAWNGATE_DATA_DIR": str(settings.data_dir),
    }
    table = await asyncio.to_thread(cli, env, "--tenant", "acme", "--days", "3")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "tenant acme: 8 $/day estimated for the active agents (limit 10 $/day)"
    assert lines[1].split()[:7] == ["day", "spawned", "retired", "total", "est", "$/day", "actual"]
    today = datetime.now(UTC).date().isoformat()
    assert lines[-1].split() == [today, "2", "0", "2", "8.00", "1.50", "4200", "diagrams", "1.5"]
    assert len(lines) == 2 + 3
    as_json = await asyncio.to_thread(cli, env, "--tenant", "acme", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == http
    # Without --tenant: every configured tenant, one table each.
    every = await asyncio.to_thread(cli, env)
    assert every.returncode == 0 and "tenant globex:" in every.stdout
    bad = await asyncio.to_thread(cli, env, "--until", "yesterday")
    assert bad.returncode == 2 and "--until" in bad.stderr
