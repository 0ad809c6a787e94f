"""feature: agent self-service is off unless the tenant turned it on (seed 000)."""

from __future__ import annotations

from gateway.admission.context import AdmissionContext
from gateway.admission.stage import StageOutcome
from gateway.config import GatewayConfig
from gateway.contract.decision import StageName, StageStatus
from gateway.errors import FieldProblem, InvalidRequest, PermissionDenied

__all__ = ["FeatureStage"]


class FeatureStage:
    name = StageName.FEATURE

    def __init__(self, config: GatewayConfig) -> None:
        self._config = config

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        principal = ctx.need_principal()
        settings = self._config.tenant_settings(principal.tenant)
        ctx.settings = settings
        if not settings.enabled:
            raise PermissionDenied(
                f"agent self-service is disabled for tenant '{principal.tenant}'; "
                "an administrator must enable it in the tenant settings",
                code="feature_disabled",
            )
        callback = ctx.request.callback_url if ctx.request is not None else None
        if callback is not None and callback.host not in settings.callback_hosts:
            allowed = ", ".join(settings.callback_hosts) or "none"
            raise InvalidRequest(
                f"callback_url host '{callback.host}' is not allowed for tenant "
                f"'{principal.tenant}' (allowed: {allowed})",
                problems=[FieldProblem("callback_url", "host not in the tenant's callback_hosts")],
                code="callback_not_allowed",
                stage="feature",
            )
        ttl = ctx.request.ttl_seconds if ctx.request is not None else None
        if ttl is not None and (not settings.ttl.allowed or ttl > settings.ttl.max_seconds):
            # Ephemeral agents (gateway.lifecycle): the tenant allows and caps the ttl.
            limit = (
                "ttl.allowed is false"
                if not settings.ttl.allowed
                else f"ttl.max_seconds is {settings.ttl.max_seconds}"
            )
            raise InvalidRequest(
                f"ttl_seconds {ttl} is not allowed for tenant '{principal.tenant}' ({limit})",
                problems=[FieldProblem("ttl_seconds", f"over the tenant's limit: {limit}")],
                code="ttl_not_allowed",
                stage="feature",
            )
        return StageOutcome(
            StageStatus.PASS,
            facts={
                "approval_mode": settings.approval_mode.value,
                "danger_threshold": settings.danger_threshold,
            },
        )
