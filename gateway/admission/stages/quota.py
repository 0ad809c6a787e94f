"""quota: reserve every rate, swarm and lineage counter in one atomic step."""

from __future__ import annotations

from gateway.admission.context import AdmissionContext
from gateway.admission.stage import StageOutcome
from gateway.contract.decision import StageName, StageStatus
from gateway.quotas.ledger import QuotaLedger

__all__ = ["QuotaStage"]


class QuotaStage:
    name = StageName.QUOTA

    def __init__(self, ledger: QuotaLedger) -> None:
        self._ledger = ledger

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        principal = ctx.need_principal()
        counters = self._ledger.counters(
            tenant=principal.tenant,
            principal=principal.id,
            root=principal.root,
            settings=ctx.need_settings(),
        )
        ctx.reservation = await self._ledger.reserve(counters)
        return StageOutcome(StageStatus.PASS, facts={"counts": dict(ctx.reservation.counts)})
