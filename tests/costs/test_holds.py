"""Admissions in flight hold their cost: the cost rule cannot be passed twice at once.

The cost rule (SG-APPROVAL-004) adds this agent's estimate to the tenant's
total; read-then-create would let simultaneous admissions each see the total
without the others and all pass under the limit. Real gateway, real embedded
Redis, concurrent requests through the HTTP API.
"""

from __future__ import annotations

import asyncio

import httpx

from gateway.runtime import Gateway
from tests.conftest import bearer


async def create(client: httpx.AsyncClient, name: str, cost: float) -> httpx.Response:
    body = {"name": name, "estimated_cost_per_day": cost}
    return await client.post("/v1/create_agent", json=body, headers=bearer("orchestrator"))


async def holds(gateway: Gateway, tenant: str = "acme") -> dict[str, str]:
    raw = await gateway.store.client.hgetall(gateway.store.keys.cost_held(tenant))
    return {str(k): str(v) for k, v in raw.items()}


async def test_simultaneous_admissions_cannot_all_pass_under_the_limit(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    # acme's limit is 10 $/day (config/demo.yaml): two agents of 4 fit, a third does not.
    answers = await asyncio.gather(*(create(client, f"burst-{i}", 4) for i in range(8)))
    codes = sorted(a.status_code for a in answers)
    created = codes.count(201)
    assert 1 <= created <= 2 and codes.count(202) == 8 - created, codes
    for answer in answers:
        if answer.status_code == 202:
            assert "SG-APPROVAL-004" in {r["code"] for r in answer.json()["reasons"]}
    assert await gateway.costs.ledger.active_total("acme") == 4 * created
    # Every hold ended: counted with its agent, or released when queued.
    assert await holds(gateway) == {}


async def test_a_burst_for_one_name_holds_its_cost_once(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    # One name makes at most one agent: 8 requests for it at once are not 8 x 4
    # above the limit of 10, they are one agent and 7 name conflicts.
    answers = await asyncio.gather(*(create(client, "only-one", 4) for _ in range(8)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) == 1 and codes.count(409) == 7, codes
    assert await gateway.costs.ledger.active_total("acme") == 4
    assert await holds(gateway) == {}


async def test_a_denied_admission_leaves_no_hold(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    denied = await client.post(
        "/v1/create_agent",
        json={"name": "shell-user", "capabilities": ["no-such-capability"]},
        headers=bearer("orchestrator"),
    )
    assert denied.status_code == 403, denied.json()
    assert await holds(gateway) == {}


async def test_a_live_hold_counts_and_an_expired_one_does_not(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    ledger = gateway.costs.ledger
    # Another replica's admission in flight, holding 9 $/day.
    assert await ledger.hold("acme", "dec_elsewhere", "other", 9, seconds=600) == 0
    held = await create(client, "while-held", 4)
    assert held.status_code == 202, held.json()
    message = {r["code"]: r["message"] for r in held.json()["reasons"]}["SG-APPROVAL-004"]
    assert "would be 13 $/day" in message
    await ledger.release("acme", "dec_elsewhere")
    # A gateway that died mid-admission: its hold stops counting at its expiry.
    await ledger.hold("acme", "dec_dead", "dead", 9, seconds=0)
    after = await create(client, "after-expiry", 4)
    assert after.status_code == 201, after.json()
    assert "dec_dead" not in await holds(gateway)
