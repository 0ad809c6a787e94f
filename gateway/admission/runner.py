"""Running stages in order, with one failure mode for all of them.

Every stage fails the same way: a request error is a deny, a dependency error
or an unexpected exception is an error (which the combination rule counts as a
deny), and the error is kept to decide the HTTP status. After a deny or an
error the remaining stages are recorded as skipped, never run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from pydantic import JsonValue

from gateway.admission.context import AdmissionContext
from gateway.admission.stage import Stage, StageOutcome
from gateway.contract.decision import Reason, StageName, StageResult, StageStatus
from gateway.errors import DependencyError, InternalError, RequestError, SpawngateError

__all__ = ["StageRunner", "Trace"]

logger = logging.getLogger("spawngate.pipeline")

_STOPS = (StageStatus.DENY, StageStatus.ERROR)


@dataclass(slots=True)
class Trace:
    """The stage results of one run so far, and the first error that stopped it."""

    results: list[StageResult] = field(default_factory=list)
    error: SpawngateError | None = None

    @property
    def halted(self) -> bool:
        return any(r.status in _STOPS for r in self.results)

    def frozen(self) -> tuple[StageResult, ...]:
        return tuple(self.results)


class StageRunner:
    def __init__(self, stages: Sequence[Stage], order: Sequence[StageName]) -> None:
        names = tuple(s.name for s in stages)
        expected = tuple(n for n in order if n in names)
        if names != expected:
            raise ValueError(f"stages out of order: {names}; the order is {tuple(order)}")
        self._stages = tuple(stages)

    async def run(
        self,
        ctx: AdmissionContext,
        trace: Trace,
        first: StageName,
        last: StageName,
        *,
        even_if_halted: bool = False,
    ) -> None:
        """Run the stages from ``first`` to ``last`` (inclusive), appending to ``trace``.

        After an earlier deny or error the stages are recorded as skipped, unless
        ``even_if_halted`` (authentication runs after a failed validation, so that
        the record of the attempt carries the caller's tenant).
        """
        running = False
        halted = trace.halted and not even_if_halted
        for stage in self._stages:
            running = running or stage.name is first
            if not running:
                continue
            if halted:
                trace.results.append(
                    StageResult.model_construct(stage=stage.name, status=StageStatus.SKIPPED)
                )
            else:
                result, error = await self._run_one(stage, ctx)
                trace.results.append(result)
                trace.error = trace.error or error
                halted = result.status in _STOPS
            if stage.name is last:
                break

    async def _run_one(
        self, stage: Stage, ctx: AdmissionContext
    ) -> tuple[StageResult, SpawngateError | None]:
        began = time.perf_counter()
        error: SpawngateError | None = None
        try:
            outcome = await stage.run(ctx)
        except RequestError as exc:
            error = exc.with_stage(stage.name.value)
            outcome = StageOutcome(StageStatus.DENY, (_reason(stage.name, exc),))
        except DependencyError as exc:
            error = exc.with_stage(stage.name.value)
            logger.warning("stage %s failed closed: %s", stage.name.value, exc.reason)
            outcome = StageOutcome(StageStatus.ERROR, (_reason(stage.name, exc),))
        except Exception as exc:
            # A bug: deny, record it, and keep the traceback in the log.
            logger.exception("stage %s raised unexpectedly", stage.name.value)
            error = InternalError(
                f"{type(exc).__name__} in stage {stage.name.value}", stage=stage.name.value
            )
            outcome = StageOutcome(StageStatus.ERROR, (_reason(stage.name, error),))
        elapsed = (time.perf_counter() - began) * 1000
        # Built by our own code from typed parts: constructed, not validated again
        # (validation belongs at the boundary; the audit writer checks each record).
        result = StageResult.model_construct(
            stage=stage.name,
            status=outcome.status,
            reasons=outcome.reasons,
            duration_ms=round(elapsed, 3),
            # Stage facts are JSON by construction (str, numbers, lists, dicts).
            facts=cast("dict[str, JsonValue]", dict(outcome.facts or {})),
        )
        return result, error


def _reason(stage: StageName, exc: SpawngateError) -> Reason:
    return Reason.model_construct(stage=stage, code=exc.code, message=exc.reason)
