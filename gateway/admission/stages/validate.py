"""validate: reject malformed input before spending anything on it."""

from __future__ import annotations

from gateway.admission.context import AdmissionContext
from gateway.admission.stage import StageOutcome
from gateway.contract.decision import StageName, StageStatus
from gateway.contract.request import parse_request

__all__ = ["ValidateStage"]


class ValidateStage:
    name = StageName.VALIDATE

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        ctx.request = parse_request(ctx.kind, ctx.raw_body)
        return StageOutcome(StageStatus.PASS, facts={"name": ctx.request.name})
