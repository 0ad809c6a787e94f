"""authorize: Casbin decides whether this caller may create this kind in its tenant."""

from __future__ import annotations

from gateway.admission.context import AdmissionContext
from gateway.admission.stage import StageOutcome
from gateway.contract.decision import StageName, StageStatus
from gateway.contract.request import AgentKind
from gateway.errors import PermissionDenied
from gateway.policy.casbin import Action, Obj

__all__ = ["AuthorizeStage"]


class AuthorizeStage:
    name = StageName.AUTHORIZE

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        principal = ctx.need_principal()
        obj = Obj.SME if ctx.kind is AgentKind.SME else Obj.AGENT
        result = ctx.need_policy().authorizer.check(
            principal.subject, principal.tenant, obj, Action.CREATE
        )
        ctx.authz_rule = result.matched
        if not result.allowed:
            why = f"rule '{result.matched}'" if result.matched else "no rule grants it"
            raise PermissionDenied(
                f"'{principal.subject}' may not create {obj.value}s in tenant "
                f"'{principal.tenant}' ({why})",
                code="not_authorized",
            )
        return StageOutcome(
            StageStatus.PASS, facts={"subject": principal.subject, "rule": result.matched}
        )
