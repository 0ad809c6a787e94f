"""What a verdict means for the caller: the outcome and the HTTP status.

The verdict itself comes from one place, ``gateway.admission.pipeline.combine``;
this module only derives from it, so no front or step re-derives a verdict
from stage statuses on its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.contract.decision import Outcome, StageName, StageResult, StageStatus, Verdict
from gateway.errors import DependencyError, SpawngateError

__all__ = ["outcome_of", "policy_verdict", "status_for"]


def outcome_of(verdict: Verdict, error: SpawngateError | None) -> Outcome:
    """The outcome a verdict has before anything is queued or created."""
    if verdict is Verdict.ALLOW:
        return Outcome.ALLOWED
    if verdict is Verdict.REVIEW:
        return Outcome.PENDING_APPROVAL
    # A deny caused by a failing dependency (or the gateway) is a failure, not a refusal.
    return Outcome.FAILED if isinstance(error, DependencyError) else Outcome.DENIED


def status_for(outcome: Outcome, error: SpawngateError | None) -> int:
    """The HTTP status of an answer with this outcome."""
    if outcome in (Outcome.CREATED, Outcome.ALLOWED):
        return 201
    if outcome is Outcome.PENDING_APPROVAL:
        return 202
    if error is not None:
        return error.status
    return 403


def policy_verdict(results: Iterable[StageResult]) -> Verdict | None:
    """The verdict of the policy and danger stages alone (what a shadow revision is
    compared with); None when policy never ran."""
    status = {r.stage: r.status for r in results}
    policy, danger = status.get(StageName.POLICY), status.get(StageName.DANGER)
    if policy in (None, StageStatus.SKIPPED):
        return None
    if StageStatus.DENY in (policy, danger) or StageStatus.ERROR in (policy, danger):
        return Verdict.DENY
    if StageStatus.REVIEW in (policy, danger):
        return Verdict.REVIEW
    return Verdict.ALLOW
