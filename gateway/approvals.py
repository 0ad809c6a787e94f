"""The approval queue: requests that a human must decide, kept in Redis.

Every replica sees the same queue. This module holds the record format and
its storage; the approver workflow (list, approve, deny, expiry) builds on it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, JsonValue

from gateway.decision import Reason
from gateway.store import RedisStore, redis_errors

__all__ = ["ApprovalRecord", "ApprovalState", "ApprovalStore"]


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CREATED = "created"


class ApprovalRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    decision_id: str
    tenant: str
    kind: str
    creator: str
    state: ApprovalState
    request: dict[str, JsonValue]
    reasons: tuple[Reason, ...]
    danger_score: float | None
    danger_findings: list[JsonValue]
    policy_revision: str
    created_at: datetime
    expires_at: datetime


class ApprovalStore:
    def __init__(self, store: RedisStore, *, retention_seconds: int) -> None:
        self._store = store
        self._retention = retention_seconds

    def _key(self, approval_id: str) -> str:
        return self._store.key("approval", approval_id)

    def _pending_key(self, tenant: str) -> str:
        return self._store.key("approvals", tenant, "pending")

    async def add(self, record: ApprovalRecord) -> None:
        async with redis_errors(stage="approval"):
            pipe = self._store.client.pipeline(transaction=True)
            pipe.set(self._key(record.id), record.model_dump_json(), ex=self._retention)
            pipe.zadd(self._pending_key(record.tenant), {record.id: record.expires_at.timestamp()})
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
