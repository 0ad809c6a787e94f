"""Signed callbacks: retried with backoff, each failure logged, given up after N attempts."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from gateway.approvals.webhooks import SIGNATURE_HEADER, Notifier, signature
from tests.support.narrow import bound_port, some

SECRET = "webhook-retry-secret"


@dataclass
class Receiver:
    """A callback endpoint that refuses its first ``refusals`` deliveries."""

    refusals: int = 0
    seen: list[tuple[bytes, str]] = field(default_factory=list)

    async def take(self, request: web.Request) -> web.Response:
        self.seen.append((await request.read(), request.headers[SIGNATURE_HEADER]))
        if len(self.seen) <= self.refusals:
            return web.json_response({}, status=503)
        return web.json_response({})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    target = Receiver()
    app = web.Application()
    app.router.add_post("/hook", target.take)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield target, f"http://127.0.0.1:{bound_port(site)}/hook"
    await runner.cleanup()


async def test_a_refused_callback_is_retried_until_accepted(
    receiver: tuple[Receiver, str], caplog: pytest.LogCaptureFixture
) -> None:
    target, url = receiver
    target.refusals = 2
    notifier = Notifier(SECRET, attempts=4)
    try:
        with caplog.at_level(logging.WARNING, logger="spawngate.webhooks"):
            assert await some(notifier.notify(url, {"state": "created"})) is True
    finally:
        await notifier.aclose()
    assert len(target.seen) == 3
    body, sent = target.seen[-1]
    assert hmac.compare_digest(sent, signature(SECRET, body))
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [f"callback {url} answered 503"] * 2


async def test_a_callback_is_given_up_after_its_attempts(
    receiver: tuple[Receiver, str], caplog: pytest.LogCaptureFixture
) -> None:
    target, url = receiver
    target.refusals = 99
    notifier = Notifier(SECRET, attempts=3)
    try:
        with caplog.at_level(logging.WARNING, logger="spawngate.webhooks"):
            assert await some(notifier.notify(url, {"state": "denied"})) is False
    finally:
        await notifier.aclose()
    assert len(target.seen) == 3
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        *[("WARNING", f"callback {url} answered 503")] * 3,
        ("ERROR", f"callback {url} given up after 3 attempts"),
    ]


async def test_an_unreachable_callback_logs_each_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Port 9 (discard) on loopback: nothing listens, every attempt fails to connect.
    url = "http://127.0.0.1:9/hook"
    notifier = Notifier(SECRET, attempts=2)
    try:
        with caplog.at_level(logging.WARNING, logger="spawngate.webhooks"):
            assert await some(notifier.notify(url, {"state": "x"})) is False
    finally:
        await notifier.aclose()
    messages = [r.getMessage() for r in caplog.records]
    assert [m.startswith(f"callback {url} failed: ") for m in messages] == [True, True, False]
    assert messages[-1] == f"callback {url} given up after 2 attempts"


async def test_nothing_is_sent_without_a_secret() -> None:
    notifier = Notifier(None)
    try:
        assert notifier.notify("http://127.0.0.1:9/hook", {"state": "x"}) is None
    finally:
        await notifier.aclose()
