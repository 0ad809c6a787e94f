"""What a decision is: stage results, verdicts and the decision record.

These models are frozen and refuse unknown fields: a decision, once made, is a
value that is recorded and answered, never edited.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from gateway.contract.request import AgentKind

__all__ = [
    "Decision",
    "Outcome",
    "Reason",
    "StageName",
    "StageResult",
    "StageStatus",
    "Verdict",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StageName(StrEnum):
    VALIDATE = "validate"
    AUTHENTICATE = "authenticate"
    FEATURE = "feature"
    AUTHORIZE = "authorize"
    QUOTA = "quota"
    TEMPLATE = "template"
    POLICY = "policy"
    DANGER = "danger"
    APPROVAL = "approval"
    CREATE = "create"
    AUDIT = "audit"


class StageStatus(StrEnum):
    """What one stage said."""

    PASS = "pass"  # noqa: S105 - not a password: the stage let the request through
    REVIEW = "review"  # a human must decide
    DENY = "deny"
    ERROR = "error"  # the stage could not decide: counts as a deny (fail closed)
    SKIPPED = "skipped"  # an earlier stage already decided


class Verdict(StrEnum):
    """The combined verdict of the pipeline."""

    ALLOW = "allow"
    REVIEW = "review"
    DENY = "deny"


class Outcome(StrEnum):
    """What happened to the request, as the caller sees it."""

    #: Only in decision records: allowed, and creation follows (see the outcome record).
    ALLOWED = "allowed"
    CREATED = "created"
    PENDING_APPROVAL = "pending_approval"
    DENIED = "denied"
    FAILED = "failed"  # denied because a dependency or the gateway failed


class Reason(_Frozen):
    """One reason, with the rule or check that gave it and, where known, a concrete fix."""

    stage: StageName
    code: str
    message: str
    fix: str | None = None


class StageResult(_Frozen):
    stage: StageName
    status: StageStatus
    reasons: tuple[Reason, ...] = ()
    duration_ms: float = 0.0
    #: Facts the stage established, for the record (never read by another stage).
    facts: dict[str, JsonValue] = Field(default_factory=dict)


class Decision(_Frozen):
    decision_id: str
    timestamp: datetime
    path: str
    kind: AgentKind
    tenant: str | None
    principal: str | None
    input: dict[str, JsonValue]
    stages: tuple[StageResult, ...]
    verdict: Verdict
    outcome: Outcome
    status_code: int
    reasons: tuple[Reason, ...]
    obligations: tuple[str, ...] = ()
    danger_score: float | None = None
    revision: str
    approval_id: str | None = None
    agent: dict[str, JsonValue] | None = None
    #: The document the policy engine saw (with "danger" when scoring ran), so that
    #: a decision can be replayed under another revision; None if policy never ran.
    policy_input: dict[str, JsonValue] | None = None
    #: What a shadow (candidate) revision decided, when it differed from the live one.
    shadow: dict[str, JsonValue] | None = None
    #: A credential issued to the new agent (only when it may itself create agents).
    #: Returned once to the caller and never written to the decision log.
    agent_api_key: str | None = Field(default=None, exclude=True, repr=False)
    duration_ms: float
