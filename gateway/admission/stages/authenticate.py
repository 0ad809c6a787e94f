"""authenticate: who is asking decides the tenant, and everything after."""

from __future__ import annotations

from gateway.admission.context import AdmissionContext
from gateway.admission.stage import StageOutcome
from gateway.contract.decision import StageName, StageStatus
from gateway.identity.authenticator import Authenticator

__all__ = ["AuthenticateStage"]


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
