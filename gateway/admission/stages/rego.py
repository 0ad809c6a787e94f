"""What the policy and danger stages share: a Rego verdict as a stage outcome,
and the shadow revision's verdict beside the live one."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gateway.admission.context import AdmissionContext
from gateway.admission.stage import StageOutcome
from gateway.contract.decision import Reason, StageName, StageStatus
from gateway.errors import SpawngateError
from gateway.policy.engine import Entrypoint, PolicyReason, PolicyVerdict

__all__ = ["outcome_of", "shadow_verdict"]

logger = logging.getLogger("spawngate.shadow")


def outcome_of(stage: StageName, verdict: PolicyVerdict, ctx: AdmissionContext) -> StageOutcome:
    """Deny rules deny; review rules ask a human (and are kept for the approval stage)."""

    def reasons(items: tuple[PolicyReason, ...]) -> tuple[Reason, ...]:
        return tuple(
            Reason.model_construct(stage=stage, code=r.rule, message=r.message, fix=r.fix)
            for r in items
        )

    facts: dict[str, object] = {
        "deny": [r.rule for r in verdict.deny],
        "review": [r.rule for r in verdict.review],
    }
    if verdict.deny:
        return StageOutcome(StageStatus.DENY, reasons(verdict.deny), facts)
    if verdict.review:
        ctx.review_reasons.extend(verdict.review)
        return StageOutcome(StageStatus.REVIEW, reasons(verdict.review), facts)
    return StageOutcome(StageStatus.PASS, (), facts)


async def shadow_verdict(
    ctx: AdmissionContext, entrypoint: Entrypoint, document: Mapping[str, Any]
) -> PolicyVerdict | None:
    """The shadow revision's verdict. Its failure is recorded, never passed to the live one."""
    if ctx.shadow_policy is None:
        return None
    try:
        return await ctx.shadow_policy.engine.evaluate(entrypoint, document)
    except SpawngateError as exc:
        ctx.shadow_error = exc.reason
    # Isolation boundary: a bug in the shadow revision must never deny a live request.
    except Exception as exc:
        logger.exception("shadow policy evaluation failed")
        ctx.shadow_error = f"{type(exc).__name__}: {exc}"
    return None
