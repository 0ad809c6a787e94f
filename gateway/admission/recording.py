"""The decision of one run, as it is recorded and answered.

Built from the context and the stage results once the verdict is known (and
again after creation, for the final answer). The request is recorded as
normalised by validation, or, when it never validated, as a bounded digest.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue

from gateway.admission.context import AdmissionContext
from gateway.admission.verdict import policy_verdict, status_for
from gateway.contract.body import digest as body_digest
from gateway.contract.decision import Decision, Outcome, Reason, StageResult, Verdict
from gateway.contract.request import AgentKind
from gateway.errors import SpawngateError
from gateway.policy.engine import rego_verdict

__all__ = ["APPROVE_PATH", "decision_of"]

PATHS = {AgentKind.AGENT: "spawngate/create_agent", AgentKind.SME: "spawngate/create_sme"}
#: The path of a decision made when an approver approves a queued request.
APPROVE_PATH = "spawngate/approve"


def decision_of(
    ctx: AdmissionContext,
    results: tuple[StageResult, ...],
    verdict: Verdict,
    outcome: Outcome,
    error: SpawngateError | None,
    *,
    extra: tuple[Reason, ...] = (),
    path: str | None = None,
) -> Decision:
    principal = ctx.principal
    if ctx.request is not None:
        normalised: dict[str, JsonValue] = ctx.request.model_dump(mode="json", exclude_none=True)
    else:
        # A body that failed validation is recorded as a bounded digest (size,
        # SHA-256, a short excerpt), never as received: it may be large, or
        # hold values that cannot be serialised or hashed.
        normalised = {"refused_body": body_digest(ctx.raw_body)}
    # Constructed, not validated: every part is already typed (the request was
    # validated at the door); the audit writer checks the record it serialises.
    return Decision.model_construct(
        decision_id=ctx.decision_id,
        timestamp=datetime.now(UTC),
        path=path or PATHS[ctx.kind],
        kind=ctx.kind,
        tenant=principal.tenant if principal else None,
        principal=principal.id if principal else None,
        input=normalised,
        stages=results,
        verdict=verdict,
        outcome=outcome,
        status_code=status_for(outcome, error),
        reasons=_collect_reasons(results) + extra,
        obligations=ctx.obligations,
        danger_score=ctx.danger.score if ctx.danger else None,
        revision=ctx.engine_revision or ctx.need_policy().revision,
        approval_id=ctx.approval_id if verdict is Verdict.REVIEW else None,
        agent=ctx.created,
        policy_input=_policy_input(ctx),
        shadow=_shadow_difference(ctx, results),
        agent_api_key=ctx.issued_key,
        duration_ms=round((time.perf_counter() - ctx.began) * 1000, 3),
    )


def _policy_input(ctx: AdmissionContext) -> dict[str, Any] | None:
    """The document the policy engine saw, with what it saw of the danger score."""
    if ctx.policy_document is None:
        return None
    if ctx.danger_facts is None:
        return dict(ctx.policy_document)
    return {**ctx.policy_document, "danger": ctx.danger_facts}


def _collect_reasons(results: tuple[StageResult, ...]) -> tuple[Reason, ...]:
    seen: set[tuple[str, str]] = set()
    out: list[Reason] = []
    for r in results:
        for reason in r.reasons:
            key = (reason.code, reason.message)
            if key not in seen:
                seen.add(key)
                out.append(reason)
    return tuple(out)


def _shadow_difference(
    ctx: AdmissionContext, results: tuple[StageResult, ...]
) -> dict[str, Any] | None:
    """What the shadow revision would have decided, recorded only when it differs."""
    if ctx.shadow_policy is None:
        return None
    live_verdict = policy_verdict(results)
    live = live_verdict.value if live_verdict else None
    if ctx.shadow_error is not None:
        return {
            "revision": ctx.shadow_policy.revision,
            "error": ctx.shadow_error,
            "live_verdict": live,
        }
    admission = ctx.shadow_admission
    if admission is None or live is None:
        return None
    danger = ctx.shadow_danger
    rules = {r.rule for r in (*admission.deny, *admission.review)}
    if danger is not None and not admission.deny:
        rules |= {r.rule for r in (*danger.deny, *danger.review)}
    # Live denied before scoring (danger None): the shadow verdict is the admission's alone.
    verdict = rego_verdict(admission, None if admission.deny else danger)
    if verdict == live:
        return None
    return {
        "revision": ctx.shadow_policy.revision,
        "verdict": verdict,
        "live_verdict": live,
        "rules": sorted(rules),
        "danger_scored": danger is not None,
    }
