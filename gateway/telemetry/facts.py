"""What the pipeline tells telemetry about one answered request: a plain record."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DecisionFacts"]


@dataclass(frozen=True, slots=True)
class DecisionFacts:
    decision_id: str
    kind: str
    tenant: str | None
    principal: str | None
    outcome: str
    verdict: str
    status: int
    seconds: float
    #: (stage, seconds) for every stage that ran.
    stages: tuple[tuple[str, float], ...]
    danger_score: float | None
    #: A quota stage refused the request.
    quota_refused: bool
    #: The dependency whose failure decided the request (it failed closed), if any.
    dependency: str | None
    #: The first reason's code, for the log line (never the request body).
    reason: str | None
