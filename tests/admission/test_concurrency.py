"""Races, for real: many concurrent requests against one real Redis."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from gateway.audit.log import RecordType
from gateway.runtime import Gateway
from tests.conftest import MakeSettings, bearer, client_for, write_config
from tests.support.narrow import redis_int

pytestmark = pytest.mark.asyncio

QUOTA = """tenants:
  acme:
    enabled: true
    quotas:
      per_agent: {{per_minute: {k}, per_hour: 1000, per_day: 1000}}
      per_tenant: {{per_minute: 1000, per_hour: 1000, per_day: 1000}}
      max_active_agents: 1000
    lineage: {{max_depth: 3, max_descendants_per_root: 1000, root_spawns_per_minute: 1000}}
  globex: {{}}
  initech: {{}}
"""


async def _gateway(tmp_path: Path, make_settings: MakeSettings, k: int) -> Gateway:
    return Gateway.build(make_settings(config_file=write_config(tmp_path, QUOTA.format(k=k))))


async def test_quota_race_lets_exactly_k_through(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    k = 7
    gw = await _gateway(tmp_path, make_settings, k)
    try:
        async with client_for(gw) as c:
            responses = await asyncio.gather(
                *(
                    c.post(
                        "/v1/create_agent", json={"name": f"w-{i}"}, headers=bearer("orchestrator")
                    )
                    for i in range(200)
                )
            )
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: k, 429: 200 - k}
        created = await gw.registry.search("acme", capability=None, name_contains=None, limit=500)
        assert len(created) == k
        decisions = [r for r in await gw.audit.read() if r.type is RecordType.DECISION]
        assert len(decisions) == 200
    finally:
        await gw.stop()


async def test_denied_requests_release_their_reservation(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    gw = await _gateway(tmp_path, make_settings, 3)
    try:
        async with client_for(gw) as c:
            # 20 concurrent requests that policy denies after the quota stage reserved a slot.
            denied = await asyncio.gather(
                *(
                    c.post(
                        "/v1/create_agent",
                        json={"name": f"d-{i}", "tools": ["vault"]},
                        headers=bearer("orchestrator"),
                    )
                    for i in range(20)
                )
            )
            statuses = Counter(r.status_code for r in denied)
            # Nothing gets through; how many reach policy depends on timing, because a
            # denied request's released slot can be taken by a later one in the burst.
            assert set(statuses) <= {403, 429}
            assert statuses[403] >= 3
            # Every reservation was given back: the full quota is still there.
            ok = [
                await c.post(
                    "/v1/create_agent", json={"name": f"ok-{i}"}, headers=bearer("orchestrator")
                )
                for i in range(4)
            ]
            assert [r.status_code for r in ok] == [201, 201, 201, 429]
    finally:
        await gw.stop()


async def test_duplicate_name_race_creates_exactly_one(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    gw = await _gateway(tmp_path, make_settings, 1000)
    try:
        async with client_for(gw) as c:
            responses = await asyncio.gather(
                *(
                    c.post(
                        "/v1/create_agent",
                        json={"name": "the-one", "role": f"variant {i}"},
                        headers=bearer("orchestrator"),
                    )
                    for i in range(50)
                )
            )
        assert Counter(r.status_code for r in responses) == {201: 1, 409: 49}
        winner = next(r for r in responses if r.status_code == 201).json()
        stored = await gw.registry.get("acme", "the-one")
        assert stored is not None and stored.decision_id == winner["decision_id"]
        assert stored.role == winner["agent"]["role"]
        outcomes = Counter(
            r.result["outcome"] for r in await gw.audit.read() if r.type is RecordType.OUTCOME
        )
        assert outcomes == {"created": 1, "denied": 49}
        # The 49 losers gave their quota back.
        counts = await gw.store.client.keys(
            gw.store.key("q", "agent:acme:acme-orchestrator", "minute", "*")
        )
        assert [redis_int(await gw.store.client.get(k)) for k in counts] == [1]
    finally:
        await gw.stop()


async def test_concurrent_idempotent_retries_create_once(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    headers = {**bearer("orchestrator"), "Idempotency-Key": "burst-1"}
    responses = await asyncio.gather(
        *(
            client.post("/v1/create_agent", json={"name": "retried"}, headers=headers)
            for _ in range(30)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    # One decides; the others either see it in flight (409) or replay its answer (201).
    assert statuses[201] >= 1 and statuses[201] + statuses[409] == 30
    ids = {r.json()["decision_id"] for r in responses if r.status_code == 201}
    assert len(ids) == 1
    assert (
        len(await gateway.registry.search("acme", capability=None, name_contains=None, limit=10))
        == 1
    )
