"""MCP over streamable HTTP at /mcp, through the SDK's own client against `spawngate serve`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp import types
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from tests.fronts.mcp.conftest import http_session
from tests.fronts.mcp.live import LiveGateway

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def _structured(result: types.CallToolResult | Any) -> dict[str, Any]:
    assert isinstance(result, types.CallToolResult)
    body = result.structured_content
    assert isinstance(body, dict)
    return body


def _schemas(listed: types.ListToolsResult) -> dict[str, dict[str, Any]]:
    return {tool.name: tool.input_schema for tool in listed.tools}


def test_no_key_or_an_unknown_key_is_401(live: LiveGateway) -> None:
    bare = httpx.post(f"{live.base_url}/mcp", json=INITIALIZE, headers=MCP_HEADERS, timeout=10)
    assert bare.status_code == 401
    assert bare.json()["error"]["code"] == "unauthenticated"
    assert bare.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = httpx.post(
        f"{live.base_url}/mcp",
        json=INITIALIZE,
        headers={**MCP_HEADERS, "Authorization": "Bearer sg_nobody"},
        timeout=10,
    )
    assert wrong.status_code == 401


async def test_each_caller_sees_only_what_it_may_use(live: LiveGateway) -> None:
    async with http_session(live.base_url, "orchestrator") as acme:
        acme_tools = _schemas(await acme.list_tools())
    async with http_session(live.base_url, "globex") as globex:
        globex_tools = _schemas(await globex.list_tools())

    assert set(acme_tools) == {
        "create_agent",
        "create_sme",
        "search_agents",
        "request_status",
        "list_templates",
    }
    # Casbin denies globex's orchestrators general agents: the tool is not offered.
    assert set(globex_tools) == set(acme_tools) - {"create_agent"}

    acme_sme, globex_sme = acme_tools["create_sme"], globex_tools["create_sme"]
    # Templates: globex's allowlist (policies/spawngate/templates/data.yaml).
    assert globex_sme["properties"]["template"]["enum"] == [
        "default",
        "general-assistant",
        "researcher",
    ]
    assert {"devops", "code-specialist"} <= set(acme_sme["properties"]["template"]["enum"])
    # Capabilities: globex may not request infrastructure ones.
    globex_caps = set(globex_sme["properties"]["capabilities"]["items"]["enum"])
    acme_caps = set(acme_sme["properties"]["capabilities"]["items"]["enum"])
    assert "kubernetes" in acme_caps and "kubernetes" not in globex_caps
    assert "literature_review" in globex_caps
    # Tools: each its own toolset (agent-creating tools only where a template passes them).
    assert "kubectl" in acme_sme["properties"]["tools"]["items"]["enum"]
    assert "kubectl" not in globex_sme["properties"]["tools"]["items"]["enum"]
    # The rest of the schema is the HTTP body's: the same required fields.
    assert globex_sme["required"] == ["name", "expertise"]


async def test_an_allowed_creation_returns_the_agent(live: LiveGateway) -> None:
    async with http_session(live.base_url, "orchestrator") as session:
        result = await session.call_tool(
            "create_agent",
            {
                "name": "mcp-paper-finder",
                "template": "researcher",
                "capabilities": ["literature_review"],
            },
        )
        assert isinstance(result, types.CallToolResult) and not result.is_error
        body = _structured(result)
        assert body["outcome"] == "created" and body["verdict"] == "allow"
        assert body["agent"]["id"] == "acme/mcp-paper-finder"
        assert body["decision_id"]
        assert isinstance(result.content[0], types.TextContent)
        assert "created" in result.content[0].text

        found = _structured(
            await session.call_tool("search_agents", {"capability": "literature_review"})
        )
        assert "mcp-paper-finder" in [a["name"] for a in found["agents"]]


async def test_a_call_outside_the_schema_is_decided_and_denied_with_reasons(
    live: LiveGateway,
) -> None:
    async with http_session(live.base_url, "orchestrator") as session:
        result = await session.call_tool(
            "create_agent", {"name": "mcp-rogue", "tools": ["vault"], "template": "nowhere"}
        )
    assert isinstance(result, types.CallToolResult) and result.is_error
    body = _structured(result)
    assert body["outcome"] == "denied" and body["decision_id"]
    codes = {r["code"] for r in body["reasons"]}
    assert {"SG-TPL-001", "SG-TOOLS-001"} <= codes
    assert all(r.get("fix") for r in body["reasons"] if r["code"].startswith("SG-"))
    # A hidden tool is still answered by policy, not by the front.
    async with http_session(live.base_url, "globex") as globex:
        hidden = await globex.call_tool("create_agent", {"name": "mcp-general"})
    assert isinstance(hidden, types.CallToolResult) and hidden.is_error
    assert _structured(hidden)["outcome"] == "denied"
    assert _structured(hidden)["error"]["code"] == "not_authorized"


async def test_queued_request_status_and_templates(live: LiveGateway) -> None:
    async with http_session(live.base_url, "orchestrator") as session:
        queued = _structured(
            await session.call_tool(
                "create_agent",
                {"name": "mcp-deployer", "template": "devops", "capabilities": ["kubernetes"]},
            )
        )
        assert queued["outcome"] == "pending_approval", queued
        status = _structured(
            await session.call_tool("request_status", {"request_id": queued["request_id"]})
        )
        assert status["state"] == "pending"
        templates = _structured(await session.call_tool("list_templates", {}))
        assert "devops" in [t["name"] for t in templates["templates"]]
        missing = await session.call_tool("request_status", {"request_id": "nope"})
        assert isinstance(missing, types.CallToolResult) and missing.is_error
        assert _structured(missing)["error"]["code"] == "not_found"


async def test_bad_calls_are_protocol_errors(live: LiveGateway) -> None:
    async with http_session(live.base_url, "orchestrator") as session:
        with pytest.raises(MCPError) as unknown:
            await session.call_tool("delete_everything", {})
        assert unknown.value.code == INVALID_PARAMS
        with pytest.raises(MCPError) as wrong:
            await session.call_tool("request_status", {"wait": "soon"})
        assert wrong.value.code == INVALID_PARAMS
