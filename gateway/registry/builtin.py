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
from datetime import UTC, datetime

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
from gateway.storage import schema
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["ABANDON_SECONDS", "BuiltinRegistry"]

logger = logging.getLogger("spawngate.registry")

#: How long an unconfirmed creation is retried being abandoned.
ABANDON_SECONDS = 6.0
#: How long a tombstone refuses a late creation: far beyond any queued command.
_TOMBSTONE_SECONDS = 24 * 3600


class BuiltinRegistry:
    name = "builtin"
    lists_every_agent = True

    def __init__(self, store: RedisStore, *, abandon_seconds: float = ABANDON_SECONDS) -> None:
        self._store = store
        self._create = store.client.register_script(schema.AGENT_CREATE)
        self._abandon = store.client.register_script(schema.AGENT_ABANDON)
        self._touch = store.client.register_script(schema.AGENT_TOUCH)
        self._retire = store.client.register_script(schema.AGENT_RETIRE)
        self._abandon_seconds = abandon_seconds
        # The deadline is the client's own: how long it waits for an answer.
        kwargs = store.client.connection_pool.connection_kwargs
        self._timeout = float(kwargs.get("socket_timeout") or 5.0)

    def _keys(self, record: AgentRecord) -> list[str]:
        """The keys AGENT_CREATE and AGENT_ABANDON take, in their order."""
        keys = self._store.keys
        return [
            keys.agent(record.tenant, record.name),
            keys.agent_names(record.tenant),
            keys.agent_tombstone(record.tenant, record.decision_id),
            keys.agents_expiring(),
            *(keys.agent_capability(record.tenant, c) for c in record.capabilities),
        ]

    async def create(self, record: AgentRecord) -> AgentRecord:
        deadline_ms = int((time.time() + self._timeout) * 1000)
        expires = record.expires_at
        args: list[str | int] = [
            record.model_dump_json(),
            record.name,
            record.decision_id,
            deadline_ms,
            "" if expires is None else repr(expires.timestamp()),
            record.id,
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
                        args=[record.name, record.decision_id, _TOMBSTONE_SECONDS, record.id],
                    )
        return int(removed) == 1

    async def get(self, tenant: str, name: str) -> AgentRecord | None:
        keys = self._store.keys
        async with redis_errors():
            pipe = self._store.client.pipeline(transaction=False)
            pipe.get(keys.agent(tenant, name))
            pipe.hget(keys.agent_activity(tenant), name)
            raw, seen = await pipe.execute()
        return None if raw is None else _with_activity(AgentRecord.model_validate_json(raw), seen)

    async def exists(self, tenant: str, name: str) -> bool:
        async with redis_errors():
            return bool(await self._store.client.exists(self._store.keys.agent(tenant, name)))

    async def search(
        self,
        tenant: str,
        *,
        capability: str | None,
        name_contains: str | None,
        limit: int,
        where: AgentFilter | None = None,
    ) -> list[AgentRecord]:
        keys = self._store.keys
        index = (
            keys.agent_capability(tenant, capability) if capability else keys.agent_names(tenant)
        )
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
            raws = await self._store.client.mget([self._store.keys.agent(tenant, n) for n in names])
            seen = await self._store.client.hmget(keys.agent_activity(tenant), names)
        records = [
            _with_activity(AgentRecord.model_validate_json(r), at)
            for r, at in zip(raws, seen, strict=True)
            if r is not None
        ]
        if where is not None and narrowed:
            records = [r for r in records if where.matches(r)][:limit]
        return records

    async def touch(self, tenant: str, name: str, at: datetime) -> AgentRecord | None:
        keys = self._store.keys
        async with redis_errors():
            found = await self._touch(
                keys=[keys.agent(tenant, name), keys.agent_activity(tenant)],
                args=[name, repr(at.timestamp())],
            )
        return await self.get(tenant, name) if int(found) == 1 else None

    async def retire(self, record: AgentRecord) -> bool:
        keys = self._store.keys
        async with redis_errors(stage="retire"):
            removed = await self._retire(
                keys=[
                    keys.agent(record.tenant, record.name),
                    keys.agent_names(record.tenant),
                    keys.agent_activity(record.tenant),
                    keys.agents_expiring(),
                    *(keys.agent_capability(record.tenant, c) for c in record.capabilities),
                ],
                args=[record.name, record.decision_id, record.id],
            )
        return int(removed) == 1

    async def expiring(self, until: datetime, limit: int) -> list[tuple[str, str]]:
        async with redis_errors():
            ids = await self._store.client.zrangebyscore(
                self._store.keys.agents_expiring(), "-inf", until.timestamp(), start=0, num=limit
            )
        return [(t, n) for t, _, n in (str(i).partition("/") for i in ids)]

    async def aclose(self) -> None:
        return None


def _with_activity(record: AgentRecord, seen: object) -> AgentRecord:
    """The record with its last activity (kept beside it, so a touch never rewrites it)."""
    if seen is None:
        return record
    at = datetime.fromtimestamp(float(str(seen)), UTC)
    return record.model_copy(update={"last_activated_at": at})
