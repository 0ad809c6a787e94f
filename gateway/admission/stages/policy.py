"""policy: the governance rules (Rego), with the facts Python gathered as input."""

from __future__ import annotations

import asyncio

from gateway.admission.context import AdmissionContext
from gateway.admission.stage import StageOutcome
from gateway.admission.stages.rego import outcome_of, shadow_verdict
from gateway.config import DedupMode
from gateway.contract.decision import StageName
from gateway.costs.ledger import CostLedger
from gateway.policy.engine import Entrypoint
from gateway.policy.input import SwarmFacts, admission_input
from gateway.registry.base import Registry
from gateway.registry.discovery import covering_agents

__all__ = ["PolicyStage"]


class PolicyStage:
    name = StageName.POLICY

    def __init__(self, registry: Registry, costs: CostLedger, *, hold_seconds: float) -> None:
        #: Where the swarm facts come from; a registry failure fails the request closed.
        self._registry = registry
        #: The tenant's estimated daily total; a Redis failure fails the request closed.
        self._costs = costs
        #: Longest a hold outlives a gateway that died mid-admission.
        self._hold_seconds = hold_seconds

    async def _cost(self, ctx: AdmissionContext, tenant: str) -> float:
        """The tenant's active total plus its other admissions in flight, holding this
        one's cost while it runs: two admissions at once cannot both pass the cost
        rule under the limit (gateway.costs.ledger)."""
        # Set first: a hold written whose answer was lost is still ended by the release.
        ctx.cost_held = tenant
        return await self._costs.hold(
            tenant,
            ctx.decision_id,
            ctx.need_request().name,
            ctx.need_effective().estimated_cost_per_day,
            seconds=self._hold_seconds,
        )

    async def _swarm(self, ctx: AdmissionContext) -> SwarmFacts:
        """Facts about the tenant's existing agents (input.swarm, policies/spawngate/dedup)."""
        tenant = ctx.need_principal().tenant
        # With dedup off the answer cannot change the verdict: spare the registry.
        if ctx.need_settings().dedup is DedupMode.OFF:
            return {"covering_agents": [], "active_cost_per_day": await self._cost(ctx, tenant)}
        # Both reads at once: one round trip of waiting instead of two. Both finish
        # before either failure is raised, so a hold is in place before the release
        # that the deny brings (else the release could run first and leave it behind).
        covering, active_cost = await asyncio.gather(
            covering_agents(self._registry, tenant, ctx.need_effective().capabilities),
            self._cost(ctx, tenant),
            return_exceptions=True,
        )
        if isinstance(covering, BaseException):
            raise covering
        if isinstance(active_cost, BaseException):
            raise active_cost
        return {"covering_agents": covering, "active_cost_per_day": active_cost}

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        snapshot = ctx.need_policy()
        reservation = ctx.reservation
        document = admission_input(
            kind=ctx.kind,
            request=ctx.need_request(),
            principal=ctx.need_principal(),
            settings=ctx.need_settings(),
            effective=ctx.need_effective(),
            blueprint=ctx.blueprint,
            counts=reservation.counts if reservation else {},
            catalog=list(snapshot.catalog.names()),
            swarm=await self._swarm(ctx),
        )
        ctx.policy_document = document
        verdict = await snapshot.engine.evaluate(Entrypoint.ADMISSION, document)
        ctx.engine_revision = verdict.revision
        ctx.shadow_admission = await shadow_verdict(ctx, Entrypoint.ADMISSION, document)
        ctx.obligations = verdict.obligations
        return outcome_of(self.name, verdict, ctx)
