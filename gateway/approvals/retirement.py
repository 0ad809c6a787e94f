"""Retirement proposals in the approval queue: what approving one does, as a protocol.

The retirement sweep (``gateway.lifecycle``) queues a proposal of kind
``retirement`` beside creation proposals, so the same approvers see it and may
veto it (deny), and it expires the same way. Approving one retires the agent
instead of re-running admission; the lifecycle package implements ``Retirer``
and the runtime hands it to the workflow, which never imports it.
"""

from __future__ import annotations

from typing import Protocol

from gateway.approvals.queue import ApprovalRecord, ApprovalState
from gateway.contract.decision import Reason, StageName

__all__ = ["RETIREMENT", "Retirer", "retirement_outcome"]

#: ``ApprovalRecord.kind`` of a retirement proposal.
RETIREMENT = "retirement"


class Retirer(Protocol):
    async def retire_approved(self, record: ApprovalRecord) -> tuple[str | None, str]:
        """Retire the proposal's agent if it is still the one proposed and still idle.

        Returns the retired agent's id, or None and why nothing was retired."""
        ...


def retirement_outcome(approving: ApprovalRecord, agent_id: str | None, why: str) -> ApprovalRecord:
    """The final state of an approved retirement: retired, or denied on re-check."""
    if agent_id is not None:
        return approving.model_copy(
            update={"state": ApprovalState.RETIRED, "agent_id": agent_id, "lease_until": None}
        )
    return approving.model_copy(
        update={
            "state": ApprovalState.DENIED,
            "lease_until": None,
            "outcome_reasons": (
                Reason(stage=StageName.APPROVAL, code="retirement_dropped", message=why),
            ),
        }
    )
