"""The approval queue: requests that a human must decide, kept in Redis.

Every replica sees the same queue. A record moves out of ``pending`` exactly
once, by an atomic Lua transition (``APPROVAL_TRANSITION`` in
``gateway.storage.schema``), so two approvers (or an approver and the
expiry sweeper) can never both act on it:

    pending -> approving -> created | denied (current policy refused it on re-check)
    pending -> denied (by an approver)
    pending -> expired (timed out; final, never created afterwards)

``approving`` is a lease, not a resting state: it names the approver, the
re-check attempt (its decision id, which the registry record carries) and when
the lease ends. A gateway that dies mid-approval leaves it behind; on start and
from the sweeper, another gateway takes over every approval whose lease ended
(a new attempt, fenced by the attempt id so the old one can no longer finish)
and completes or rolls it back (gateway.approvals.service).

A created agent that may spawn agents gets its API key later, from the
creator's own status poll (``credential``: pending -> delivered, once).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from gateway.contract.decision import Reason
from gateway.errors import Conflict, NotFound
from gateway.storage import schema
from gateway.storage.redis import RedisStore, redis_errors

__all__ = [
    "FINAL_STATES",
    "HALF_DONE",
    "ApprovalRecord",
    "ApprovalState",
    "ApprovalStore",
    "CredentialState",
]


class ApprovalState(StrEnum):
    PENDING = "pending"
    #: Written before ``approving`` existed: recovered like an approval whose lease ended.
    APPROVED = "approved"
    #: An approver said yes; the re-check and creation of ``attempt`` run under a lease.
    APPROVING = "approving"
    DENIED = "denied"
    EXPIRED = "expired"
    CREATED = "created"
    #: A retirement proposal (kind "retirement", gateway.lifecycle) approved and carried out.
    RETIRED = "retired"


FINAL_STATES = frozenset(
    {ApprovalState.DENIED, ApprovalState.EXPIRED, ApprovalState.CREATED, ApprovalState.RETIRED}
)
HALF_DONE = frozenset({ApprovalState.APPROVED, ApprovalState.APPROVING})


class CredentialState(StrEnum):
    #: The created agent may spawn agents: its key waits for the creator's poll.
    PENDING = "pending"
    #: Issued and handed to the creator once; never again.
    DELIVERED = "delivered"


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
    #: Tool provenance as the template stage decided it (from_template, from_request,
    #: dropped), so approvers see what would be granted; None for older records.
    tools: dict[str, list[str]] | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    #: Why the final state is what it is (e.g. "approval timed out").
    outcome_reasons: tuple[Reason, ...] = ()
    agent_id: str | None = None
    #: Decision id of the re-check/create running now (the fencing token).
    attempt: str | None = None
    #: Every attempt's decision id: an agent carrying one was created by this approval.
    attempts: tuple[str, ...] = ()
    #: While ``approving``: after this, the approval is taken over and finished.
    lease_until: datetime | None = None
    credential: CredentialState | None = None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class ApprovalStore:
    def __init__(self, store: RedisStore, *, retention_seconds: int) -> None:
        self._store = store
        self._retention = retention_seconds
        self._keys = store.keys
        self._transition = store.client.register_script(schema.APPROVAL_TRANSITION)

    async def add(self, record: ApprovalRecord) -> None:
        async with redis_errors(stage="approval"):
            pipe = self._store.client.pipeline(transaction=True)
            pipe.set(self._keys.approval(record.id), record.model_dump_json(), ex=self._retention)
            pipe.zadd(
                self._keys.approvals_pending(record.tenant),
                {record.id: record.expires_at.timestamp()},
            )
            pipe.sadd(self._keys.approvals_tenants(), record.tenant)
            await pipe.execute()

    async def get(self, approval_id: str) -> ApprovalRecord | None:
        async with redis_errors():
            raw = await self._store.client.get(self._keys.approval(approval_id))
        return None if raw is None else ApprovalRecord.model_validate_json(raw)

    async def pending_ids(self, tenant: str) -> list[str]:
        async with redis_errors():
            return [
                str(x)
                for x in await self._store.client.zrange(
                    self._keys.approvals_pending(tenant), 0, -1
                )
            ]

    async def pending(self, tenant: str) -> list[ApprovalRecord]:
        records = [await self.get(i) for i in await self.pending_ids(tenant)]
        return [r for r in records if r is not None and r.state is ApprovalState.PENDING]

    async def due(self, now: float | None = None) -> list[str]:
        """Ids of pending records past their expiry, in every tenant."""
        now = time.time() if now is None else now
        async with redis_errors():
            tenants = [
                str(t) for t in await self._store.client.smembers(self._keys.approvals_tenants())
            ]
            ids: list[str] = []
            for tenant in tenants:
                ids += [
                    str(x)
                    for x in await self._store.client.zrangebyscore(
                        self._keys.approvals_pending(tenant), 0, now
                    )
                ]
        return ids

    async def half_done(self, *, now: float | None = None, everywhere: bool = False) -> list[str]:
        """Ids of approvals whose lease ended (all of them, at start: ``everywhere``).

        ``everywhere`` also scans every record, to find approvals written before
        the approving index existed (state ``approved``).
        """
        now = time.time() if now is None else now
        async with redis_errors():
            ids = [
                str(x)
                for x in await self._store.client.zrangebyscore(
                    self._keys.approvals_approving(), 0, now
                )
            ]
            if everywhere:
                prefix = self._keys.approval_prefix()
                async for key in self._store.client.scan_iter(match=prefix + "*", count=500):
                    raw = await self._store.client.get(key)
                    if raw is not None and '"state":"approved"' in str(raw):
                        ids.append(str(key)[len(prefix) :])
        return list(dict.fromkeys(ids))

    async def transition(
        self,
        record: ApprovalRecord,
        new: ApprovalRecord,
        *,
        expiring: bool = False,
        fence: str | None = None,
    ) -> None:
        """Replace ``record`` with ``new`` only if it is still in ``record.state``.

        With ``fence`` (a field name), only if that field still holds the value
        ``record`` has: an attempt that was taken over can no longer finish,
        and a credential is claimed once. Raises ``Conflict`` if another actor
        moved it first (or it expired), and ``NotFound`` if it is gone.
        """
        fenced = "" if fence is None else getattr(record, fence)
        async with redis_errors(stage="approval"):
            status, state = await self._transition(
                keys=[
                    self._keys.approval(record.id),
                    self._keys.approvals_pending(record.tenant),
                    self._keys.approvals_approving(),
                ],
                args=[
                    record.state.value,
                    new.model_dump_json(),
                    str(datetime.now(UTC).timestamp()),
                    str(record.expires_at.timestamp()),
                    "expire" if expiring else "",
                    fence or "",
                    "" if fenced is None else str(fenced),
                    new.state.value,
                    str(new.lease_until.timestamp() if new.lease_until else 0),
                    record.id,
                ],
            )
        status, state = str(status), str(state)
        if status == "missing":
            raise NotFound(f"no request '{record.id}'")
        if status == "expired":
            raise Conflict(
                f"request '{record.id}' has expired", code="approval_expired", stage="approval"
            )
        if status in ("state", "fence"):
            raise Conflict(
                f"request '{record.id}' is already {state}",
                code="approval_already_decided",
                stage="approval",
            )
