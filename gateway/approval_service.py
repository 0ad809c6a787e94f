"""The approver workflow: list, show, approve, deny, expire, and wait for an outcome.

Rules, all enforced here (not in the fronts):
- only principals with the approver role in the request's tenant (Casbin,
  ``approval`` / ``decide``) may approve or deny; a request of another tenant is
  as invisible as a missing one;
- the principal that made a request can never approve it;
- a request leaves ``pending`` exactly once (atomic transition): approving twice,
  or approving a denied or expired request, is a 409;
- an expired request is final ("approval timed out") and never created later;
- approving re-runs every check under the current policy before creating.
Every approve, deny and expiry is an audit record linked to the original decision.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from gateway.approvals import ApprovalRecord, ApprovalState, ApprovalStore
from gateway.audit import AuditLog, AuditRecord, RecordType
from gateway.auth import Principal
from gateway.authz import Action, Obj
from gateway.decision import Reason, StageName
from gateway.errors import Conflict, NotFound, PermissionDenied
from gateway.policy.snapshot import PolicyHolder
from gateway.service import AdmissionService
from gateway.webhooks import Notifier

__all__ = ["ApprovalService"]

#: Longest a requester may wait on GET /v1/requests/{id}?wait=...
MAX_WAIT_SECONDS = 60.0


class ApprovalService:
    def __init__(
        self,
        *,
        approvals: ApprovalStore,
        admission: AdmissionService,
        audit: AuditLog,
        policy: PolicyHolder,
        notifier: Notifier,
    ) -> None:
        self._approvals = approvals
        self._admission = admission
        self._audit = audit
        self._policy = policy
        self._notifier = notifier

    def _require(self, principal: Principal, action: Action) -> None:
        result = self._policy.current.authorizer.check(
            principal.subject, principal.tenant, Obj.APPROVAL, action
        )
        if not result.allowed:
            raise PermissionDenied(
                f"'{principal.id}' may not {action.value} approvals in tenant '{principal.tenant}'",
                code="not_an_approver",
                stage="approval",
            )

    async def _load(self, principal: Principal, approval_id: str) -> ApprovalRecord:
        record = await self._approvals.get(approval_id)
        if record is None or record.tenant != principal.tenant:
            raise NotFound(f"no request '{approval_id}' in tenant '{principal.tenant}'")
        if record.state is ApprovalState.PENDING and record.expires_at <= datetime.now(UTC):
            record = await self.expire(record)
        return record

    async def list_pending(self, principal: Principal) -> list[ApprovalRecord]:
        self._require(principal, Action.READ)
        await self.expire_due()
        return await self._approvals.pending(principal.tenant)

    async def show(self, principal: Principal, approval_id: str) -> ApprovalRecord:
        self._require(principal, Action.READ)
        return await self._load(principal, approval_id)

    async def status(
        self, principal: Principal, approval_id: str, *, wait: float = 0
    ) -> ApprovalRecord:
        """A request's state for anyone in its tenant; with ``wait``, until it is final."""
        deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT_SECONDS)
        record = await self._load(principal, approval_id)
        while not record.final and time.monotonic() < deadline:
            await asyncio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            record = await self._load(principal, approval_id)
        return record

    async def approve(
        self, principal: Principal, approval_id: str, note: str | None
    ) -> tuple[ApprovalRecord, dict[str, Any]]:
        self._require(principal, Action.DECIDE)
        record = await self._load(principal, approval_id)
        if record.creator == principal.id:
            raise PermissionDenied(
                "a principal can never approve its own request",
                code="self_approval",
                stage="approval",
            )
        self._pending_or_conflict(record)
        approved = record.model_copy(
            update={
                "state": ApprovalState.APPROVED,
                "decided_by": principal.id,
                "decided_at": datetime.now(UTC),
                "note": note,
            }
        )
        await self._approvals.transition(record, approved)
        await self._audit.append(self._record(approved, "approved", principal.id, note))
        await self._admission.release_keys(record.reserved_keys)
        answer = await self._admission.recheck_and_create(approved, approver=principal.id)
        if answer.status_code == 201:
            final = approved.model_copy(
                update={"state": ApprovalState.CREATED, "agent_id": answer.body["agent"]["id"]}
            )
        else:
            reasons = tuple(Reason.model_validate(r) for r in answer.body.get("reasons", []))
            final = approved.model_copy(
                update={
                    "state": ApprovalState.DENIED,
                    "outcome_reasons": (
                        Reason(
                            stage=StageName.APPROVAL,
                            code="denied_on_recheck",
                            message="approved, but current policy refused it on re-check; "
                            "nothing was created",
                        ),
                        *reasons,
                    ),
                }
            )
        await self._approvals.transition(approved, final)
        self._notify(final)
        return final, answer.body

    async def deny(
        self, principal: Principal, approval_id: str, note: str | None
    ) -> ApprovalRecord:
        self._require(principal, Action.DECIDE)
        record = await self._load(principal, approval_id)
        self._pending_or_conflict(record)
        denied = record.model_copy(
            update={
                "state": ApprovalState.DENIED,
                "decided_by": principal.id,
                "decided_at": datetime.now(UTC),
                "note": note,
                "outcome_reasons": (
                    Reason(
                        stage=StageName.APPROVAL,
                        code="denied_by_approver",
                        message=f"denied by {principal.id}",
                    ),
                ),
            }
        )
        await self._approvals.transition(record, denied)
        await self._audit.append(self._record(denied, "denied", principal.id, note))
        await self._admission.release_keys(record.reserved_keys)
        self._notify(denied)
        return denied

    async def expire(self, record: ApprovalRecord) -> ApprovalRecord:
        expired = record.model_copy(
            update={
                "state": ApprovalState.EXPIRED,
                "decided_at": datetime.now(UTC),
                "outcome_reasons": (
                    Reason(
                        stage=StageName.APPROVAL,
                        code="approval_timeout",
                        message="approval timed out",
                    ),
                ),
            }
        )
        try:
            await self._approvals.transition(record, expired, expiring=True)
        except Conflict:
            # Someone decided it first; their outcome stands.
            current = await self._approvals.get(record.id)
            return current or record
        await self._audit.append(self._record(expired, "expired", None, None))
        await self._admission.release_keys(record.reserved_keys)
        self._notify(expired)
        return expired

    async def expire_due(self) -> int:
        """Expire every pending request past its deadline (run periodically)."""
        count = 0
        for approval_id in await self._approvals.due():
            record = await self._approvals.get(approval_id)
            if record is not None and record.state is ApprovalState.PENDING:
                await self.expire(record)
                count += 1
        return count

    async def sweep(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.expire_due()

    @staticmethod
    def _pending_or_conflict(record: ApprovalRecord) -> None:
        if record.state is ApprovalState.EXPIRED:
            raise Conflict(
                f"request '{record.id}' has expired", code="approval_expired", stage="approval"
            )
        if record.state is not ApprovalState.PENDING:
            raise Conflict(
                f"request '{record.id}' is already {record.state.value}",
                code="approval_already_decided",
                stage="approval",
            )

    def _record(
        self, record: ApprovalRecord, action: str, actor: str | None, note: str | None
    ) -> AuditRecord:
        return AuditRecord(
            type=RecordType.APPROVAL,
            decision_id=record.decision_id,
            timestamp=datetime.now(UTC),
            path="spawngate/approval",
            tenant=record.tenant,
            principal=actor,
            input={"approval_id": record.id, "note": note},
            result={
                "action": action,
                "state": record.state.value,
                "creator": record.creator,
                "reasons": [r.model_dump(mode="json") for r in record.outcome_reasons],
            },
            bundles={"spawngate": {"revision": self._policy.current.revision}},
            labels={"app": "spawngate"},
        )

    def _notify(self, record: ApprovalRecord) -> None:
        self._notifier.notify(
            record.callback_url,
            {
                "request_id": record.id,
                "decision_id": record.decision_id,
                "state": record.state.value,
                "agent_id": record.agent_id,
                "reasons": [r.model_dump(mode="json") for r in record.outcome_reasons],
                "decided_by": record.decided_by,
                "at": datetime.now(UTC).isoformat(),
            },
        )
