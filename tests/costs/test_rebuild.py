"""The reconciler puts each tenant's active cost set back in line with the registry.

A creation whose cost could not be counted (Redis refusing the write after the
agent exists) leaves the tenant's total short for good without it, so the cost
rule would ask for fewer reviews than the limit says. Real gateway, real
embedded Redis, the HTTP API to create and the reconciler the runtime builds.
"""

from __future__ import annotations

import httpx

from gateway.audit.record import RecordType
from gateway.costs.rebuild import CostCorrection, CostRebuilder
from gateway.runtime import Gateway
from tests.conftest import bearer


async def create(client: httpx.AsyncClient, name: str, cost: float) -> httpx.Response:
    body = {"name": name, "estimated_cost_per_day": cost}
    return await client.post("/v1/create_agent", json=body, headers=bearer("orchestrator"))


async def test_an_agent_whose_cost_was_not_counted_is_counted_by_the_reconciler(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    ledger, redis = gateway.costs.ledger, gateway.store.client
    active = gateway.store.keys.cost_active("acme")
    assert (await create(client, "first", 4)).status_code == 201
    # The counting write fails after the agent exists: the set is not a hash.
    await redis.delete(active)
    await redis.set(active, "not a hash")
    assert (await create(client, "second", 3)).status_code == 201
    assert await ledger.active_total("acme") == 4  # short by the second agent
    await redis.delete(active)  # Redis works again; the set lost both entries

    report = await gateway.reconciler.run_once()

    assert report.cost_corrections == (CostCorrection("acme", 2, 0, 4.0, 7.0),)
    assert await ledger.active_total("acme") == 7
    record = [r async for r in gateway.audit.records() if r.type is RecordType.RECONCILE][-1]
    assert record.result["cost_corrections"] == [
        {"tenant": "acme", "added": 2, "removed": 0, "before": 4.0, "after": 7.0}
    ]
    # Nothing left to correct: the next run changes nothing.
    assert (await gateway.reconciler.run_once()).cost_corrections == ()


async def test_an_entry_for_an_agent_the_registry_lacks_is_removed(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    ledger = gateway.costs.ledger
    assert (await create(client, "real", 2)).status_code == 201
    await ledger.record_created("acme", "ghost", 5)
    assert await ledger.active_total("acme") == 7

    report = await gateway.reconciler.run_once()

    assert report.cost_corrections == (CostCorrection("acme", 0, 1, 7.0, 2.0),)
    assert await ledger.active_total("acme") == 2


async def test_an_entry_counted_after_the_snapshot_is_never_taken_off(gateway: Gateway) -> None:
    ledger, rebuilder = gateway.costs.ledger, CostRebuilder(gateway.store)
    await ledger.record_created("acme", "early", 1)
    before = await rebuilder.snapshot("acme")
    # Counted after the snapshot (a creation in flight that the listing missed),
    # and "early" recounted with another cost since: neither is removed.
    await ledger.record_created("acme", "late", 2)
    await ledger.record_retired("acme", "early")
    await ledger.record_created("acme", "early", 4)

    assert await rebuilder.rebuild("acme", {}, before, remove=True) is None
    assert await ledger.active_total("acme") == 6
    # An entry the registry has and the set already holds is not added twice.
    assert await rebuilder.rebuild("acme", {"late": 2}, {}, remove=False) is None
    assert await ledger.active_total("acme") == 6


async def test_a_registry_that_may_cut_its_listing_short_never_removes(gateway: Gateway) -> None:
    ledger, rebuilder = gateway.costs.ledger, CostRebuilder(gateway.store)
    await ledger.record_created("acme", "unlisted", 3)
    before = await rebuilder.snapshot("acme")
    assert await rebuilder.rebuild("acme", {"listed": 1.5}, before, remove=False) == (
        CostCorrection("acme", 1, 0, 3.0, 4.5)
    )
    assert await ledger.active_total("acme") == 4.5
