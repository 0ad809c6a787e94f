"""The admission pipeline: named stages, in one fixed order, and one combination rule.

Order (why it is this order):

    validate      reject malformed input before spending anything on it
    authenticate  who is calling decides the tenant, and everything after; it
                  runs even after validation denied (the request stays denied),
                  so that every attempt is recorded with the caller's tenant
    feature       self-service is off unless the tenant turned it on (seed 000)
    authorize     Casbin: may this principal create this kind, in its tenant
    quota         reserve counters atomically before any expensive step, so a
                  burst cannot run N policy and LLM evaluations for K slots
    template      resolve the blueprint: the facts policy needs
    policy        governance rules (Rego); cheap, so it runs before danger
    danger        the scorer (possibly an LLM call) only runs for requests
                  policy did not already deny; its verdict is policy too
    approval      review anywhere means a human decides
    create        forward to the registry (only on allow)
    audit         the decision record is written *before* create and before the
                  answer; an outcome record follows create

Combination rule (the only place it is written):

    1. a deny from any stage wins;
    2. an error in any stage is a deny (fail closed);
    3. otherwise a review from any stage sends the request to a human;
    4. otherwise the request is allowed, but only if every deciding stage
       actually ran and passed: no allow means deny.

A stage stops the pipeline when it denies or errs; the stages after it are
recorded as skipped. Review does not stop it: a later deny still wins.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.admission.context import AdmissionContext
from gateway.contract.decision import Reason, StageName, StageResult, StageStatus, Verdict
from gateway.errors import DependencyError, InternalError, RequestError, SpawngateError

__all__ = [
    "DECIDING_STAGES",
    "STAGE_ORDER",
    "Pipeline",
    "RunResult",
    "Stage",
    "StageOutcome",
    "combine",
]

logger = logging.getLogger("spawngate.pipeline")

STAGE_ORDER: tuple[StageName, ...] = (
    StageName.VALIDATE,
    StageName.AUTHENTICATE,
    StageName.FEATURE,
    StageName.AUTHORIZE,
    StageName.QUOTA,
    StageName.TEMPLATE,
    StageName.POLICY,
    StageName.DANGER,
    StageName.APPROVAL,
    StageName.CREATE,
    StageName.AUDIT,
)

#: Stages that must all have run and passed (or asked for review) for an allow.
DECIDING_STAGES: tuple[StageName, ...] = STAGE_ORDER[: STAGE_ORDER.index(StageName.APPROVAL) + 1]


@dataclass(frozen=True, slots=True)
class StageOutcome:
    status: StageStatus
    reasons: tuple[Reason, ...] = ()
    facts: dict[str, object] | None = None


class Stage(Protocol):
    name: StageName

    async def run(self, ctx: AdmissionContext) -> StageOutcome: ...


@dataclass(frozen=True, slots=True)
class RunResult:
    results: tuple[StageResult, ...]
    #: The error that stopped the pipeline, if one did (it decides the HTTP status).
    error: SpawngateError | None


def combine(results: Sequence[StageResult]) -> Verdict:
    """The combination rule; see the module docstring."""
    statuses = {r.stage: r.status for r in results}
    if any(s in (StageStatus.DENY, StageStatus.ERROR) for s in statuses.values()):
        return Verdict.DENY
    for stage in DECIDING_STAGES:
        if statuses.get(stage) not in (StageStatus.PASS, StageStatus.REVIEW):
            return Verdict.DENY
    if any(s is StageStatus.REVIEW for s in statuses.values()):
        return Verdict.REVIEW
    return Verdict.ALLOW


def _error_reason(stage: StageName, exc: SpawngateError) -> Reason:
    return Reason(stage=stage, code=exc.code, message=exc.reason)


class Pipeline:
    def __init__(self, stages: Sequence[Stage]) -> None:
        names = tuple(s.name for s in stages)
        expected = tuple(n for n in STAGE_ORDER if n in names)
        if names != expected:
            raise ValueError(f"stages out of order: {names}; the order is {STAGE_ORDER}")
        self._stages = tuple(stages)

    async def run(
        self,
        ctx: AdmissionContext,
        *,
        start: StageName | None = None,
        stop: StageName | None = None,
        previous: Sequence[StageResult] = (),
    ) -> RunResult:
        """Run the stages from ``start`` to ``stop`` (inclusive), after ``previous`` results."""
        results = list(previous)
        error: SpawngateError | None = None
        running = start is None
        halted = any(r.status in (StageStatus.DENY, StageStatus.ERROR) for r in results)
        for stage in self._stages:
            if not running:
                if stage.name is start:
                    running = True
                else:
                    continue
            if halted:
                results.append(StageResult(stage=stage.name, status=StageStatus.SKIPPED))
            else:
                result, error = await self._run_one(stage, ctx)
                results.append(result)
                halted = result.status in (StageStatus.DENY, StageStatus.ERROR)
            if stage.name is stop:
                break
        return RunResult(results=tuple(results), error=error)

    async def _run_one(
        self, stage: Stage, ctx: AdmissionContext
    ) -> tuple[StageResult, SpawngateError | None]:
        began = time.perf_counter()
        error: SpawngateError | None = None
        try:
            outcome = await stage.run(ctx)
        except RequestError as exc:
            error = exc.with_stage(stage.name.value)
            outcome = StageOutcome(StageStatus.DENY, (_error_reason(stage.name, exc),))
        except DependencyError as exc:
            error = exc.with_stage(stage.name.value)
            logger.warning("stage %s failed closed: %s", stage.name.value, exc.reason)
            outcome = StageOutcome(StageStatus.ERROR, (_error_reason(stage.name, exc),))
        except Exception as exc:
            # A bug: deny, record it, and keep the traceback in the log.
            logger.exception("stage %s raised unexpectedly", stage.name.value)
            error = InternalError(
                f"{type(exc).__name__} in stage {stage.name.value}", stage=stage.name.value
            )
            outcome = StageOutcome(StageStatus.ERROR, (_error_reason(stage.name, error),))
        elapsed = (time.perf_counter() - began) * 1000
        facts = {k: v for k, v in (outcome.facts or {}).items()}
        result = StageResult(
            stage=stage.name,
            status=outcome.status,
            reasons=outcome.reasons,
            duration_ms=round(elapsed, 3),
            facts=facts,
        )
        return result, error
