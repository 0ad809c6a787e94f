"""The approval queue: requests that a human must decide, kept in Redis.

Every replica sees the same queue. A record moves out of ``pending`` exactly
once, by an atomic Lua transition, so two approvers (or an approver and the
expiry sweeper) can never both act on it:

    pending -> approved -> created | denied (current policy refused it on re-check)
    pending -> denied (by an approver)
    pending -> expired (timed out; final, never created afterwards)
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from gateway.decision import Reason
from gateway.errors import Conflict, NotFound
from gateway.store import RedisStore, redis_errors

__all__ = ["FINAL_STATES", "ApprovalRecord", "ApprovalState", "ApprovalStore"]


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # an approver said yes; the re-check and creation follow
    DENIED = "denied"
    EXPIRED = "expired"
    CREATED = "created"


FINAL_STATES = frozenset({ApprovalState.DENIED, ApprovalState.EXPIRED, ApprovalState.CREATED})


class ApprovalRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    decision_id: str
    tenant: str
    kind: str
    creator: str
    #: The creating principal as it authenticated (JSON), to re-run the checks as it.
    principal: dict[str, JsonValue] = Field(default_factory=dict)
    state: ApprovalState
    request: dict[str, JsonValue]
    reasons: tuple[Reason, ...]
    danger_score: float | None
    danger_findings: list[JsonValue]
    policy_revision: str
    created_at: datetime
    expires_at: datetime
    #: Quota counter keys the request reserved; released on deny or expiry.
    reserved_keys: tuple[str, ...] = ()
    callback_url: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    #: Why the final state is what it is (e.g. "approval timed out").
    outcome_reasons: tuple[Reason, ...] = ()
    agent_id: str | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


# KEYS: record. ARGV: expected state, new record json, now (epoch seconds),
# expires_at (epoch seconds). Moves a record out of the expected state only;
# a pending record past its expiry cannot be approved or denied.
_TRANSITION = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {'missing', ''} end
local current = cjson.decode(raw)
if current['state'] ~= ARGV[1] then return {'state', current['state']} end
if ARGV[1] == 'pending' and tonumber(ARGV[3]) >= tonumber(ARGV[4]) and ARGV[5] ~= 'expire' then
  return {'expired', current['state']}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return {'ok', ARGV[1]}
"""


class ApprovalStore:
    def __init__(self, store: RedisStore, *, retention_seconds: int) -> None:
        self._store = store
        self._retention = retention_seconds
        self._transition = store.client.register_script(_TRANSITION)

    def _key(self, approval_id: str) -> str:
        return self._store.key("approval", approval_id)

    def _pending_key(self, tenant: str) -> str:
        return self._store.key("approvals", tenant, "pending")

    def _tenants_key(self) -> str:
        return self._store.key("approvals", "tenants")

    async def add(self, record: ApprovalRecord) -> None:
        async with redis_errors(stage="approval"):
            pipe = self._store.client.pipeline(transaction=True)
            pipe.set(self._key(record.id), record.model_dump_json(), ex=self._retention)
            pipe.zadd(self._pending_key(record.tenant), {record.id: record.expires_at.timestamp()})
            pipe.sadd(self._tenants_key(), record.tenant)
            await pipe.execute()

    async def get(self, approval_id: str) -> ApprovalRecord | None:
        async with redis_errors():
            raw = await self._store.client.get(self._key(approval_id))
        return None if raw is None else ApprovalRecord.model_validate_json(raw)

    async def pending_ids(self, tenant: str) -> list[str]:
        async with redis_errors():
            return [
                str(x) for x in await self._store.client.zrange(self._pending_key(tenant), 0, -1)
            ]

    async def pending(self, tenant: str) -> list[ApprovalRecord]:
        records = [await self.get(i) for i in await self.pending_ids(tenant)]
        return [r for r in records if r is not None and r.state is ApprovalState.PENDING]

    async def due(self, now: float | None = None) -> list[str]:
        """Ids of pending records past their expiry, in every tenant."""
        now = time.time() if now is None else now
        async with redis_errors():
            tenants = [str(t) for t in await self._store.client.smembers(self._tenants_key())]
            ids: list[str] = []
            for tenant in tenants:
                ids += [
                    str(x)
                    for x in await self._store.client.zrangebyscore(
                        self._pending_key(tenant), 0, now
                    )
                ]
        return ids

    async def transition(
        self, record: ApprovalRecord, new: ApprovalRecord, *, expiring: bool = False
    ) -> None:
        """Replace ``record`` with ``new`` only if it is still in ``record.state``.

        Raises ``Conflict`` if another actor moved it first (or it expired), and
        ``NotFound`` if it is gone.
        """
        async with redis_errors(stage="approval"):
            status, state = await self._transition(
                keys=[self._key(record.id)],
                args=[
                    record.state.value,
                    new.model_dump_json(),
                    str(datetime.now(UTC).timestamp()),
                    str(record.expires_at.timestamp()),
                    "expire" if expiring else "",
                ],
            )
            if str(status) == "ok" and new.state is not ApprovalState.PENDING:
                await self._store.client.zrem(self._pending_key(record.tenant), record.id)
        status, state = str(status), str(state)
        if status == "missing":
            raise NotFound(f"no request '{record.id}'")
        if status == "expired":
            raise Conflict(
                f"request '{record.id}' has expired", code="approval_expired", stage="approval"
            )
        if status == "state":
            raise Conflict(
                f"request '{record.id}' is already {state}",
                code="approval_already_decided",
                stage="approval",
            )
