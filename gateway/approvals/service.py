"""The approver workflow: list, show, approve, deny, expire, and wait for an outcome.

Rules, all enforced here (not in the fronts):
- only principals with the approver role in the request's tenant (Casbin,
  ``approval`` / ``decide``) may approve or deny; a request of another tenant is
  as invisible as a missing one;
- the principal that made a request can never approve it;
- a request leaves ``pending`` exactly once (atomic transition): approving twice,
  or approving a denied or expired request, is a 409;
- an expired request is final ("approval timed out") and never created later;
- approving re-runs every check under the current policy before creating;
- an approval cannot get stuck: it runs under a lease (``approving``) and a
  gateway that dies mid-way leaves it to be completed or rolled back by the
  next start or sweep (an audit record says which); the registry record carries
  the attempt's decision id, so a resumed approval never creates twice;
- the API key of a created agent that may spawn agents goes to the creator on
  its own status poll, once; never to the approver.
Every approve, deny, expiry and recovery is an audit record linked to the
original decision.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.admission.service import AdmissionService
from gateway.admission.stages.create import SPAWNING_TOOLS
from gateway.approvals.queue import (
    HALF_DONE,
    ApprovalRecord,
    ApprovalState,
    ApprovalStore,
    CredentialState,
)
from gateway.approvals.webhooks import Notifier
from gateway.audit.log import AuditLog, AuditRecord, RecordType
from gateway.contract.decision import Reason, StageName
from gateway.errors import (
    Conflict,
    DependencyError,
    NotFound,
    PermissionDenied,
    SpawngateError,
)
from gateway.identity.authenticator import Principal
from gateway.policy.casbin import Action, Obj
from gateway.policy.snapshot import PolicyHolder
from gateway.registry.base import AgentRecord

__all__ = ["ApprovalService"]

logger = logging.getLogger("spawngate.approvals")

#: Longest a requester may wait on GET /v1/requests/{id}?wait=...
MAX_WAIT_SECONDS = 60.0


def _credential(tools: object) -> CredentialState | None:
    spawns = isinstance(tools, (list, tuple)) and bool(SPAWNING_TOOLS & set(tools))
    return CredentialState.PENDING if spawns else None


class ApprovalService:
    def __init__(
        self,
        *,
        approvals: ApprovalStore,
        admission: AdmissionService,
        audit: AuditLog,
        policy: PolicyHolder,
        notifier: Notifier,
        lease_seconds: float = 60.0,
    ) -> None:
        self._lease = lease_seconds
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
        attempt = "dec_" + uuid.uuid4().hex
        approving = record.model_copy(
            update={
                "state": ApprovalState.APPROVING,
                "decided_by": principal.id,
                "decided_at": datetime.now(UTC),
                "note": note,
                "attempt": attempt,
                "attempts": (attempt,),
                "lease_until": self._lease_end(),
            }
        )
        await self._approvals.transition(record, approving)
        await self._audit.append(self._record(approving, "approved", principal.id, note))
        await self._admission.release_keys(record.reserved_keys)
        final, answer = await self._settle(approving)
        await self._finish(approving, final)
        # The new agent's key, if any, is the creator's: it collects it by polling.
        answer.pop("agent_api_key", None)
        return final, answer

    async def _settle(self, approving: ApprovalRecord) -> tuple[ApprovalRecord, dict[str, Any]]:
        """Re-check and create as ``approving.attempt``; the final state to move to."""
        answer = await self._admission.recheck_and_create(
            approving, approver=approving.decided_by or "", decision_id=approving.attempt
        )
        if answer.status_code == 201:
            agent = answer.body["agent"]
            final = self._created(approving, agent["id"], agent.get("tools"))
        elif (earlier := await self._earlier_agent(approving, answer.body)) is not None:
            # The name is taken by this very approval: an attempt that was taken
            # over (it outlived its lease) created it after all.
            final = self._created(approving, earlier.id, earlier.tools)
        else:
            reasons = tuple(Reason.model_validate(r) for r in answer.body.get("reasons", []))
            final = self._rolled_back(approving, reasons)
        return final, answer.body

    @staticmethod
    def _created(approving: ApprovalRecord, agent_id: str, tools: object) -> ApprovalRecord:
        return approving.model_copy(
            update={
                "state": ApprovalState.CREATED,
                "agent_id": agent_id,
                "credential": _credential(tools),
                "lease_until": None,
            }
        )

    async def _earlier_agent(
        self, approving: ApprovalRecord, answer: dict[str, Any]
    ) -> AgentRecord | None:
        error = answer.get("error")
        if not isinstance(error, dict) or error.get("code") != "duplicate_agent":
            return None
        agent = await self._admission.find_agent(
            approving.tenant, str(approving.request.get("name"))
        )
        return agent if agent is not None and self._made_by(approving, agent) else None

    @staticmethod
    def _rolled_back(approving: ApprovalRecord, reasons: tuple[Reason, ...]) -> ApprovalRecord:
        return approving.model_copy(
            update={
                "state": ApprovalState.DENIED,
                "lease_until": None,
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

    async def _finish(self, approving: ApprovalRecord, final: ApprovalRecord) -> None:
        # Fenced by the attempt: if this attempt was taken over (its lease ran
        # out), the taker finishes the approval and this transition is refused.
        await self._approvals.transition(approving, final, fence="attempt")
        self._notify(final)

    def _lease_end(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._lease)

    # -- recovery of half-done approvals ------------------------------------

    async def recover_due(self, *, everywhere: bool = False) -> int:
        """Complete or roll back every approval whose lease ended; return how many."""
        count = 0
        for approval_id in await self._approvals.half_done(everywhere=everywhere):
            try:
                recovered = await self.recover(approval_id)
            except SpawngateError:
                # Left half-done under a new lease: the next sweep tries again.
                logger.exception("could not recover approval %s yet", approval_id)
                continue
            count += recovered is not None
        return count

    async def recover(self, approval_id: str) -> ApprovalRecord | None:
        """Take over one half-done approval (if its lease ended) and finish it."""
        record = await self._approvals.get(approval_id)
        if record is None or record.state not in HALF_DONE:
            return None
        if record.lease_until is not None and record.lease_until > datetime.now(UTC):
            return None
        attempt = "dec_" + uuid.uuid4().hex
        taking = record.model_copy(
            update={
                "state": ApprovalState.APPROVING,
                "attempt": attempt,
                "attempts": (*record.attempts, attempt),
                "lease_until": self._lease_end(),
            }
        )
        try:
            await self._approvals.transition(record, taking, fence="attempt")
        except Conflict:
            return None  # another gateway took it over first
        agent = await self._admission.find_agent(record.tenant, str(record.request.get("name")))
        if agent is not None and self._made_by(record, agent):
            final = self._created(taking, agent.id, agent.tools)
        else:
            final, _ = await self._settle(taking)
        action = (
            "completed_on_recovery"
            if final.state is ApprovalState.CREATED
            else "rolled_back_on_recovery"
        )
        logger.warning("approval %s was half-done: %s", record.id, action)
        # Recorded before the final state: a gateway that dies in between leaves
        # the approval half-done again, and the next recovery records it again.
        await self._audit.append(self._record(final, action, None, None))
        await self._finish(taking, final)
        return final

    @staticmethod
    def _made_by(record: ApprovalRecord, agent: AgentRecord) -> bool:
        """Whether ``agent`` was created by an earlier attempt of this approval."""
        if record.attempts:
            return agent.decision_id in record.attempts
        # Written before attempts were recorded: the creator's agent, made after the yes.
        return (
            agent.created_by == record.creator
            and record.decided_at is not None
            and agent.created_at >= record.decided_at
        )

    # -- credentials ----------------------------------------------------------

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
            await self._audit.append(
                self._record(delivered, "credential_delivered", principal.id, None)
            )
        except DependencyError:
            # Not handed out: give the claim back so that a later poll gets a key.
            await self._approvals.transition(delivered, record, fence="credential")
            raise
        return delivered, key

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
        """Recover half-done approvals (all of them first), then expire due ones.

        With ``interval`` 0 only the start-up recovery pass runs. A pass that
        fails on Redis is logged and retried on the next one.
        """
        everywhere = True
        while True:
            try:
                await self.recover_due(everywhere=everywhere)
                everywhere = False
                if interval > 0:
                    await self.expire_due()
            except DependencyError:
                logger.exception("approval sweep failed; retrying in %ss", interval)
            if interval <= 0:
                return
            await asyncio.sleep(interval)

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
                "approved_by": record.decided_by,
                "attempts": list(record.attempts),
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
