"""What a stage is: a named step of the pipeline that reads and fills the context.

A stage returns a ``StageOutcome`` (pass, review or deny, with reasons and the
facts it established for the record) or raises an error from
``gateway.errors``; the runner (``gateway.admission.runner``) turns both into
the ``StageResult`` that is recorded. A stage never decides the verdict: the
combination rule (``gateway.admission.pipeline.combine``) does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from gateway.contract.decision import Reason, StageName, StageStatus

if TYPE_CHECKING:
    from gateway.admission.context import AdmissionContext

__all__ = ["Stage", "StageOutcome"]


@dataclass(frozen=True, slots=True)
class StageOutcome:
    status: StageStatus
    reasons: tuple[Reason, ...] = ()
    facts: dict[str, object] | None = None


class Stage(Protocol):
    name: StageName

    async def run(self, ctx: AdmissionContext) -> StageOutcome: ...
