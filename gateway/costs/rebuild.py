"""Putting a tenant's active cost set back in line with the registry.

The create stage counts an agent's estimated cost after the agent exists; if
that write fails (Redis down for a moment), the agent is live and not counted,
and the cost rule (SG-APPROVAL-004) under-counts the tenant for good: fewer
reviews than the limit asks for. Agents created before cost tracking are
missing the same way. The reconciler (``gateway.quotas.reconcile``) fixes both
with ``CostRebuilder``: a ``snapshot`` of the set, read *before* the registry
is listed, then ``rebuild`` from the listing, one Lua script per chunk
(``COST_REBUILD`` in gateway.storage.schema).

Why the snapshot comes first: the create stage counts an agent only after the
registry has it, so an entry present before the listing belongs to an agent
the listing must show unless it was removed since. An entry the listing lacks
is taken off only if it still holds the snapshot's cost; one counted after the
snapshot is never touched. Agents are only added where missing (a creation
counted meanwhile is left alone), and only a registry that lists every agent
may have entries removed, as for the quota counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from gateway.costs.ledger import DEFAULT_RETENTION_DAYS, day_keys, iso_day
from gateway.storage import schema
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["CostCorrection", "CostRebuilder"]

#: Agents added or removed per script call: bounded arguments per call.
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class CostCorrection:
    """A tenant's active set the reconciler changed."""

    tenant: str
    added: int
    removed: int
    #: The tenant's estimated $/day before and after.
    before: float
    after: float


class CostRebuilder:
    def __init__(self, store: RedisStore, *, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        self._store = store
        self._retention = retention_days
        self._rebuild = store.client.register_script(schema.COST_REBUILD)

    async def snapshot(self, tenant: str) -> dict[str, str]:
        """The tenant's active set as stored (name -> cost text)."""
        async with redis_errors(stage="reconcile"):
            raw = await self._store.client.hgetall(self._store.keys.cost_active(tenant))
        return {str(k): str(v) for k, v in raw.items()}

    async def rebuild(
        self,
        tenant: str,
        agents: Mapping[str, float],
        before: Mapping[str, str],
        *,
        remove: bool,
        at: datetime | None = None,
    ) -> CostCorrection | None:
        """Count each of ``agents`` (the registry's: name -> estimated $/day) that
        ``before`` lacks; with ``remove``, stop counting those ``before`` has and
        the registry does not. None when nothing changed."""
        adds = [(n, repr(float(c))) for n, c in sorted(agents.items()) if n not in before]
        drops = sorted((n, c) for n, c in before.items() if n not in agents) if remove else []
        day = iso_day(at)
        keys = day_keys(self._store.keys, tenant, day)
        tail: list[str | int] = [day.isoformat(), day.toordinal(), self._retention]
        added = removed = 0
        first: str | None = None
        last = "0"
        for start in range(0, max(len(adds), len(drops)), _CHUNK):
            chunk = adds[start : start + _CHUNK]
            args: list[str | int] = [len(chunk)]
            for name, cost in (*chunk, *drops[start : start + _CHUNK]):
                args += [name, cost]
            async with redis_errors(stage="reconcile"):
                a, r, was, now = await self._rebuild(keys=keys, args=[*args, *tail])
            added, removed = added + int(a), removed + int(r)
            first = str(was) if first is None else first
            last = str(now)
        if not added and not removed:
            return None
        return CostCorrection(
            tenant, added, removed, round(float(first or 0), 6), round(float(last), 6)
        )
