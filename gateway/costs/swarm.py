"""The swarm figures: the ADR's daily table of one tenant, from the cost ledger.

One row per ISO day (UTC) of the range, every day present: agents spawned and
retired that day, the swarm's size and estimated $/day at the end of the day,
the actual $ and tokens reported that day, and the top spenders (agents, and
the creators of the agents). A day on which the swarm did not change carries
the size and estimate of the last day that did (from before the range too).
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, Field

from gateway.costs.ledger import AgentDay, CostLedger, DayRow

__all__ = ["Spender", "SwarmDay", "SwarmReport", "swarm_report"]


class Spender(BaseModel):
    name: str = Field(description="The agent (or, in top_creators, the creating principal)")
    cost: float = Field(description="Actual $ reported that day")
    tokens: int


class SwarmDay(BaseModel):
    day: date = Field(description="ISO day, UTC")
    spawned: int = Field(description="Agents created that day")
    retired: int = Field(description="Agents retired that day")
    total: int = Field(description="Active agents at the end of the day")
    estimated_cost: float = Field(description="Estimated $/day of the active agents")
    actual_cost: float = Field(description="Actual $ reported that day")
    tokens: int = Field(description="Tokens reported that day")
    usage_reports: int
    top_spenders: list[Spender] = Field(description="Agents by actual $ that day, highest first")
    top_creators: list[Spender] = Field(description="Creators by their agents' actual $")


class SwarmReport(BaseModel):
    """``GET /v1/metrics/swarm``: one tenant's daily table, oldest day first."""

    tenant: str
    since: date
    until: date
    max_cost_per_day: float = Field(description="The tenant's limit; above it a human approves")
    active_estimated_cost: float = Field(description="Estimated $/day of the active agents now")
    days: list[SwarmDay]


def _spenders(found: tuple[AgentDay, ...]) -> list[Spender]:
    return [Spender(name=s.name, cost=s.cost, tokens=s.tokens) for s in found]


async def swarm_report(
    ledger: CostLedger, tenant: str, *, until: date, days: int, max_cost_per_day: float
) -> SwarmReport:
    since = until - timedelta(days=days - 1)
    earlier, rows = await ledger.days(tenant, since, until)
    by_day: dict[date, DayRow] = {row.day: row for row in rows}
    total, estimated = earlier if earlier is not None else (0, 0.0)
    out: list[SwarmDay] = []
    for offset in range(days):
        day = since + timedelta(days=offset)
        row = by_day.get(day)
        if row is not None and row.total is not None:
            total = row.total
        if row is not None and row.estimated is not None:
            estimated = row.estimated
        out.append(
            SwarmDay(
                day=day,
                spawned=row.spawned if row else 0,
                retired=row.retired if row else 0,
                total=total,
                estimated_cost=estimated,
                actual_cost=row.actual if row else 0.0,
                tokens=row.tokens if row else 0,
                usage_reports=row.reports if row else 0,
                top_spenders=_spenders(row.top_agents) if row else [],
                top_creators=_spenders(row.top_creators) if row else [],
            )
        )
    return SwarmReport(
        tenant=tenant,
        since=since,
        until=until,
        max_cost_per_day=max_cost_per_day,
        active_estimated_cost=await ledger.active_total(tenant),
        days=out,
    )
