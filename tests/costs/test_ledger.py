"""The cost ledger's guarantees, through the gateway's own ledger and real Redis."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from gateway.runtime import Gateway


async def test_an_agent_counts_once_and_leaves_no_residue(gateway: Gateway) -> None:
    ledger = gateway.costs.ledger
    assert await ledger.active_total("acme") == 0
    assert await ledger.record_created("acme", "a", 0.1) == 0.1
    # A repeated creation (a resumed approval) does not count twice.
    assert await ledger.record_created("acme", "a", 0.1) == 0.1
    assert await ledger.record_created("acme", "b", 0.2) == 0.3
    assert await ledger.record_retired("acme", "a") is True
    assert await ledger.record_retired("acme", "b") is True
    # Float sums never leave 5.5e-17 behind once the swarm is empty.
    assert await ledger.active_total("acme") == 0
    assert await ledger.record_retired("acme", "never-counted") is False
    assert await ledger.active_total("globex") == 0


async def test_usage_is_kept_per_day_agent_and_creator(gateway: Gateway) -> None:
    costs = gateway.costs
    yesterday = datetime.now(UTC) - timedelta(days=1)
    await costs.ledger.record_created("acme", "old", 2, at=yesterday)
    await costs.ledger.record_usage("acme", "old", "orc", tokens=7, cost=0.7, at=yesterday)
    await costs.ledger.record_usage("acme", "new", "orc2", tokens=3, cost=0.9)
    report = await costs.figures("acme", days=2)
    first, second = report.days
    assert first.day == yesterday.date() and (first.spawned, first.total) == (1, 1)
    assert [s.name for s in first.top_spenders] == ["old"]
    assert (second.spawned, second.total, second.estimated_cost) == (0, 1, 2)
    assert [(s.name, s.cost, s.tokens) for s in second.top_creators] == [("orc2", 0.9, 3)]
    # A range that starts after the last change still carries it.
    later = await costs.figures("acme", days=1, until=date.today() + timedelta(days=30))
    assert (later.days[0].total, later.days[0].estimated_cost) == (1, 2)
