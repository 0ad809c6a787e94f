"""Completing an approval an approver said yes to: re-check and create, or roll back.

The work runs under a lease (state ``approving``) fenced by the attempt's
decision id, which the registry record carries: a gateway that dies mid-way
leaves the approval to be taken over (``gateway.approvals.recovery``), and a
taken-over attempt can no longer finish it nor create a second agent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.approvals.admission import Admission
from gateway.approvals.events import ApprovalEvents
from gateway.approvals.queue import ApprovalRecord, ApprovalState, ApprovalStore, CredentialState
from gateway.approvals.retirement import RETIREMENT, Retirer, retirement_outcome
from gateway.contract.decision import Reason, StageName
from gateway.contract.request import SPAWNING_TOOLS
from gateway.registry.base import AgentRecord

__all__ = ["Completion", "made_by"]


def _credential(tools: object) -> CredentialState | None:
    spawns = isinstance(tools, (list, tuple)) and bool(SPAWNING_TOOLS & set(tools))
    return CredentialState.PENDING if spawns else None


def made_by(record: ApprovalRecord, agent: AgentRecord) -> bool:
    """Whether ``agent`` was created by an earlier attempt of this approval."""
    if record.attempts:
        return agent.decision_id in record.attempts
    # Written before attempts were recorded: the creator's agent, made after the yes.
    return (
        agent.created_by == record.creator
        and record.decided_at is not None
        and agent.created_at >= record.decided_at
    )


def created(approving: ApprovalRecord, agent_id: str, tools: object) -> ApprovalRecord:
    return approving.model_copy(
        update={
            "state": ApprovalState.CREATED,
            "agent_id": agent_id,
            "credential": _credential(tools),
            "lease_until": None,
        }
    )


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


class Completion:
    def __init__(
        self,
        *,
        approvals: ApprovalStore,
        admission: Admission,
        events: ApprovalEvents,
        lease_seconds: float,
        retirer: Retirer | None = None,
    ) -> None:
        self._approvals = approvals
        self._admission = admission
        self._events = events
        self._lease = lease_seconds
        self._retirer = retirer

    def lease_end(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._lease)

    async def settle(self, approving: ApprovalRecord) -> tuple[ApprovalRecord, dict[str, Any]]:
        """Re-check and create as ``approving.attempt``; the final state to move to."""
        if approving.kind == RETIREMENT:
            # A retirement proposal: retire the agent instead (re-checked there).
            if self._retirer is None:
                return retirement_outcome(approving, None, "retirement is not set up"), {}
            agent_id, why = await self._retirer.retire_approved(approving)
            final = retirement_outcome(approving, agent_id, why)
            return final, {"state": final.state.value, "agent_id": agent_id}
        answer = await self._admission.recheck_and_create(
            approving, approver=approving.decided_by or "", decision_id=approving.attempt
        )
        if answer.status_code == 201:
            agent = answer.body["agent"]
            final = created(approving, agent["id"], agent.get("tools"))
        elif (earlier := await self._earlier_agent(approving, answer.body)) is not None:
            # The name is taken by this very approval: an attempt that was taken
            # over (it outlived its lease) created it after all.
            final = created(approving, earlier.id, earlier.tools)
        else:
            reasons = tuple(Reason.model_validate(r) for r in answer.body.get("reasons", []))
            final = _rolled_back(approving, reasons)
        return final, answer.body

    async def _earlier_agent(
        self, approving: ApprovalRecord, answer: dict[str, Any]
    ) -> AgentRecord | None:
        error = answer.get("error")
        if not isinstance(error, dict) or error.get("code") != "duplicate_agent":
            return None
        agent = await self._admission.find_agent(
            approving.tenant, str(approving.request.get("name"))
        )
        return agent if agent is not None and made_by(approving, agent) else None

    async def finish(self, approving: ApprovalRecord, final: ApprovalRecord) -> None:
        # Fenced by the attempt: if this attempt was taken over (its lease ran
        # out), the taker finishes the approval and this transition is refused.
        await self._approvals.transition(approving, final, fence="attempt")
        self._events.notify(final)
