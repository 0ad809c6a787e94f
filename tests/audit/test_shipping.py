"""Shipping the decision log: a sink outage followed by recovery delivers every record once."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from gateway.audit.shipping import Shipper, SinkFailed
from gateway.runtime import Gateway
from tests.conftest import bearer, client_for
from tests.support.narrow import bound_port


class Sink:
    """A local HTTP endpoint taking OPA decision-log uploads (stand-in for a log sink)."""

    def __init__(self) -> None:
        self.up = True
        self.events: list[dict[str, Any]] = []
        self.batches = 0

    async def upload(self, request: web.Request) -> web.Response:
        if not self.up:
            return web.json_response({"error": "down"}, status=503)
        assert request.headers["content-encoding"] == "gzip"
        raw = await request.read()
        # aiohttp may already have undone the gzip encoding.
        self.events.extend(json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw))
        self.batches += 1
        return web.json_response({})


@pytest.fixture
async def sink() -> AsyncIterator[tuple[Sink, str]]:
    target = Sink()
    app = web.Application()
    app.router.add_post("/logs", target.upload)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = bound_port(site)
    yield target, f"http://127.0.0.1:{port}/logs"
    await runner.cleanup()


async def test_outage_then_recovery_delivers_each_record_exactly_once(
    gateway: Gateway, sink: tuple[Sink, str]
) -> None:
    target, url = sink
    shipper = Shipper(gateway.store, url, batch=7)
    try:
        async with client_for(gateway) as c:
            for i in range(10):
                await c.post(
                    "/v1/create_agent", json={"name": f"s-{i}"}, headers=bearer("orchestrator")
                )
            assert await shipper.ship_once() == 7
            target.up = False
            for i in range(10, 15):
                await c.post(
                    "/v1/create_agent", json={"name": f"s-{i}"}, headers=bearer("orchestrator")
                )
            for _ in range(3):
                with pytest.raises(SinkFailed):
                    await shipper.ship_once()
            target.up = True
        while await shipper.ship_once():
            pass
        records = await gateway.audit.read()
        ids = Counter(e["decision_id"] for e in target.events)
        # 15 decisions (5 of them over the per-minute quota) and 10 creation outcomes.
        assert len(target.events) == len(records) == 25
        assert set(ids.values()) == {1}
        decisions = [e for e in target.events if e["spawngate"]["type"] == "decision"]
        assert {e["decision_id"] for e in decisions} == {
            r.decision_id for r in records if r.type.value == "decision"
        }
        first = decisions[0]
        assert {"decision_id", "path", "input", "result", "bundles", "timestamp"} <= set(first)
        assert first["input"]["request"]["name"] == "s-0"  # OPA's input: the policy input
        assert await shipper.ship_once() == 0  # caught up
    finally:
        await shipper.aclose()


async def test_one_replica_ships_at_a_time(gateway: Gateway, sink: tuple[Sink, str]) -> None:
    target, url = sink
    async with client_for(gateway) as c:
        await c.post("/v1/create_agent", json={"name": "solo"}, headers=bearer("orchestrator"))
    first, second = Shipper(gateway.store, url), Shipper(gateway.store, url)
    try:
        assert await first.ship_once() == 2
        assert await second.ship_once() == 0  # the lease is the first one's
        assert len(target.events) == 2
    finally:
        await first.aclose()
        await second.aclose()


async def _eventually(check: Callable[[], bool]) -> None:
    for _ in range(500):  # 10 s
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def test_run_backs_off_while_the_sink_is_down_and_starts_over_after(
    gateway: Gateway, sink: tuple[Sink, str], caplog: pytest.LogCaptureFixture
) -> None:
    target, url = sink
    target.up = False
    async with client_for(gateway) as c:
        await c.post("/v1/create_agent", json={"name": "b-0"}, headers=bearer("orchestrator"))
    shipper = Shipper(gateway.store, url)

    def pauses() -> list[str]:
        return [r.getMessage() for r in caplog.records if "shipping paused" in r.getMessage()]

    task = asyncio.create_task(shipper.run(0.5))
    try:
        with caplog.at_level(logging.WARNING, logger="spawngate.shipping"):
            await _eventually(lambda: len(pauses()) >= 2)
            target.up = True  # the pass in flight retries after its 1 s backoff, and ships
            await _eventually(lambda: len(target.events) >= 2)
            target.up = False
            async with client_for(gateway) as c:
                await c.post(
                    "/v1/create_agent", json={"name": "b-1"}, headers=bearer("orchestrator")
                )
            await _eventually(lambda: len(pauses()) >= 3)
    finally:
        task.cancel()
        await asyncio.wait([task])
        await shipper.aclose()
    # Doubling from the interval (0.5 s, 1 s, ...), and from the interval again after a success.
    waits = [p.split("retrying in ")[1].split(":")[0] for p in pauses()[:3]]
    assert waits == ["0s", "1s", "0s"]
    assert "decision log sink answered 503" in pauses()[0]
