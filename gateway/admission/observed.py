"""What an answered request tells telemetry: the facts, taken from the run itself.

Built once per answer from the trace and the answer the caller gets (never the
request body), then counted in the metrics and written as one log line.
"""

from __future__ import annotations

from gateway.admission.answer import AdmissionAnswer
from gateway.admission.context import AdmissionContext
from gateway.admission.runner import Trace
from gateway.contract.decision import StageName, StageStatus
from gateway.telemetry import DecisionFacts

__all__ = ["facts_of"]


def facts_of(
    ctx: AdmissionContext, trace: Trace, answer: AdmissionAnswer, seconds: float
) -> DecisionFacts:
    body = answer.body
    error = body.get("error")
    dependency = error.get("dependency") if isinstance(error, dict) else None
    reasons = body.get("reasons")
    first = reasons[0].get("code") if isinstance(reasons, list) and reasons else None
    principal = ctx.principal
    score = body.get("danger_score")
    return DecisionFacts(
        decision_id=ctx.decision_id,
        kind=ctx.kind.value,
        tenant=principal.tenant if principal is not None else None,
        principal=principal.id if principal is not None else None,
        outcome=str(body.get("outcome", "failed")),
        verdict=str(body.get("verdict", "deny")),
        status=answer.status_code,
        seconds=seconds,
        stages=tuple(
            (r.stage.value, r.duration_ms / 1000)
            for r in trace.results
            if r.status is not StageStatus.SKIPPED
        ),
        danger_score=float(score) if isinstance(score, int | float) else None,
        quota_refused=any(
            r.stage is StageName.QUOTA and r.status is StageStatus.DENY for r in trace.results
        ),
        dependency=dependency if isinstance(dependency, str) else None,
        reason=first if isinstance(first, str) else None,
    )
