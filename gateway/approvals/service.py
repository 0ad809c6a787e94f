"""The approver workflow: list, show, approve, deny, expire, and wait for an outcome.

Rules, all enforced here (not in the fronts):
- only principals with the approver role in the request's tenant (Casbin,
  ``approval`` / ``decide``) may approve or deny; a request of another tenant is
  as invisible as a missing one;
- the principal that made a request can never approve it;
- a request leaves ``pending`` exactly once (atomic transition): approving twice,
  or approving a denied or expired request, is a 409;
- an expired request is final ("approval timed out") and never created later
  (``gateway.approvals.expiry``);
- approving re-runs every check under the current policy before creating
  (``gateway.approvals.completion``);
- an approval cannot get stuck: it runs under a lease (``approving``) and a
  gateway that dies mid-way leaves it to be completed or rolled back by the
  next start or sweep (``gateway.approvals.recovery``; an audit record says
  which); the registry record carries the attempt's decision id, so a resumed
  approval never creates twice;
- the API key of a created agent that may spawn agents goes to the creator on
  its own status poll, once; never to the approver.
Every approve, deny, expiry and recovery is an audit record linked to the
original decision (``gateway.approvals.events``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from gateway.approvals.admission import Admission
from gateway.approvals.completion import Completion
from gateway.approvals.events import ApprovalEvents
from gateway.approvals.expiry import Expiry, sweep
from gateway.approvals.queue import ApprovalRecord, ApprovalState, ApprovalStore, CredentialState
from gateway.approvals.recovery import Recovery
from gateway.approvals.retirement import Retirer
from gateway.approvals.webhooks import Notifier
from gateway.audit.log import AuditLog
from gateway.contract.decision import Reason, StageName
from gateway.errors import Conflict, DependencyError, NotFound, PermissionDenied
from gateway.identity.authenticator import Principal
from gateway.notifications.events import Notifier as SwarmNotifier
from gateway.policy.casbin import Action, Obj
from gateway.policy.snapshot import PolicyHolder

__all__ = ["MAX_WAIT_SECONDS", "ApprovalService"]

#: Longest a requester may wait on GET /v1/requests/{id}?wait=...
MAX_WAIT_SECONDS = 60.0


class ApprovalService:
    def __init__(
        self,
        *,
        approvals: ApprovalStore,
        admission: Admission,
        audit: AuditLog,
        policy: PolicyHolder,
        notifier: Notifier,
        swarm: SwarmNotifier | None = None,
        lease_seconds: float = 60.0,
        retirer: Retirer | None = None,
    ) -> None:
        self._approvals = approvals
        self._admission = admission
        self._policy = policy
        self._events = ApprovalEvents(audit=audit, notifier=notifier, policy=policy, swarm=swarm)
        self._completion = Completion(
            approvals=approvals,
            admission=admission,
            events=self._events,
            lease_seconds=lease_seconds,
            retirer=retirer,
        )
        self._expiry = Expiry(approvals=approvals, admission=admission, events=self._events)
        self._recovery = Recovery(
            approvals=approvals,
            admission=admission,
            events=self._events,
            completion=self._completion,
        )

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
            record = await self._expiry.expire(record)
        return record

    async def list_pending(self, principal: Principal) -> list[ApprovalRecord]:
        self._require(principal, Action.READ)
        await self._expiry.expire_due()
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
        _pending_or_conflict(record)
        attempt = "dec_" + uuid.uuid4().hex
        approving = record.model_copy(
            update={
                "state": ApprovalState.APPROVING,
                "decided_by": principal.id,
                "decided_at": datetime.now(UTC),
                "note": note,
                "attempt": attempt,
                "attempts": (attempt,),
                "lease_until": self._completion.lease_end(),
            }
        )
        await self._approvals.transition(record, approving)
        await self._events.record(approving, "approved", principal.id, note)
        await self._admission.release_keys(record.reserved_keys)
        final, answer = await self._completion.settle(approving)
        await self._completion.finish(approving, final)
        # The new agent's key, if any, is the creator's: it collects it by polling.
        answer.pop("agent_api_key", None)
        return final, answer

    async def deny(
        self, principal: Principal, approval_id: str, note: str | None
    ) -> ApprovalRecord:
        self._require(principal, Action.DECIDE)
        record = await self._load(principal, approval_id)
        _pending_or_conflict(record)
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
        await self._events.record(denied, "denied", principal.id, note)
        await self._admission.release_keys(record.reserved_keys)
        self._events.notify(denied)
        return denied

    async def collect(
        self, principal: Principal, approval_id: str, *, wait: float = 0
    ) -> tuple[ApprovalRecord, str | None]:
        """``status``, plus the new agent's API key for its creator, the first time only."""
        record = await self.status(principal, approval_id, wait=wait)
        if (
            record.state is not ApprovalState.CREATED
            or record.credential is not CredentialState.PENDING
            or principal.id != record.creator
        ):
            return record, None
        delivered = record.model_copy(update={"credential": CredentialState.DELIVERED})
        try:
            # Claimed before it is issued: a key is handed out at most once.
            await self._approvals.transition(record, delivered, fence="credential")
        except Conflict:
            return await self._load(principal, approval_id), None
        try:
            key = await self._admission.issue_agent_key(record)
            await self._events.record(delivered, "credential_delivered", principal.id, None)
        except DependencyError:
            # Not handed out: give the claim back so that a later poll gets a key.
            await self._approvals.transition(delivered, record, fence="credential")
            raise
        return delivered, key

    # -- background work (also run by the runtime's sweep task) ---------------

    async def expire(self, record: ApprovalRecord) -> ApprovalRecord:
        return await self._expiry.expire(record)

    async def expire_due(self) -> int:
        """Expire every pending request past its deadline."""
        return await self._expiry.expire_due()

    async def recover(self, approval_id: str) -> ApprovalRecord | None:
        """Take over one half-done approval (if its lease ended) and finish it."""
        return await self._recovery.recover(approval_id)

    async def recover_due(self, *, everywhere: bool = False) -> int:
        """Complete or roll back every approval whose lease ended; return how many."""
        return await self._recovery.recover_due(everywhere=everywhere)

    async def sweep(self, interval: float) -> None:
        """Recover half-done approvals (all first), then expire due ones, every ``interval``."""
        await sweep(self._recovery, self._expiry, interval)


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
