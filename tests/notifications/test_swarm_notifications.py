"""Swarm notifications through the public interfaces: the HTTP API, a real local
webhook receiver, the real embedded Redis, and a gateway restarted on it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from gateway.config import load_config
from gateway.runtime import Gateway
from tests.conftest import MakeSettings, bearer, client_for, write_config
from tests.support.narrow import bound_port

SECRET = "swarm-webhook-secret"
CONFIG = """tenants:
  acme:
    enabled: true
    dedup: "off"
    notifications:
      channels: {{community: "#agents", human: "@lead"}}
      webhooks:
        - {{url: "{url}", channel: "#agents"}}
  globex: {{enabled: true}}
  initech: {{}}
"""
AGENT = {"name": "paper-finder", "template": "researcher", "capabilities": ["literature_review"]}


@dataclass
class Receiver:
    """A webhook endpoint that refuses its first ``refusals`` deliveries (all if None)."""

    refusals: int | None = 0
    posts: list[tuple[bytes, str]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)

    async def take(self, request: web.Request) -> web.Response:
        self.posts.append((await request.read(), request.headers["X-Spawngate-Signature"]))
        if self.refusals is None or len(self.posts) <= self.refusals:
            return web.json_response({}, status=503)
        self.accepted.append(json.loads(self.posts[-1][0]))
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


async def until(check: Callable[[], bool], what: str) -> None:
    """Wait for background delivery (a generous bound, not a timing assertion)."""
    for _ in range(300):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def build(tmp_path: Path, make_settings: MakeSettings, url: str, **extra: Any) -> Gateway:
    settings = make_settings(
        config_file=write_config(tmp_path, CONFIG.format(url=url)),
        webhook_secret=SECRET,
        notification_backoff_seconds=0.01,
        **extra,
    )
    return Gateway.build(settings)


async def create(gw: Gateway, body: dict[str, Any] = AGENT) -> httpx.Response:
    async with client_for(gw) as c:
        return await c.post("/v1/create_agent", json=body, headers=bearer("orchestrator"))


async def stream(gw: Gateway, key: str) -> list[dict[str, str]]:
    raw: Any = await gw.store.client.xrange(key)
    return [dict(fields) for _, fields in raw]


async def test_creation_sends_a_signed_webhook_and_an_event_to_the_tenant_stream(
    tmp_path: Path, make_settings: MakeSettings, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    gw = build(tmp_path, make_settings, url)
    await gw.start()
    try:
        r = await create(gw)
        assert r.status_code == 201, r.json()
        await until(lambda: bool(target.accepted), "the webhook arrives")
        body, header = target.posts[0]
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(header, f"sha256={expected}")
        event = json.loads(body)
        assert event["event"] == "created" and event["tenant"] == "acme"
        assert (
            event["agent"]["name"] == "paper-finder" and event["agent"]["id"] == "acme/paper-finder"
        )
        assert event["decision_id"] == r.json()["decision_id"] and event["id"].startswith("evt_")
        assert event["channel"] == "#agents" and event["channels"]["human"] == "@lead"
        # Any consumer can read the tenant's stream (XREAD).
        read: Any = await gw.store.client.xread({gw.store.keys.swarm_events("acme"): "0"})
        [(_, entries)] = read
        [(_, fields)] = entries
        streamed = json.loads(fields["event"])
        assert streamed["event"] == "created" and streamed["id"] == event["id"]
        assert await stream(gw, gw.store.keys.swarm_outbox()) == []
    finally:
        await gw.stop()


async def test_a_failing_receiver_gets_the_event_once_after_retries(
    tmp_path: Path, make_settings: MakeSettings, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    target.refusals = 2
    gw = build(tmp_path, make_settings, url, notification_attempts=5)
    await gw.start()
    try:
        assert (await create(gw)).status_code == 201
        await until(lambda: bool(target.accepted), "the webhook is accepted")
    finally:
        await gw.stop()
    assert len(target.posts) == 3 and len(target.accepted) == 1
    assert len({json.loads(body)["id"] for body, _ in target.posts}) == 1
    assert await stream(gw, gw.store.keys.swarm_dead_letters()) == []


async def test_a_receiver_that_always_fails_ends_in_the_dead_letters(
    tmp_path: Path, make_settings: MakeSettings, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    target.refusals = None
    gw = build(tmp_path, make_settings, url, notification_attempts=3)
    await gw.start()
    try:
        assert (await create(gw)).status_code == 201
        dead_key = gw.store.keys.swarm_dead_letters()
        dead: list[dict[str, str]] = []

        async def poll() -> None:
            for _ in range(300):
                dead[:] = await stream(gw, dead_key)
                if dead:
                    return
                await asyncio.sleep(0.05)

        await poll()
        assert len(dead) == 1 and dead[0]["url"] == url and dead[0]["attempts"] == "3"
        assert json.loads(dead[0]["body"])["agent"]["name"] == "paper-finder"
        assert "503" in dead[0]["error"]
        assert len(target.posts) == 3
        assert await stream(gw, gw.store.keys.swarm_outbox()) == []
        # Admins of the tenant read them over HTTP; auditors and other tenants may not.
        async with client_for(gw) as c:
            path = "/v1/notifications/dead-letters"
            letters = await c.get(path, headers=bearer("carol"))
            assert letters.status_code == 200, letters.json()
            [letter] = letters.json()
            assert letter["url"] == url and letter["attempts"] == 3
            assert letter["body"]["agent"]["name"] == "paper-finder"
            assert (await c.get(path, headers=bearer("bob"))).status_code == 403
            elsewhere = await c.get(path, params={"tenant": "globex"}, headers=bearer("carol"))
            assert elsewhere.status_code == 403
            assert (await c.get(path)).status_code == 401
    finally:
        await gw.stop()
    # Operators see it with the CLI.
    settings = gw.settings
    env = {
        **os.environ,
        "SPAWNGATE_DATA_DIR": str(tmp_path / "cli-data"),
        "SPAWNGATE_CONFIG_FILE": str(settings.config_file),
        "SPAWNGATE_REDIS_PREFIX": settings.redis_prefix,
        "REDIS_URL": settings.redis_url.get_secret_value() if settings.redis_url else "",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gateway", "notifications", "dead-letters", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [letter] = [json.loads(line) for line in done.stdout.splitlines()]
    assert letter["tenant"] == "acme" and letter["body"]["event"] == "created"


async def test_undelivered_events_are_delivered_after_a_restart(
    tmp_path: Path, make_settings: MakeSettings, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    target.refusals = None
    settings_dir = tmp_path
    first = build(settings_dir, make_settings, url, notification_attempts=1000)
    await first.start()
    try:
        assert (await create(first)).status_code == 201
        await until(lambda: bool(target.posts), "a first attempt")
    finally:
        await first.stop()
    refused_id = json.loads(target.posts[0][0])["id"]
    target.refusals = 0
    target.posts.clear()
    second = Gateway.build(first.settings)
    await second.start()
    try:
        await until(lambda: bool(target.accepted), "delivery after the restart")
    finally:
        await second.stop()
    assert [e["id"] for e in target.accepted] == [refused_id]


async def test_approval_and_denial_of_reviewed_proposals_are_announced(
    tmp_path: Path, make_settings: MakeSettings, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    gw = build(tmp_path, make_settings, url)
    try:
        async with client_for(gw) as c:
            ids = []
            for name in ("costly", "refused"):
                r = await c.post(
                    "/v1/create_agent",
                    json={"name": name, "estimated_cost_per_day": 12},
                    headers=bearer("orchestrator"),
                )
                assert r.status_code == 202, r.json()
                ids.append(r.json()["request_id"])
            approve = await c.post(
                f"/v1/approvals/{ids[0]}/approve", json={}, headers=bearer("alice")
            )
            assert approve.status_code == 200, approve.json()
            deny = await c.post(f"/v1/approvals/{ids[1]}/deny", json={}, headers=bearer("alice"))
            assert deny.status_code == 200, deny.json()
        await gw.notifier.aclose()  # the denial is published in the background
        events = [
            json.loads(f["event"]) for f in await stream(gw, gw.store.keys.swarm_events("acme"))
        ]
        assert [(e["event"], e["agent"]["name"]) for e in events] == [
            ("approved", "costly"),
            ("created", "costly"),
            ("denied", "refused"),
        ]
        assert events[0]["request_id"] == ids[0] and events[2]["detail"]["decided_by"] == "alice"
    finally:
        await gw.stop()


@pytest.mark.parametrize(
    ("url", "production"),
    [
        ("http://hooks.example.com/x", False),
        ("http://127.0.0.1:9000/x", True),
        ("ftp://hooks.example.com/x", False),
        ("not a url", False),
    ],
)
def test_an_invalid_webhook_url_is_refused_at_load(
    tmp_path: Path, url: str, production: bool
) -> None:
    path = write_config(tmp_path, CONFIG.format(url=url))
    with pytest.raises(ValueError, match=r"(?s)tenant 'acme'.*notifications\.webhooks\.0\.url"):
        load_config(path, production=production)


@pytest.mark.parametrize(
    ("url", "production"),
    [("https://hooks.example.com/x", True), ("http://localhost:8000/x", False)],
)
def test_https_and_loopback_http_outside_production_are_accepted(
    tmp_path: Path, url: str, production: bool
) -> None:
    config = load_config(write_config(tmp_path, CONFIG.format(url=url)), production=production)
    [hook] = config.tenant_settings("acme").notifications.webhooks
    assert hook.url == url and hook.channel == "#agents"
