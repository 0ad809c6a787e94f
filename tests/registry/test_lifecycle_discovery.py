"""Issue 10, part 2: discovery before spawning, capability deduplication, justification.
Through HTTP with the real embedded Redis and the real policies."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.runtime import Gateway
from gateway.settings import Settings
from tests.conftest import MakeSettings, bearer, client_for, write_config

pytestmark = pytest.mark.asyncio

#: Roomy quotas; the tenant's dedup and justification settings are filled in per test.
CONFIG = """tenants:
  acme:
    enabled: true
    danger_threshold: 0.9
    quotas:
      per_agent: {{per_minute: 1000, per_hour: 1000, per_day: 1000}}
      per_tenant: {{per_minute: 1000, per_hour: 1000, per_day: 1000}}
      max_active_agents: 1000
    lineage: {{max_depth: 3, max_descendants_per_root: 1000, root_spawns_per_minute: 1000}}
    max_cost_per_day: 1000
{extra}
  globex:
    enabled: true
  initech: {{}}
"""

DIAGRAM = {
    "name": "diagram-agent",
    "template": "media-generator",
    "role": "draws architecture diagrams",
    "capabilities": ["diagram_generation"],
    "justification": "Recurring requests for architecture diagrams",
}

Start = Callable[..., Any]


@pytest.fixture
def started() -> list[Settings]:
    """The settings of each gateway ``start`` ran, for the CLI to use the same ones."""
    return []


@pytest.fixture
def start(tmp_path: Path, make_settings: MakeSettings, started: list[Settings]) -> Start:
    @asynccontextmanager
    async def run(**tenant: str) -> AsyncIterator[httpx.AsyncClient]:
        extra = "\n".join(f"    {k}: {v}" for k, v in tenant.items())
        path = write_config(tmp_path, CONFIG.format(extra=extra))
        started.append(make_settings(config_file=path))
        gw = Gateway.build(started[-1])
        try:
            async with client_for(gw) as client:
                yield client
        finally:
            await gw.stop()

    return run


async def search(c: httpx.AsyncClient, who: str = "analyst", **params: Any) -> httpx.Response:
    return await c.get("/v1/agents/search", params=params, headers=bearer(who))


def codes(r: httpx.Response) -> set[str]:
    return {x["code"] for x in r.json()["reasons"]}


async def test_lifecycle_2_adr_flow_search_suggests_template_then_agent_then_dedup(
    start: Start,
) -> None:
    async with start() as c:
        before = await search(c, capability="diagram_generation")
        assert before.status_code == 200, before.json()
        assert before.json() == {
            "agents": [],
            "suggestion": "Consider proposing a new agent with template: media-generator",
        }
        created = await c.post("/v1/create_agent", json=DIAGRAM, headers=bearer("analyst"))
        assert created.status_code == 201, created.json()
        after = await search(c, capability="diagram_generation")
        assert [a["name"] for a in after.json()["agents"]] == ["diagram-agent"]
        assert after.json()["suggestion"] == "Try asking @diagram-agent"
        # A second proposal for the same capability goes to a human (default review),
        # naming the agent that already offers it.
        twin = await c.post(
            "/v1/create_agent", json={**DIAGRAM, "name": "diagram-two"}, headers=bearer("analyst")
        )
        assert twin.status_code == 202, twin.json()
        assert codes(twin) == {"SG-DEDUP-001"}
        reason = twin.json()["reasons"][0]
        assert "diagram-agent" in reason["message"]
        assert reason["fix"] == "ask @diagram-agent instead of creating a new agent"


async def test_lifecycle_2_dedup_deny_refuses_and_off_lets_through(start: Start) -> None:
    async with start(dedup="deny") as c:
        assert (
            await c.post("/v1/create_agent", json=DIAGRAM, headers=bearer("analyst"))
        ).is_success
        twin = await c.post(
            "/v1/create_agent", json={**DIAGRAM, "name": "diagram-two"}, headers=bearer("analyst")
        )
        assert twin.status_code == 403, twin.json()
        assert codes(twin) == {"SG-DEDUP-001"}
        # Covered means every requested capability: asking for one more is not a duplicate.
        wider = await c.post(
            "/v1/create_agent",
            json={
                **DIAGRAM,
                "name": "media-all",
                "capabilities": ["diagram_generation", "image_generation"],
            },
            headers=bearer("analyst"),
        )
        assert wider.status_code == 201, wider.json()
        # A proposal with no capabilities is never a duplicate.
        plain = await c.post(
            "/v1/create_agent",
            json={"name": "plain-one", "template": "media-generator"},
            headers=bearer("analyst"),
        )
        assert "SG-DEDUP-001" not in codes(plain), plain.json()
    async with start(dedup="off") as c:
        assert (
            await c.post("/v1/create_agent", json=DIAGRAM, headers=bearer("analyst"))
        ).is_success
        twin = await c.post(
            "/v1/create_agent", json={**DIAGRAM, "name": "diagram-two"}, headers=bearer("analyst")
        )
        assert twin.status_code == 201, twin.json()


async def test_lifecycle_2_inactive_agents_neither_found_nor_covering(start: Start) -> None:
    async with start(create_inactive="true", dedup="deny") as c:
        first = await c.post("/v1/create_agent", json=DIAGRAM, headers=bearer("analyst"))
        assert first.status_code == 201, first.json()
        found = await search(c, capability="diagram_generation")
        assert found.json()["agents"] == []
        twin = await c.post(
            "/v1/create_agent", json={**DIAGRAM, "name": "diagram-two"}, headers=bearer("analyst")
        )
        assert twin.status_code == 201, twin.json()


async def test_lifecycle_2_search_by_tool_template_text_and_tenant_scope(start: Start) -> None:
    async with start(dedup="off") as c:
        assert (
            await c.post("/v1/create_agent", json=DIAGRAM, headers=bearer("analyst"))
        ).is_success
        paper = await c.post(
            "/v1/create_agent",
            json={
                "name": "paper-finder",
                "template": "researcher",
                "role": "finds papers",
                "capabilities": ["literature_review"],
            },
            headers=bearer("analyst"),
        )
        assert paper.status_code == 201, paper.json()

        def names(r: httpx.Response) -> list[str]:
            assert r.status_code == 200, r.json()
            return [a["name"] for a in r.json()["agents"]]

        assert names(await search(c, tool="mermaid")) == ["diagram-agent"]
        assert names(await search(c, template="researcher")) == ["paper-finder"]
        assert names(await search(c, q="PAPERS")) == ["paper-finder"]  # role, any case
        assert names(await search(c, q="diagram_gen")) == ["diagram-agent"]  # capability
        assert names(await search(c, q="zzz")) == []
        assert names(await search(c, tool="mermaid", template="researcher")) == []
        assert names(await search(c, who="alice", tool="mermaid")) == ["diagram-agent"]
        # Another tenant sees none of acme's agents, and is told what fits it.
        other = await search(c, who="globex", capability="literature_review")
        assert other.json() == {
            "agents": [],
            "suggestion": "Consider proposing a new agent with template: researcher",
        }
        # globex may not request kubernetes at all: no template is suggested.
        none = await search(c, who="globex", capability="kubernetes")
        assert none.json()["agents"] == []
        assert "ask a human" in none.json()["suggestion"]


async def test_lifecycle_2_search_is_authorized_and_validated(start: Start) -> None:
    async with start() as c:
        assert (await search(c, who="nobody", capability="x")).status_code == 401
        refused = await search(c, who="intern", capability="diagram_generation")
        assert refused.status_code == 403, refused.json()
        assert refused.json()["error"]["code"] == "not_authorized"
        bad = await search(c, limit="many")
        assert bad.status_code == 422 and "limit" in bad.json()["error"]["reason"]
        schema = (await c.get("/openapi.json")).json()
        op = schema["paths"]["/v1/agents/search"]["get"]
        assert {"200", "401", "403", "422", "503"} <= set(op["responses"])
        assert "DiscoveryAnswer" in str(op["responses"]["200"])


async def test_lifecycle_2_search_is_a_reserved_agent_name(start: Start) -> None:
    async with start() as c:
        r = await c.post(
            "/v1/create_agent", json={**DIAGRAM, "name": "search"}, headers=bearer("analyst")
        )
        assert r.status_code == 422, r.json()
        problems = r.json()["error"]["problems"]
        assert [p["field"] for p in problems] == ["name"], problems
        assert "reserved" in str(problems[0]), problems


async def test_lifecycle_2_justification_required_and_shown_to_approvers(
    start: Start, started: list[Settings], redis_url: str
) -> None:
    async with start(require_justification="true", approval_mode="always") as c:
        bare = {k: v for k, v in DIAGRAM.items() if k != "justification"}
        refused = await c.post("/v1/create_agent", json=bare, headers=bearer("analyst"))
        assert refused.status_code == 403, refused.json()
        assert codes(refused) == {"SG-DEDUP-002"}
        assert "'justification'" in refused.json()["reasons"][0]["message"]
        blank = await c.post(
            "/v1/create_agent", json={**bare, "justification": "   "}, headers=bearer("analyst")
        )
        assert codes(blank) == {"SG-DEDUP-002"}
        queued = await c.post("/v1/create_agent", json=DIAGRAM, headers=bearer("analyst"))
        assert queued.status_code == 202, queued.json()
        pending = await c.get("/v1/approvals", headers=bearer("alice"))
        assert pending.status_code == 200
        [item] = pending.json()
        assert item["request"]["justification"] == DIAGRAM["justification"]
        shown = await c.get(f"/v1/approvals/{item['id']}", headers=bearer("alice"))
        assert shown.json()["request"]["justification"] == DIAGRAM["justification"]
    settings = started[-1]
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "SPAWNGATE_REDIS_PREFIX": settings.redis_prefix,
        "SPAWNGATE_CONFIG_FILE": str(settings.config_file),
        "SPAWNGATE_DATA_DIR": str(settings.data_dir),
        "SPAWNGATE_API_KEY": "sg_demo_alice",
    }
    listed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gateway", "approvals", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert listed.returncode == 0, listed.stderr
    assert f"justification: {DIAGRAM['justification']}" in listed.stdout
