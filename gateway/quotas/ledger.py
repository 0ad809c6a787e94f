"""Quotas, swarm size and lineage limits, counted atomically in Redis.

One Lua script (``QUOTA_RESERVE``; every script and key name is in
``gateway.storage.schema``) checks every counter a request touches and, only if all are
under their limits, increments them all and sets window expiries in the same
step. A read-then-increment from Python lets concurrent requests slip past a
limit (64 of 200 through a limit of 10, measured); the script cannot, because
Redis runs it without interleaving. A request denied later in the pipeline
releases its reservation with the reverse script.

Windows are fixed (per minute / hour / day, aligned to the epoch) so that every
gateway replica derives the same key for the same moment. Window counters expire
with their window, so a slot leaked by a crash frees itself; the counters that
never expire (active agents, lineage descendants, totals) are "held" counters,
rebuilt from the registry by gateway.quotas.reconcile. So that a rebuild never takes
back a slot a request in flight holds, every reservation also leaves a lease
(a timestamped token beside each held counter) that lives ``lease_seconds``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gateway.config import TenantSettings
from gateway.errors import QuotaExceeded
from gateway.storage import schema
from gateway.storage.redis import RedisStore, redis_errors
from gateway.storage.schema import Keys, agent_scope, root_scope, tenant_scope

__all__ = ["Correction", "Counter", "QuotaLedger", "Reservation"]

_REBUILD_CHUNK = 500
#: Default lease: longer than any admission can take (scorer, registry, Redis timeouts).
DEFAULT_LEASE_SECONDS = 600.0

_WINDOWS = (("minute", 60), ("hour", 3600), ("day", 86400))


@dataclass(frozen=True, slots=True)
class Counter:
    #: Human name of the limit, reported in the 429: "agent per_minute", ...
    name: str
    key: str
    limit: int
    #: Seconds until the window ends; 0 for counters that never expire.
    ttl: int


@dataclass(frozen=True, slots=True)
class Reservation:
    counters: tuple[Counter, ...]
    counts: dict[str, int]
    #: Names this reservation's leases, so a release drops exactly them.
    token: str = field(default="")


@dataclass(frozen=True, slots=True)
class Correction:
    """A held counter the rebuild changed."""

    key: str
    before: int
    after: int


class QuotaLedger:
    def __init__(self, store: RedisStore, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self._store = store
        self.lease_seconds = lease_seconds
        self._reserve = store.client.register_script(schema.QUOTA_RESERVE)
        self._release = store.client.register_script(schema.QUOTA_RELEASE)
        self._rebuild = store.client.register_script(schema.QUOTA_REBUILD)

    def held_keys(self, *, tenant: str, principal: str, root: str) -> tuple[str, ...]:
        """The held counters one agent occupies: active, descendants, and both totals."""
        keys = self._store.keys
        return (
            keys.quota_held(tenant_scope(tenant), "active"),
            keys.quota_held(root_scope(tenant, root), "descendants"),
            keys.quota_held(tenant_scope(tenant), "total"),
            keys.quota_held(agent_scope(tenant, principal), "total"),
        )

    # Counter key names are the schema's; the reconciler reaches them through the ledger.
    lease_key = staticmethod(Keys.quota_lease)
    tenant_of = staticmethod(Keys.quota_tenant)
    is_held = staticmethod(Keys.quota_is_held)

    async def existing_held_keys(self) -> set[str]:
        """Every held counter in Redis (SCAN, so a large keyspace is not blocked)."""
        found: set[str] = set()
        async with redis_errors(stage="quota"):
            async for raw in self._store.client.scan_iter(
                match=self._store.keys.quotas(), count=1000
            ):
                name = str(raw)
                if self.is_held(name):
                    found.add(name)
        return found

    async def rebuild(
        self, floors: Mapping[str, int], *, now: float | None = None
    ) -> list[Correction]:
        """Set each held counter from its floor and live leases (see ``QUOTA_REBUILD``)."""
        now = time.time() if now is None else now
        keys = sorted(floors)
        out: list[Correction] = []
        for start in range(0, len(keys), _REBUILD_CHUNK):
            chunk = keys[start : start + _REBUILD_CHUNK]
            async with redis_errors(stage="quota"):
                changed = await self._rebuild(
                    keys=[*chunk, *(self.lease_key(k) for k in chunk)],
                    args=[repr(now), repr(self.lease_seconds), *(floors[k] for k in chunk)],
                )
            out += [Correction(str(k), int(b), int(a)) for k, b, a in changed]
        return out

    def counters(
        self,
        *,
        tenant: str,
        principal: str,
        root: str,
        settings: TenantSettings,
        now: float | None = None,
    ) -> list[Counter]:
        now = time.time() if now is None else now
        keys = self._store.keys
        out: list[Counter] = []
        scopes = (
            ("agent", agent_scope(tenant, principal), settings.quotas.per_agent),
            ("tenant", tenant_scope(tenant), settings.quotas.per_tenant),
        )
        for scope, ident, limits in scopes:
            for window, seconds in _WINDOWS:
                limit = getattr(limits, f"per_{window}")
                if limit is None:
                    continue
                bucket = int(now // seconds)
                remaining = max(1, int((bucket + 1) * seconds - now))
                out.append(
                    Counter(
                        f"{scope} per_{window}",
                        keys.quota_window(ident, window, bucket),
                        limit,
                        remaining,
                    )
                )
            if limits.total is not None:
                out.append(
                    Counter(f"{scope} total", keys.quota_held(ident, "total"), limits.total, 0)
                )
        out.append(
            Counter(
                "tenant max_active_agents",
                keys.quota_held(tenant_scope(tenant), "active"),
                settings.quotas.max_active_agents,
                0,
            )
        )
        lineage = settings.lineage
        out.append(
            Counter(
                "lineage max_descendants_per_root",
                keys.quota_held(root_scope(tenant, root), "descendants"),
                lineage.max_descendants_per_root,
                0,
            )
        )
        bucket = int(now // 60)
        out.append(
            Counter(
                "lineage root_spawns_per_minute",
                keys.quota_window(root_scope(tenant, root), "minute", bucket),
                lineage.root_spawns_per_minute,
                max(1, int((bucket + 1) * 60 - now)),
            )
        )
        return out

    async def reserve(self, counters: Sequence[Counter]) -> Reservation:
        token = uuid.uuid4().hex
        args: list[int | str] = []
        for c in counters:
            args.extend((c.limit, c.ttl))
        args.extend((repr(time.time()), repr(self.lease_seconds), token))
        leases = [self.lease_key(c.key) for c in counters if c.ttl == 0 and self.is_held(c.key)]
        async with redis_errors(stage="quota"):
            result = await self._reserve(keys=[*(c.key for c in counters), *leases], args=args)
        status = int(result[0])
        if status != 0:
            hit = counters[status - 1]
            ttl = int(result[1])
            if hit.ttl == 0:
                reason = (
                    f"{hit.name} limit of {hit.limit} reached; it frees up only when "
                    "agents are retired"
                )
                retry_after = 3600
            else:
                retry_after = max(1, ttl if ttl > 0 else hit.ttl)
                reason = f"{hit.name} limit of {hit.limit} reached; retry in {retry_after}s"
            raise QuotaExceeded(reason, limit=hit.name, retry_after=retry_after)
        counts = {c.name: int(v) for c, v in zip(counters, result[1:], strict=True)}
        return Reservation(counters=tuple(counters), counts=counts, token=token)

    async def release(self, reservation: Reservation) -> None:
        keys = [c.key for c in reservation.counters]
        leases = [self.lease_key(k) for k in keys if self.is_held(k)]
        async with redis_errors(stage="quota"):
            await self._release(keys=[*keys, *leases], args=[len(keys), reservation.token])

    async def release_keys(self, keys: tuple[str, ...]) -> None:
        """Give back a queued request's slots; its leases (if still live) age out."""
        async with redis_errors(stage="quota"):
            await self._release(keys=list(keys), args=[len(keys), ""])
