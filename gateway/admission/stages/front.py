"""validate and authenticate: who is asking, and for what."""

from __future__ import annotations

from gateway.admission.context import AdmissionContext
from gateway.admission.pipeline import StageOutcome
from gateway.contract.decision import StageName, StageStatus
from gateway.contract.request import parse_request
from gateway.identity.authenticator import Authenticator

__all__ = ["AuthenticateStage", "ValidateStage"]


class ValidateStage:
    name = StageName.VALIDATE

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        ctx.request = parse_request(ctx.kind, ctx.raw_body)
        return StageOutcome(StageStatus.PASS, facts={"name": ctx.request.name})


class AuthenticateStage:
    name = StageName.AUTHENTICATE

    def __init__(self, authenticator: Authenticator) -> None:
        self._auth = authenticator

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        principal = await self._auth.authenticate(ctx.authorization)
        ctx.principal = principal
        return StageOutcome(
            StageStatus.PASS,
            facts={
                "principal": principal.id,
                "tenant": principal.tenant,
                "root": principal.root,
                "depth": principal.depth,
            },
        )
