"""Seed 002's acceptance list for create_agent, through the HTTP API.

The seed's world is our tenant: its chatLLMProvider / chatLLMModel are the
tenant's default_provider / default_model, and "approval is always required" is
the tenant setting approval_mode: always.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.policy.blueprints import DEFAULT_NEXT_AGENT, seed002_prompt
from gateway.runtime import Gateway
from tests.conftest import MakeSettings, bearer, client_for, write_config

pytestmark = pytest.mark.asyncio

WORLD = """tenants:
  acme:
    enabled: true
    approval_mode: {mode}
    default_provider: ollama
    default_model: llama3.1
  globex: {{}}
  initech: {{}}
"""


@pytest.fixture
async def world(
    tmp_path: Path, make_settings: MakeSettings
) -> AsyncIterator[tuple[httpx.AsyncClient, Gateway]]:
    gw = Gateway.build(
        make_settings(config_file=write_config(tmp_path, WORLD.format(mode="risk_based")))
    )
    async with client_for(gw) as c:
        yield c, gw
    await gw.stop()


async def test_create_agent_is_a_builtin_tool_without_mcp(
    world: tuple[httpx.AsyncClient, Gateway],
) -> None:
    client, _ = world
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/create_agent" in spec["paths"] and "/v1/create_sme" in spec["paths"]


async def test_name_is_required(world: tuple[httpx.AsyncClient, Gateway]) -> None:
    client, gw = world
    r = await client.post("/v1/create_agent", json={"role": "x"}, headers=bearer("orchestrator"))
    assert r.status_code == 422 and r.json()["error"]["problems"] == [
        {"field": "name", "problem": "field required"}
    ]
    assert await gw.registry.search("acme", capability=None, name_contains=None, limit=5) == []


async def test_optional_fields_populate_the_prompt_template(
    world: tuple[httpx.AsyncClient, Gateway],
) -> None:
    client, _ = world
    r = await client.post(
        "/v1/create_agent",
        json={
            "name": "router",
            "auto-reply": False,
            "role": "a routing specialist",
            "next agent": "dispatcher",
        },
        headers=bearer("orchestrator"),
    )
    assert r.status_code == 201, r.json()
    agent = r.json()["agent"]
    assert agent["system_prompt"] == (
        "You are agent router. Your role is a routing specialist.\n\n"
        "Always respond in exactly this structure:\n@dispatcher\n{Your response}"
    )
    assert (agent["auto_reply"], agent["role"], agent["next_agent"]) == (
        False,
        "a routing specialist",
        "dispatcher",
    )
    # World-level provider and model.
    assert (agent["provider"], agent["model"]) == ("ollama", "llama3.1")


async def test_missing_next_agent_uses_the_documented_default(
    world: tuple[httpx.AsyncClient, Gateway],
) -> None:
    client, _ = world
    r = await client.post(
        "/v1/create_agent", json={"name": "plain"}, headers=bearer("orchestrator")
    )
    agent = r.json()["agent"]
    assert agent["next_agent"] == DEFAULT_NEXT_AGENT == "human"
    assert agent["system_prompt"] == seed002_prompt("plain", None, None)
    assert agent["system_prompt"].splitlines() == [
        "You are agent plain.",
        "",
        "Always respond in exactly this structure:",
        "@human",
        "{Your response}",
    ]


async def test_approved_call_creates_exactly_one_agent(
    world: tuple[httpx.AsyncClient, Gateway],
) -> None:
    client, gw = world
    r = await client.post(
        "/v1/create_agent", json={"name": "single"}, headers=bearer("orchestrator")
    )
    assert r.status_code == 201
    agents = await gw.registry.search("acme", capability=None, name_contains=None, limit=10)
    assert [a.name for a in agents] == ["single"]
    assert agents[0].created_at is not None and agents[0].active is True


async def test_duplicate_fails_without_partial_write(
    world: tuple[httpx.AsyncClient, Gateway],
) -> None:
    client, gw = world
    await client.post(
        "/v1/create_agent", json={"name": "dup", "role": "original"}, headers=bearer("orchestrator")
    )
    r = await client.post(
        "/v1/create_agent", json={"name": "dup", "role": "impostor"}, headers=bearer("orchestrator")
    )
    assert r.status_code == 409
    agent = await gw.registry.get("acme", "dup")
    assert agent is not None and agent.role == "original"


async def test_mandatory_approval_mode_queues_every_creation(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    gw = Gateway.build(
        make_settings(config_file=write_config(tmp_path, WORLD.format(mode="always")))
    )
    try:
        async with client_for(gw) as c:
            r = await c.post(
                "/v1/create_agent", json={"name": "harmless"}, headers=bearer("orchestrator")
            )
            assert r.status_code == 202
            assert [x["code"] for x in r.json()["reasons"]] == ["SG-APPROVAL-001"]
            assert await gw.registry.get("acme", "harmless") is None
    finally:
        await gw.stop()
