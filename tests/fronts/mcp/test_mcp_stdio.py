"""``spawngate mcp --stdio``: the SDK's stdio client starts it as a host would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp import ClientSession, StdioServerParameters, stdio_client, types

from tests.conftest import DEMO
from tests.fronts.mcp.live import LiveGateway


@asynccontextmanager
async def stdio_session(live: LiveGateway, who: str) -> AsyncIterator[ClientSession]:
    # The same Redis and prefix as the module's `spawngate serve`: one gateway, two fronts.
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "gateway", "mcp", "--stdio"],
        env={**live.env, "SPAWNGATE_API_KEY": DEMO[who]},
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def _body(result: Any) -> dict[str, Any]:
    assert isinstance(result, types.CallToolResult)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def test_stdio_narrows_per_key_creates_and_denies_with_reasons(live: LiveGateway) -> None:
    async with stdio_session(live, "orchestrator") as acme, stdio_session(live, "globex") as globex:
        acme_tools = {t.name: t.input_schema for t in (await acme.list_tools()).tools}
        globex_tools = {t.name: t.input_schema for t in (await globex.list_tools()).tools}
        assert "create_agent" in acme_tools and "create_agent" not in globex_tools
        assert (
            acme_tools["create_sme"]["properties"]["template"]["enum"]
            != globex_tools["create_sme"]["properties"]["template"]["enum"]
        )

        created = await acme.call_tool(
            "create_sme",
            {"name": "stdio-scholar", "expertise": "citations", "template": "researcher"},
        )
        assert isinstance(created, types.CallToolResult) and not created.is_error, created
        assert _body(created)["agent"]["id"] == "acme/stdio-scholar"

        denied = await globex.call_tool(
            "create_sme",
            {"name": "stdio-ops", "expertise": "clusters", "capabilities": ["kubernetes"]},
        )
        assert isinstance(denied, types.CallToolResult) and denied.is_error
        body = _body(denied)
        assert body["outcome"] == "denied"
        assert "SG-CAP-001" in {r["code"] for r in body["reasons"]}

    # The HTTP front sees what the stdio one created: the same gateway state.
    async with httpx.AsyncClient(base_url=live.base_url, timeout=10) as http:
        shown = await http.get(
            "/v1/agents/stdio-scholar",
            headers={"Authorization": f"Bearer {DEMO['orchestrator']}"},
        )
    assert shown.status_code == 200 and shown.json()["name"] == "stdio-scholar"


def test_stdio_refuses_to_start_without_a_known_key(live: LiveGateway) -> None:
    unknown = subprocess.run(
        [sys.executable, "-m", "gateway", "mcp", "--stdio"],
        env={**live.env, "SPAWNGATE_API_KEY": "sg_nobody"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert unknown.returncode == 2
    assert "unauthenticated" in unknown.stderr and unknown.stdout == ""
    missing = subprocess.run(
        [sys.executable, "-m", "gateway", "mcp", "--stdio"],
        env={k: v for k, v in live.env.items() if k != "SPAWNGATE_API_KEY"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert missing.returncode == 2 and "SPAWNGATE_API_KEY" in missing.stderr
