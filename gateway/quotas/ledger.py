"""Quotas, swarm size and lineage limits, counted atomically in Redis.

One Lua script checks every counter a request touches and, only if all are
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
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["Correction", "Counter", "QuotaLedger", "Reservation"]

# KEYS: n counter keys, then the lease keys of the held ones among them.
# ARGV: limit_1, ttl_1, ..., limit_n, ttl_n, now, lease seconds, lease token.
# Returns {0, count_1, count_2, ...} on success, or {i, ttl_i} with the 1-based
# index of the first counter at its limit.
_RESERVE = """
local n = (#ARGV - 3) / 2
local now = tonumber(ARGV[2 * n + 1])
local lease = tonumber(ARGV[2 * n + 2])
for i = 1, n do
  local limit = tonumber(ARGV[2 * i - 1])
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if current + 1 > limit then
    local ttl = redis.call('TTL', KEYS[i])
    return {i, ttl}
  end
end
local out = {0}
for i = 1, n do
  local ttl = tonumber(ARGV[2 * i])
  local value = redis.call('INCR', KEYS[i])
  if ttl > 0 and value == 1 then
    redis.call('EXPIRE', KEYS[i], ttl)
  end
  out[#out + 1] = value
end
for j = n + 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[j], '-inf', now - lease)
  redis.call('ZADD', KEYS[j], now, ARGV[2 * n + 3])
  redis.call('EXPIRE', KEYS[j], math.ceil(lease) + 1)
end
return out
"""

# Undo a reservation: decrement each counter that still exists and is positive
# (a window that expired meanwhile has nothing to give back), and drop its lease.
# KEYS: n counter keys, then lease keys. ARGV: n, lease token.
_RELEASE = """
local n = tonumber(ARGV[1])
for i = 1, n do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if current > 0 then
    redis.call('DECR', KEYS[i])
  end
end
for j = n + 1, #KEYS do
  redis.call('ZREM', KEYS[j], ARGV[2])
end
return 1
"""

# Rebuild held counters in one atomic step. KEYS: n counter keys, then their n
# lease keys. ARGV: now, lease seconds, floor_1 .. floor_n, where a floor is the
# slots the registry and the approval queue show as held. A counter above its
# floor plus its live leases is lowered to that; one below its floor is raised.
# Returns {key, before, after} for each counter it changed.
_REBUILD = """
local n = #KEYS / 2
local now = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local out = {}
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[n + i], '-inf', now - lease)
  local live = redis.call('ZCARD', KEYS[n + i])
  local floor = tonumber(ARGV[2 + i])
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  local target = current
  if current > floor + live then
    target = floor + live
  elseif current < floor then
    target = floor
  end
  if target ~= current then
    redis.call('SET', KEYS[i], target)
    out[#out + 1] = {KEYS[i], current, target}
  end
end
return out
"""

#: The last part of every held (never expiring) counter key.
HELD_SUFFIXES = ("active", "descendants", "total")
_LEASE_SUFFIX = "leases"
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
        self._reserve = store.client.register_script(_RESERVE)
        self._release = store.client.register_script(_RELEASE)
        self._rebuild = store.client.register_script(_REBUILD)

    def held_keys(self, *, tenant: str, principal: str, root: str) -> tuple[str, ...]:
        """The held counters one agent occupies: active, descendants, and both totals."""
        key = self._store.key
        return (
            key("q", f"tenant:{tenant}", "active"),
            key("q", f"root:{tenant}:{root}", "descendants"),
            key("q", f"tenant:{tenant}", "total"),
            key("q", f"agent:{tenant}:{principal}", "total"),
        )

    @staticmethod
    def lease_key(counter_key: str) -> str:
        return f"{counter_key}:{_LEASE_SUFFIX}"

    @staticmethod
    def tenant_of(counter_key: str) -> str:
        """The tenant in a counter key: <prefix>:q:<scope>:<tenant>[:...] ("" if none)."""
        parts = counter_key.split(":")
        return parts[3] if len(parts) > 4 and parts[2] in ("tenant", "root", "agent") else ""

    @staticmethod
    def is_held(counter_key: str) -> bool:
        return counter_key.rsplit(":", 1)[-1] in HELD_SUFFIXES

    async def existing_held_keys(self) -> set[str]:
        """Every held counter in Redis (SCAN, so a large keyspace is not blocked)."""
        found: set[str] = set()
        async with redis_errors(stage="quota"):
            async for raw in self._store.client.scan_iter(
                match=self._store.key("q", "*"), count=1000
            ):
                name = str(raw)
                if self.is_held(name):
                    found.add(name)
        return found

    async def rebuild(
        self, floors: Mapping[str, int], *, now: float | None = None
    ) -> list[Correction]:
        """Set each held counter from its floor and live leases (see ``_REBUILD``)."""
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
        key = self._store.key
        out: list[Counter] = []
        scopes = (
            ("agent", f"agent:{tenant}:{principal}", settings.quotas.per_agent),
            ("tenant", f"tenant:{tenant}", settings.quotas.per_tenant),
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
                        key("q", ident, window, str(bucket)),
                        limit,
                        remaining,
                    )
                )
            if limits.total is not None:
                out.append(Counter(f"{scope} total", key("q", ident, "total"), limits.total, 0))
        out.append(
            Counter(
                "tenant max_active_agents",
                key("q", f"tenant:{tenant}", "active"),
                settings.quotas.max_active_agents,
                0,
            )
        )
        lineage = settings.lineage
        out.append(
            Counter(
                "lineage max_descendants_per_root",
                key("q", f"root:{tenant}:{root}", "descendants"),
                lineage.max_descendants_per_root,
                0,
            )
        )
        bucket = int(now // 60)
        out.append(
            Counter(
                "lineage root_spawns_per_minute",
                key("q", f"root:{tenant}:{root}", "minute", str(bucket)),
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
