"""The app's lifespan runs the gateway's background work through the runtime:
started with the app, stopped (tasks, then connections) when it ends."""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from gateway.fronts.http.app import create_app
from gateway.runtime import Gateway
from gateway.settings import PROJECT_ROOT
from tests.conftest import MakeSettings, bearer
from tests.support.narrow import bound_port


@pytest.fixture
async def sink() -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
    """A local decision-log sink: the events it was sent, and its URL."""
    events: list[dict[str, Any]] = []

    async def upload(request: web.Request) -> web.Response:
        raw = await request.read()
        events.extend(json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/logs", upload)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield events, f"http://127.0.0.1:{bound_port(site)}/logs"
    await runner.cleanup()


async def eventually(condition: Callable[[], bool], *, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def background_tasks() -> set[str]:
    return {t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("spawngate-")}


async def test_lifespan_starts_and_stops_the_background_work(
    make_settings: MakeSettings, sink: tuple[list[dict[str, Any]], str], tmp_path: Path
) -> None:
    events, url = sink
    policies = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "policies", policies)
    settings = make_settings(
        policies_dir=policies,
        decision_log_sink_url=url,
        decision_log_ship_seconds=0.05,
        policy_reload_seconds=0.05,
        approval_sweep_seconds=0.05,
        reconcile_seconds=0.05,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        gw: Gateway = app.state.gateway
        assert gw.running
        assert background_tasks() == {
            "spawngate-policy-reload",
            "spawngate-decision-log-shipping",
            "spawngate-approval-sweep",
            "spawngate-reconcile",
            "spawngate-settings-overrides",
            "spawngate-retirement-sweep",
            "spawngate-ttl-expiry",
            "spawngate-drift-audit",
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post(
                "/v1/create_agent", json={"name": "shipped"}, headers=bearer("orchestrator")
            )
            assert r.status_code == 201, r.json()
        # Nobody calls the shipper: the running gateway ships the decision by itself.
        decision_id = r.json()["decision_id"]
        await eventually(lambda: decision_id in {e["decision_id"] for e in events})
        # ... and picks up a changed policy file by itself.
        before = gw.policy.current.revision
        rego = policies / "spawngate" / "cost" / "cost.rego"
        rego.write_text(rego.read_text() + "\n# reviewed\n")
        await eventually(lambda: gw.policy.current.revision != before)
    assert not gw.running
    assert background_tasks() == set()


async def test_settings_choose_the_background_tasks(make_settings: MakeSettings) -> None:
    # No reload, no sink, no schedule: only the approval recovery pass at start, which ends.
    gw = Gateway.build(
        make_settings(
            policy_reload_seconds=0,
            approval_sweep_seconds=0,
            reconcile_seconds=0,
            retirement_sweep_seconds=0,
            expiry_sweep_seconds=0,
            drift_audit_seconds=0,
        )
    )
    async with gw:
        assert gw.running and background_tasks() <= {"spawngate-approval-sweep"}
        await gw.start()  # a second start starts nothing more
        await eventually(lambda: background_tasks() == set())
    assert not gw.running
    await gw.stop()  # a second stop does nothing
    with pytest.raises(RuntimeError):
        await gw.start()


async def test_a_given_gateway_is_left_to_its_owner(gateway: Gateway) -> None:
    app = create_app(gateway=gateway)
    async with app.router.lifespan_context(app):
        assert not gateway.running and background_tasks() == set()
    # Still open: the app did not stop it.
    assert await gateway.readiness() == {"redis": True, "policy": True}
