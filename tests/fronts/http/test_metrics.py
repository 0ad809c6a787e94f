"""/metrics: Prometheus text that parses, counters that move with decisions, access rules."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from gateway.fronts.http.app import create_app
from gateway.runtime import Gateway
from tests.conftest import MakeSettings, bearer

pytestmark = pytest.mark.asyncio

RESEARCHER = {"name": "m-paper", "template": "researcher", "capabilities": ["literature_review"]}


def _client(gw: Gateway, host: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(gateway=gw), client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def _samples(c: httpx.AsyncClient) -> list[Sample]:
    r = await c.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(r.text) for s in family.samples]


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def test_decisions_move_the_counters_by_outcome_and_tenant(gateway: Gateway) -> None:
    async with _client(gateway) as c:
        before = await _samples(c)
        created = await c.post("/v1/create_agent", json=RESEARCHER, headers=bearer("orchestrator"))
        assert created.status_code == 201, created.json()
        queued = await c.post(
            "/v1/create_agent",
            json={"name": "m-ops", "template": "devops", "capabilities": ["kubernetes"]},
            headers=bearer("orchestrator"),
        )
        assert queued.status_code == 202, queued.json()
        unknown = await c.post("/v1/create_agent", json=RESEARCHER, headers=bearer("sg_nobody"))
        assert unknown.status_code == 401
        after = await _samples(c)

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    decisions = "spawngate_decisions_total"
    assert moved(decisions, outcome="created", verdict="allow", tenant="acme", kind="agent") == 1
    assert moved(decisions, outcome="pending_approval", verdict="review", tenant="acme") == 1
    # An unknown caller mints no tenant label: it is counted under "none".
    assert moved(decisions, outcome="denied", tenant="none") == 1
    assert {s.labels["tenant"] for s in after if s.name == decisions} <= {"acme", "none"}
    # Every stage that ran was timed; the created request ran all of them.
    assert moved("spawngate_stage_duration_seconds_count", stage="create") == 1
    assert moved("spawngate_stage_duration_seconds_count", stage="policy") == 2
    assert moved("spawngate_danger_score_count") == 2
    assert moved("spawngate_decision_duration_seconds_count") == 3
    # Three decision records (the unknown caller's attempt too) and one outcome record.
    assert moved("spawngate_audit_write_duration_seconds_count") == 4
    # Read from Redis at scrape time: the queued request is pending.
    assert _value(after, "spawngate_approvals_pending", tenant="acme") == 1
    assert _value(after, "spawngate_approvals_oldest_age_seconds") >= 0
    revision = gateway.policy.current.revision
    assert _value(after, "spawngate_policy_revision_info", revision=revision) == 1


async def test_a_failed_dependency_is_counted_as_failing_closed(
    make_settings: MakeSettings,
) -> None:
    gw = Gateway.build(
        make_settings(
            registry="http", registry_url="http://127.0.0.1:9", registry_timeout_seconds=0.5
        )
    )
    try:
        async with _client(gw) as c:
            r = await c.post("/v1/create_agent", json=RESEARCHER, headers=bearer("orchestrator"))
            assert r.status_code == 502
            samples = await _samples(c)
        assert _value(samples, "spawngate_dependency_failures_total", dependency="registry") == 1
        assert _value(samples, "spawngate_decisions_total", outcome="failed", tenant="acme") == 1
    finally:
        await gw.stop()


async def test_quota_refusals_are_counted(make_settings: MakeSettings, tmp_path: object) -> None:
    gw = Gateway.build(make_settings())
    try:
        async with _client(gw) as c:
            statuses = []
            # The demo tenant allows a handful of creations per agent and minute.
            for i in range(40):
                body = {**RESEARCHER, "name": f"m-burst-{i}"}
                r = await c.post("/v1/create_agent", json=body, headers=bearer("orchestrator"))
                statuses.append(r.status_code)
                if r.status_code == 429:
                    break
            assert 429 in statuses, statuses
            samples = await _samples(c)
        assert _value(samples, "spawngate_quota_rejections_total", tenant="acme") == 1
    finally:
        await gw.stop()


async def test_metrics_are_for_loopback_unless_opened(
    gateway: Gateway, make_settings: MakeSettings
) -> None:
    async with _client(gateway, host="203.0.113.9") as remote:
        r = await remote.get("/metrics")
        assert r.status_code == 403
        assert "SPAWNGATE_METRICS_ACCESS" in r.json()["error"]["reason"]
    opened = Gateway.build(make_settings(metrics_access="open"))
    off = Gateway.build(make_settings(metrics_access="off"))
    try:
        async with _client(opened, host="203.0.113.9") as remote:
            assert (await remote.get("/metrics")).status_code == 200
        async with _client(off) as local:
            assert (await local.get("/metrics")).status_code == 404
    finally:
        await opened.stop()
        await off.stop()
