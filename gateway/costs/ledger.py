"""The cost ledger: estimated and actual cost of each tenant's swarm, in Redis.

Three things are kept (key names and scripts in gateway.storage.schema):

* the tenant's *active* agents with their estimated $/day, and their sum. An
  agent counts from its creation (``record_created``, called by the create
  stage) until its retirement (``record_retired``, for the retirement sweep and
  ephemeral expiry). The fact the cost rule compares with the tenant's limit
  (``input.swarm.active_cost_per_day``) is that sum plus the *holds* of the
  tenant's other admissions in flight (``hold``): read-then-create would let two
  admissions at once both pass under the limit. A hold ends when its agent is
  counted, or by ``release`` (denied, queued, failed), or at its expiry (a
  gateway that died mid-admission);
* per ISO day (UTC): agents spawned and retired, and the swarm's closing size
  and estimated $/day, written on each change (a day without a change carries
  the previous day's figures forward, see ``gateway.costs.swarm``);
* per ISO day: reported usage (tokens, actual $), for the tenant and per agent
  and per creator (the principal that created the agent), from
  ``record_usage``.

Both counting scripts are idempotent per agent name, so a repeated creation
(an approval resumed after a crash) or retirement changes nothing; the
reconciler puts the active set back in line with the registry
(``gateway.costs.rebuild``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import cast

from gateway.storage import schema
from gateway.storage.redis import RedisStore, redis_errors
from gateway.storage.schema import Keys

__all__ = ["DEFAULT_RETENTION_DAYS", "AgentDay", "CostLedger", "DayRow", "day_keys", "iso_day"]

#: Day figures are kept this long (a little over a year, for year-on-year reading).
DEFAULT_RETENTION_DAYS = 400
#: Top spenders listed per day.
TOP_SPENDERS = 5
#: Days read per round trip when looking back for the swarm's last closing figures.
_BATCH = 32


def iso_day(at: datetime | None = None) -> date:
    """The UTC day of ``at`` (now by default): days are UTC everywhere in the ledger."""
    return (at or datetime.now(UTC)).astimezone(UTC).date()


def day_keys(keys: Keys, tenant: str, day: date) -> list[str]:
    """The keys every change of the active set writes (as the scripts' KEYS)."""
    return [
        keys.cost_active(tenant),
        keys.cost_active_total(tenant),
        keys.cost_day(tenant, day.isoformat()),
        keys.cost_days(tenant),
    ]


@dataclass(frozen=True, slots=True)
class AgentDay:
    """An agent's (or creator's) usage of one day."""

    name: str
    cost: float
    tokens: int


@dataclass(frozen=True, slots=True)
class DayRow:
    """What Redis holds for one day; None for figures the day did not touch."""

    day: date
    spawned: int
    retired: int
    total: int | None
    estimated: float | None
    actual: float
    tokens: int
    reports: int
    top_agents: tuple[AgentDay, ...]
    top_creators: tuple[AgentDay, ...]


class CostLedger:
    def __init__(self, store: RedisStore, *, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        self._store = store
        self._keys = store.keys
        self._retention = retention_days
        self._created = store.client.register_script(schema.COST_CREATED)
        self._retired = store.client.register_script(schema.COST_RETIRED)
        self._usage = store.client.register_script(schema.COST_USAGE)
        self._hold = store.client.register_script(schema.COST_HOLD)

    def _day_keys(self, tenant: str, day: date) -> list[str]:
        return day_keys(self._keys, tenant, day)

    async def active_total(self, tenant: str) -> float:
        """Estimated $/day of the tenant's active agents (0 for a tenant with none)."""
        async with redis_errors(stage="policy"):
            raw = await self._store.client.get(self._keys.cost_active_total(tenant))
        return round(float(raw), 6) if raw else 0.0

    async def hold(
        self,
        tenant: str,
        decision_id: str,
        name: str,
        estimated_cost_per_day: float,
        *,
        seconds: float,
    ) -> float:
        """Hold this admission's cost for ``seconds`` at most; the tenant's active
        total plus the live holds of admissions of other agent names (what the cost
        rule adds to)."""
        now = time.time()
        async with redis_errors(stage="policy"):
            raw = await self._hold(
                keys=[self._keys.cost_active_total(tenant), self._keys.cost_held(tenant)],
                args=[decision_id, repr(float(estimated_cost_per_day)), now, now + seconds, name],
            )
        return round(float(raw), 6)

    async def release(self, tenant: str, decision_id: str) -> None:
        """End an admission's hold (denied, queued or failed); nothing if it has none."""
        async with redis_errors(stage="policy"):
            await self._store.client.hdel(self._keys.cost_held(tenant), decision_id)

    async def record_created(
        self,
        tenant: str,
        name: str,
        estimated_cost_per_day: float,
        *,
        at: datetime | None = None,
        decision_id: str = "",
    ) -> float:
        """Count a created agent against its tenant, ending its admission's hold;
        the tenant's total after."""
        day = iso_day(at)
        async with redis_errors(stage="create"):
            _, total = await self._created(
                keys=[*self._day_keys(tenant, day), self._keys.cost_held(tenant)],
                args=[
                    name,
                    repr(float(estimated_cost_per_day)),
                    day.isoformat(),
                    day.toordinal(),
                    self._retention,
                    decision_id,
                ],
            )
        return round(float(total), 6)

    async def record_retired(self, tenant: str, name: str, *, at: datetime | None = None) -> bool:
        """Stop counting a retired agent (retirement sweep, ephemeral expiry).

        Idempotent: False when the agent was not counted (already retired, or
        created before cost tracking). Redis failures raise DependencyUnavailable.
        """
        day = iso_day(at)
        async with redis_errors(stage="retire"):
            done, _ = await self._retired(
                keys=self._day_keys(tenant, day),
                args=[name, day.isoformat(), day.toordinal(), self._retention],
            )
        return bool(int(done))

    async def record_usage(
        self,
        tenant: str,
        agent: str,
        creator: str,
        *,
        tokens: int,
        cost: float,
        at: datetime | None = None,
    ) -> AgentDay:
        """Add one usage report; the agent's figures of that day so far."""
        day = iso_day(at)
        iso = day.isoformat()
        keys = self._keys
        async with redis_errors(stage="usage"):
            day_tokens, day_cost = await self._usage(
                keys=[
                    keys.cost_day(tenant, iso),
                    keys.cost_days(tenant),
                    keys.cost_day_spenders(tenant, iso, "agent", "cost"),
                    keys.cost_day_spenders(tenant, iso, "agent", "tokens"),
                    keys.cost_day_spenders(tenant, iso, "creator", "cost"),
                    keys.cost_day_spenders(tenant, iso, "creator", "tokens"),
                ],
                args=[
                    agent,
                    creator,
                    tokens,
                    repr(float(cost)),
                    iso,
                    day.toordinal(),
                    self._retention,
                ],
            )
        return AgentDay(name=agent, cost=round(float(day_cost), 6), tokens=int(float(day_tokens)))

    async def days(
        self, tenant: str, since: date, until: date
    ) -> tuple[tuple[int, float] | None, list[DayRow]]:
        """The swarm's size and estimate at the end of the last day before ``since``
        that changed it (to carry forward; None if none), and every day with figures
        from ``since`` to ``until``, oldest first."""
        client = self._store.client
        index = self._keys.cost_days(tenant)
        async with redis_errors(stage="costs"):
            inside = await client.zrangebyscore(index, since.toordinal(), until.toordinal())
            rows = [await self._row(tenant, date.fromisoformat(str(d))) for d in inside]
            return await self._closing_before(tenant, since), rows

    async def _closing_before(self, tenant: str, since: date) -> tuple[int, float] | None:
        # Days with usage only have no closing figures: walk back in batches.
        client = self._store.client
        index = self._keys.cost_days(tenant)
        below = since.toordinal() - 1
        while True:
            found = cast(
                list[tuple[str, float]],
                await client.zrevrangebyscore(
                    index, below, "-inf", start=0, num=_BATCH, withscores=True
                ),
            )
            if not found:
                return None
            async with client.pipeline(transaction=False) as pipe:
                for day, _ in found:
                    pipe.hmget(self._keys.cost_day(tenant, day), "total", "estimated")
                closings: list[list[str | None]] = await pipe.execute()
            for total, estimated in closings:
                if total is not None and estimated is not None:
                    return int(total), round(float(estimated), 6)
            below = int(found[-1][1]) - 1

    async def _row(self, tenant: str, day: date) -> DayRow:
        iso = day.isoformat()
        keys = self._keys
        async with self._store.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.cost_day(tenant, iso))
            for by in ("agent", "creator"):
                pipe.zrevrange(
                    keys.cost_day_spenders(tenant, iso, by, "cost"),
                    0,
                    TOP_SPENDERS - 1,
                    withscores=True,
                )
                pipe.zrange(
                    keys.cost_day_spenders(tenant, iso, by, "tokens"), 0, -1, withscores=True
                )
            fields, agent_cost, agent_tokens, creator_cost, creator_tokens = await pipe.execute()
        return DayRow(
            day=day,
            spawned=int(fields.get("spawned", 0)),
            retired=int(fields.get("retired", 0)),
            total=int(fields["total"]) if "total" in fields else None,
            estimated=round(float(fields["estimated"]), 6) if "estimated" in fields else None,
            actual=round(float(fields.get("actual", 0)), 6),
            tokens=int(fields.get("tokens", 0)),
            reports=int(fields.get("reports", 0)),
            top_agents=_spenders(agent_cost, agent_tokens),
            top_creators=_spenders(creator_cost, creator_tokens),
        )


def _spenders(
    by_cost: list[tuple[str, float]], by_tokens: list[tuple[str, float]]
) -> tuple[AgentDay, ...]:
    tokens = {name: int(score) for name, score in by_tokens}
    return tuple(
        AgentDay(name=name, cost=round(float(score), 6), tokens=tokens.get(name, 0))
        for name, score in by_cost
    )
