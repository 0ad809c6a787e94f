"""The built-in registry: agents kept in Redis, so the embedded default needs nothing else.

A creation whose answer is lost must not create an agent behind the caller's
back. Redis may apply a script the gateway already gave up on: a frozen (or
merely slow) server runs it when it wakes up, and a server killed after the
fsync but before the answer keeps it. Three guards, each for what the one
before cannot cover:

1. Deadline. The creation carries the moment the client stops waiting (now plus
   the client's own timeout) and refuses to run later than that, by the Redis
   server's clock (``TIME``). The two clocks are compared, so skew matters: a
   Redis clock ahead of the gateway's refuses creations early (a visible 503,
   nothing created: fail closed); one behind lets a late creation through by
   up to the skew, which the next guards catch. Keep clocks synchronised (NTP).
2. Abandon. On any answer that leaves it unknown whether the script ran (a
   timeout, a connection lost after sending), the gateway abandons the creation:
   one script removes the agent only if it carries this decision id and leaves
   a tombstone so that the creation, should it still arrive, is refused. It is
   retried for a few seconds (``ABANDON_SECONDS``); the error then says whether
   the creation was ``rolled_back`` or is ``indeterminate``.
3. Reconcile. An indeterminate creation may have left an agent; the reconciler
   (gateway.quotas.reconcile) removes any agent whose decision's outcome is not
   ``created`` and records what it removed.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from gateway.errors import Conflict, DependencyError, DependencyUnavailable
from gateway.registry.base import INDETERMINATE, ROLLED_BACK, AgentFilter, AgentRecord
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["ABANDON_SECONDS", "BuiltinRegistry"]

logger = logging.getLogger("spawngate.registry")

#: How long an unconfirmed creation is retried being abandoned.
ABANDON_SECONDS = 6.0
#: How long a tombstone refuses a late creation: far beyond any queued command.
_TOMBSTONE_SECONDS = 24 * 3600

# KEYS: record key, names index, tombstone, capability index keys...
# ARGV: record json, name, decision id, deadline (ms since the epoch), capabilities...
# Register only if the name is free, and index it in the same atomic step, so
# that of N concurrent requests for one name exactly one is created.
# Returns 1 created, 0 name taken, 2 already created by this decision (a
# repeated call), -1 too late (the caller gave up), -2 abandoned.
_CREATE = """
redis.replicate_commands()
if redis.call('EXISTS', KEYS[3]) == 1 then
  return -2
end
local existing = redis.call('GET', KEYS[1])
if existing then
  if cjson.decode(existing)['decision_id'] == ARGV[3] then
    return 2
  end
  return 0
end
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(ARGV[4]) then
  return -1
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
for i = 3, #ARGV - 2 do
  redis.call('SADD', KEYS[i + 1], ARGV[2])
end
return 1
"""

# KEYS: record key, names index, tombstone, capability index keys...
# ARGV: name, decision id, tombstone ttl. Leaves the tombstone; removes the agent
# (and its index entries) only if it is this decision's. Returns 1 if removed.
_ABANDON = """
redis.call('SET', KEYS[3], '1', 'EX', ARGV[3])
local existing = redis.call('GET', KEYS[1])
if not existing or cjson.decode(existing)['decision_id'] ~= ARGV[2] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
for i = 4, #KEYS do
  redis.call('SREM', KEYS[i], ARGV[1])
end
return 1
"""


class BuiltinRegistry:
    name = "builtin"
    lists_every_agent = True

    def __init__(self, store: RedisStore, *, abandon_seconds: float = ABANDON_SECONDS) -> None:
        self._store = store
        self._create = store.client.register_script(_CREATE)
        self._abandon = store.client.register_script(_ABANDON)
        self._abandon_seconds = abandon_seconds
        # The deadline is the client's own: how long it waits for an answer.
        kwargs = store.client.connection_pool.connection_kwargs
        self._timeout = float(kwargs.get("socket_timeout") or 5.0)

    def _agent_key(self, tenant: str, name: str) -> str:
        return self._store.key("reg", tenant, "agent", name)

    def _names_key(self, tenant: str) -> str:
        return self._store.key("reg", tenant, "names")

    def _cap_key(self, tenant: str, capability: str) -> str:
        return self._store.key("reg", tenant, "cap", capability)

    def _keys(self, record: AgentRecord) -> list[str]:
        return [
            self._agent_key(record.tenant, record.name),
            self._names_key(record.tenant),
            self._store.key("reg", record.tenant, "abandoned", record.decision_id),
            *(self._cap_key(record.tenant, c) for c in record.capabilities),
        ]

    async def create(self, record: AgentRecord) -> AgentRecord:
        deadline_ms = int((time.time() + self._timeout) * 1000)
        args: list[str | int] = [
            record.model_dump_json(),
            record.name,
            record.decision_id,
            deadline_ms,
            *record.capabilities,
        ]
        try:
            async with redis_errors(stage="create"):
                created = int(await self._create(keys=self._keys(record), args=args))
        except DependencyUnavailable as exc:
            if not isinstance(exc.__cause__, RedisTimeoutError | RedisConnectionError):
                raise  # Redis refused the script: it did not run
            raise await self._unconfirmed(record, exc) from exc
        if created in (1, 2):
            return record
        if created == 0:
            raise Conflict(
                f"an agent named '{record.name}' already exists in tenant '{record.tenant}'",
                code="duplicate_agent",
                stage="create",
            )
        why = "redis answered too late" if created == -1 else "the creation was abandoned"
        raise DependencyUnavailable(why, dependency="redis", stage="create")

    async def _unconfirmed(self, record: AgentRecord, cause: DependencyError) -> DependencyError:
        """Abandon a creation that may or may not have run; say which it came to."""
        try:
            removed = await self.abandon(record)
        except DependencyError as exc:
            logger.error(
                "creation %s of %s is indeterminate: abandoning it failed (%s); "
                "the reconciler removes the agent if it exists",
                record.decision_id,
                record.id,
                exc.reason,
            )
            return DependencyUnavailable(
                f"{cause.reason}; the creation could not be confirmed or rolled back, and "
                "will be removed if it took effect",
                dependency="redis",
                code=INDETERMINATE,
                stage="create",
            )
        logger.warning(
            "creation %s of %s unconfirmed (%s): rolled back%s",
            record.decision_id,
            record.id,
            cause.reason,
            " (the agent had been created)" if removed else "",
        )
        return DependencyUnavailable(
            f"{cause.reason}; the creation was rolled back",
            dependency="redis",
            code=ROLLED_BACK,
            stage="create",
        )

    async def abandon(self, record: AgentRecord) -> bool:
        """Remove the agent if this decision created it, and refuse that creation from now
        on; retried for a few seconds. True if an agent was removed."""
        retrying = AsyncRetrying(
            stop=stop_after_delay(self._abandon_seconds),
            wait=wait_exponential(multiplier=0.1, max=1.0),
            retry=retry_if_exception_type(DependencyUnavailable),
            reraise=True,
        )
        removed = 0
        async for attempt in retrying:
            with attempt:
                async with redis_errors(stage="create"):
                    removed = await self._abandon(
                        keys=self._keys(record),
                        args=[record.name, record.decision_id, _TOMBSTONE_SECONDS],
                    )
        return int(removed) == 1

    async def get(self, tenant: str, name: str) -> AgentRecord | None:
        async with redis_errors():
            raw = await self._store.client.get(self._agent_key(tenant, name))
        return None if raw is None else AgentRecord.model_validate_json(raw)

    async def exists(self, tenant: str, name: str) -> bool:
        async with redis_errors():
            return bool(await self._store.client.exists(self._agent_key(tenant, name)))

    async def search(
        self,
        tenant: str,
        *,
        capability: str | None,
        name_contains: str | None,
        limit: int,
        where: AgentFilter | None = None,
    ) -> list[AgentRecord]:
        index = self._cap_key(tenant, capability) if capability else self._names_key(tenant)
        narrowed = where is not None and not where.empty
        async with redis_errors():
            names = sorted(str(n) for n in await self._store.client.smembers(index))
            if name_contains:
                names = [n for n in names if name_contains in n]
            # Tool, template and text are not indexed: read every candidate, then cut.
            if not narrowed:
                names = names[:limit]
            if not names:
                return []
            raws = await self._store.client.mget([self._agent_key(tenant, n) for n in names])
        records = [AgentRecord.model_validate_json(r) for r in raws if r is not None]
        if where is not None and narrowed:
            records = [r for r in records if where.matches(r)][:limit]
        return records

    async def aclose(self) -> None:
        return None
