"""approval: a review from any stage means a human decides before anything is created."""

from __future__ import annotations

import uuid

from gateway.admission.context import AdmissionContext
from gateway.admission.stage import StageOutcome
from gateway.contract.decision import StageName, StageStatus

__all__ = ["ApprovalStage"]


class ApprovalStage:
    name = StageName.APPROVAL

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        if not ctx.review_reasons:
            return StageOutcome(StageStatus.PASS, facts={"queued": False})
        # The queue record itself is written by the service, after the decision
        # record (audit first); here the request only gets its id.
        ctx.approval_id = "apr_" + uuid.uuid4().hex
        # The reasons themselves stay with the stages that gave them.
        return StageOutcome(
            StageStatus.REVIEW,
            facts={
                "queued": True,
                "approval_id": ctx.approval_id,
                "because": sorted({r.rule for r in ctx.review_reasons}),
            },
        )
