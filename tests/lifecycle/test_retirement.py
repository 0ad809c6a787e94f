"""Issue 10, part 4: retirement of idle agents and ephemeral (ttl) agents.

Through the public interfaces (HTTP app, the CLI, ``gw.lifecycle``) with the
real embedded Redis and the real policies. The lifecycle clock is moved by
setting ``gw.lifecycle.now`` (the CLI's ``--now``)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.audit.log import RecordType
from gateway.runtime import Gateway
from gateway.settings import Settings
from tests.conftest import MakeSettings, bearer, client_for, write_config

pytestmark = pytest.mark.asyncio

CONFIG = """tenants:
  acme:
    enabled: true
    danger_threshold: 0.9
    dedup: "off"
    retire_after_days: 30
    protected_agents: ["keep-*"]
    ttl: {{allowed: true, max_seconds: 60}}
    quotas:
      per_agent: {{per_minute: 1000, per_hour: 1000, per_day: 1000}}
      per_tenant: {{per_minute: 1000, per_hour: 1000, per_day: 1000}}
      max_active_agents: {max_active}
    lineage: {{max_depth: 3, max_descendants_per_root: 1000, root_spawns_per_minute: 1000}}
  globex:
    enabled: true
    ttl: {{allowed: false}}
  initech: {{}}
"""

Start = Callable[..., Any]


@pytest.fixture
def start(tmp_path: Path, make_settings: MakeSettings) -> Start:
    @asynccontextmanager
    async def run(max_active: int = 1000, **settings: Any) -> AsyncIterator[Gateway]:
        path = write_config(tmp_path, CONFIG.format(max_active=max_active))
        gw = Gateway.build(make_settings(config_file=path, **settings))
        try:
            yield gw
        finally:
            await gw.stop()

    return run


def body(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "role": "summarises reports", **extra}


async def create(c: httpx.AsyncClient, name: str, **extra: Any) -> httpx.Response:
    return await c.post(
        "/v1/create_agent", json=body(name, **extra), headers=bearer("orchestrator")
    )


def later(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


async def pending_retirements(c: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await c.get("/v1/approvals", headers=bearer("alice"))
    assert r.status_code == 200, r.text
    items = r.json()
    items = items["requests"] if isinstance(items, dict) else items
    return [a for a in items if a["kind"] == "retirement"]


async def test_idle_agent_proposed_approved_retired_and_its_slot_freed(start: Start) -> None:
    async with start(max_active=1) as gw, client_for(gw) as c:
        first = await create(c, "idle-bot")
        assert first.status_code == 201, first.text
        blocked = await create(c, "next-bot")
        assert blocked.status_code == 429, blocked.text
        assert "max_active_agents" in blocked.text

        # Not idle yet: nothing to propose.
        assert (await gw.lifecycle.sweep(now=later(29))).proposed == []

        dry = await gw.lifecycle.sweep(now=later(31), dry_run=True)
        assert [(p.tenant, p.agent) for p in dry.proposed] == [("acme", "idle-bot")]
        assert await pending_retirements(c) == []  # a dry run changes nothing

        report = await gw.lifecycle.sweep(now=later(31))
        assert [p.agent for p in report.proposed] == ["idle-bot"]
        (proposal,) = await pending_retirements(c)
        assert proposal["request"]["name"] == "idle-bot"

        approved = await c.post(f"/v1/approvals/{proposal['id']}/approve", headers=bearer("alice"))
        assert approved.status_code == 200, approved.text
        gone = await c.get("/v1/agents/idle-bot", headers=bearer("orchestrator"))
        assert gone.status_code == 404
        shown = await c.get(f"/v1/approvals/{proposal['id']}", headers=bearer("alice"))
        assert shown.json()["state"] == "retired"

        # The swarm slot is free again: the creation max_active_agents refused succeeds.
        assert (await create(c, "next-bot")).status_code == 201

        records = await gw.audit.read()
        retired = [r for r in records if r.type is RecordType.RETIREMENT]
        # Audit first: the intent is recorded before the registry changes.
        assert [r.result["action"] for r in retired] == ["proposed", "retiring", "retired"]
        assert retired[1].principal == "alice"


async def test_protected_agents_are_never_proposed(start: Start) -> None:
    async with start() as gw, client_for(gw) as c:
        assert (await create(c, "keep-core")).status_code == 201
        assert (await create(c, "plain-bot")).status_code == 201
        report = await gw.lifecycle.sweep(now=later(400))
        assert [p.agent for p in report.proposed] == ["plain-bot"]
        assert report.protected == ["acme/keep-core"]


async def test_a_vetoed_retirement_leaves_the_agent(start: Start) -> None:
    async with start() as gw, client_for(gw) as c:
        assert (await create(c, "vetoed-bot")).status_code == 201
        (proposal,) = (await gw.lifecycle.sweep(now=later(31))).proposed
        denied = await c.post(
            f"/v1/approvals/{proposal.request_id}/deny",
            json={"note": "still needed"},
            headers=bearer("alice"),
        )
        assert denied.status_code == 200, denied.text
        kept = await c.get("/v1/agents/vetoed-bot", headers=bearer("orchestrator"))
        assert kept.status_code == 200
        # Not proposed again straight away.
        again = await gw.lifecycle.sweep(now=later(32))
        assert again.proposed == [] and again.already_proposed == ["acme/vetoed-bot"]


async def test_activity_resets_idleness(start: Start) -> None:
    async with start() as gw, client_for(gw) as c:
        assert (await create(c, "busy-bot")).status_code == 201
        gw.lifecycle.now = lambda: later(20)
        touched = await c.post("/v1/agents/busy-bot/activity", headers=bearer("orchestrator"))
        assert touched.status_code == 200, touched.text
        assert touched.json()["last_activated_at"] is not None
        # The report is in the decision log, with who made it and the time it says.
        [active] = [r for r in await gw.audit.read() if r.type is RecordType.ACTIVITY]
        assert active.principal == "acme-orchestrator" and active.input["agent"] == "busy-bot"
        assert str(active.input["active_at"]).startswith(later(20).date().isoformat())
        # 31 days after creation, but only 11 after the activity.
        assert (await gw.lifecycle.sweep(now=later(31))).proposed == []
        assert [p.agent for p in (await gw.lifecycle.sweep(now=later(51))).proposed] == ["busy-bot"]


async def test_activity_is_tenant_scoped_and_authorized(start: Start) -> None:
    async with start() as gw, client_for(gw) as c:
        assert (await create(c, "own-bot")).status_code == 201
        other = await c.post("/v1/agents/own-bot/activity", headers=bearer("globex"))
        assert other.status_code == 404  # another tenant's agent does not exist for globex
        auditor = await c.post("/v1/agents/own-bot/activity", headers=bearer("bob"))
        assert auditor.status_code == 403
        missing = await c.post("/v1/agents/nobody/activity", headers=bearer("orchestrator"))
        assert missing.status_code == 404


async def test_activity_after_the_proposal_drops_the_retirement(start: Start) -> None:
    async with start() as gw, client_for(gw) as c:
        assert (await create(c, "woken-bot")).status_code == 201
        (proposal,) = (await gw.lifecycle.sweep(now=later(31))).proposed
        gw.lifecycle.now = lambda: later(31)
        assert (
            await c.post("/v1/agents/woken-bot/activity", headers=bearer("orchestrator"))
        ).status_code == 200
        approved = await c.post(
            f"/v1/approvals/{proposal.request_id}/approve", headers=bearer("alice")
        )
        assert approved.status_code == 200, approved.text
        assert (
            await c.get("/v1/agents/woken-bot", headers=bearer("orchestrator"))
        ).status_code == 200


async def test_two_concurrent_sweeps_propose_once(start: Start) -> None:
    async with start() as gw, client_for(gw) as c:
        for name in ("one-bot", "two-bot"):
            assert (await create(c, name)).status_code == 201
        first, second = await asyncio.gather(
            gw.lifecycle.sweep(now=later(31)), gw.lifecycle.sweep(now=later(31))
        )
        proposed = sorted(p.agent for p in [*first.proposed, *second.proposed])
        assert proposed == ["one-bot", "two-bot"]
        assert len(await pending_retirements(c)) == 2
        third = await gw.lifecycle.sweep(now=later(40))
        assert third.proposed == []


async def test_ttl_agent_expires_without_a_proposal(start: Start) -> None:
    async with start(max_active=1) as gw, client_for(gw) as c:
        created = await create(c, "job-bot", ttl_seconds=2)
        assert created.status_code == 201, created.text
        assert created.json()["agent"]["expires_at"] is not None
        assert await gw.lifecycle.expire_due() == 0  # not due yet
        assert await gw.lifecycle.expire_due(now=later(1)) == 1
        gone = await c.get("/v1/agents/job-bot", headers=bearer("orchestrator"))
        assert gone.status_code == 404
        assert await pending_retirements(c) == []
        assert (await create(c, "after-job")).status_code == 201  # its slot was released
        expired = [r for r in await gw.audit.read() if r.type is RecordType.RETIREMENT]
        assert [r.result["action"] for r in expired] == ["expiring", "expired"]


async def test_the_background_sweeper_retires_a_ttl_agent(start: Start) -> None:
    async with start(expiry_sweep_seconds=0.2) as gw, client_for(gw) as c:
        await gw.start()
        assert (await create(c, "short-job", ttl_seconds=1)).status_code == 201
        status = 200
        for _ in range(100):  # bounded wait; no timing assert
            status = (
                await c.get("/v1/agents/short-job", headers=bearer("orchestrator"))
            ).status_code
            if status == 404:
                break
            await asyncio.sleep(0.1)
        assert status == 404


async def test_ttl_above_the_cap_or_not_allowed_is_refused_naming_the_limit(start: Start) -> None:
    async with start() as gw, client_for(gw) as c:
        over = await create(c, "long-job", ttl_seconds=61)
        assert over.status_code == 422, over.text
        assert "ttl.max_seconds is 60" in over.text
        refused = await c.post(
            "/v1/create_sme",
            json={**body("g-job", ttl_seconds=5), "expertise": "jobs"},
            headers=bearer("globex"),
        )
        assert refused.status_code == 422, refused.text
        assert "ttl.allowed is false" in refused.text


async def test_cli_sweep_dry_run_names_the_agent_and_changes_nothing(
    start: Start, tmp_path: Path, make_settings: MakeSettings
) -> None:
    async with start() as gw, client_for(gw) as c:
        assert (await create(c, "cli-bot")).status_code == 201
        settings: Settings = gw.settings
        env = {
            **os.environ,
            "SPAWNGATE_DATA_DIR": str(tmp_path / "cli-data"),
            "REDIS_URL": settings.redis_url.get_secret_value() if settings.redis_url else "",
            "SPAWNGATE_REDIS_PREFIX": settings.redis_prefix,
            "SPAWNGATE_CONFIG_FILE": str(settings.config_file),
        }
        moment = later(31).isoformat()
        run = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "gateway", "agents", "sweep", "--dry-run", "--now", moment],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert "would propose: acme/cli-bot" in run.stdout
        assert await pending_retirements(c) == []
        real = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "gateway", "agents", "sweep", "--now", moment, "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert real.returncode == 0, real.stderr
        assert [p["agent"] for p in json.loads(real.stdout)["proposed"]] == ["cli-bot"]
        assert len(await pending_retirements(c)) == 1
