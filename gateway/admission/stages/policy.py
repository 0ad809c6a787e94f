"""policy and danger: the Rego verdicts, with the facts Python gathered as input."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gateway.admission.context import AdmissionContext
from gateway.admission.pipeline import StageOutcome
from gateway.config import DedupMode
from gateway.contract.decision import Reason, StageName, StageStatus
from gateway.danger.base import Proposal, Scorer
from gateway.errors import DependencyUnavailable, SpawngateError
from gateway.policy.engine import Entrypoint, PolicyVerdict
from gateway.registry.base import Registry
from gateway.registry.discovery import covering_agents

logger = logging.getLogger("spawngate.shadow")

__all__ = ["DANGER_INPUT_KEYS", "DangerStage", "PolicyStage", "policy_input"]

#: What data.spawngate.main.danger sees besides input.danger (policies/README.md).
DANGER_INPUT_KEYS = ("kind", "creator", "tenant", "template", "effective")


def policy_input(ctx: AdmissionContext) -> dict[str, Any]:
    """The input document every policy sees (documented in policies/README.md)."""
    request = ctx.need_request()
    principal = ctx.need_principal()
    settings = ctx.need_settings()
    effective = ctx.need_effective()
    blueprint = ctx.blueprint
    reservation = ctx.reservation
    counts = reservation.counts if reservation else {}
    return {
        "kind": ctx.kind.value,
        "request": request.model_dump(mode="json", exclude_none=True),
        "creator": {
            "id": principal.id,
            "tenant": principal.tenant,
            "kind": principal.kind.value,
            "tools": list(principal.tools),
            "parent": principal.parent,
            "root": principal.root,
            "depth": principal.depth,
        },
        "tenant": {
            "id": principal.tenant,
            "approval_mode": settings.approval_mode.value,
            "danger_threshold": settings.danger_threshold,
            "max_cost_per_day": settings.max_cost_per_day,
            "create_inactive": settings.create_inactive,
            "lineage": settings.lineage.model_dump(),
            "dedup": settings.dedup.value,
            "require_justification": settings.require_justification,
        },
        "template": {
            "name": effective.template,
            "exists": blueprint is not None,
            "tenants": list(blueprint.tenants) if blueprint else [],
            "pre_approved": blueprint.pre_approved if blueprint else False,
            "allow_spawning": blueprint.allow_spawning if blueprint else False,
            "capability_modules": sorted(blueprint.capability_modules) if blueprint else [],
        },
        "catalog": list(ctx.need_policy().catalog.names()),
        "effective": {
            "tools": list(effective.tools),
            "tool_sources": effective.tool_sources(),
            "capabilities": list(effective.capabilities),
            "provider": effective.provider,
            "model": effective.model,
            "estimated_cost_per_day": effective.estimated_cost_per_day,
            "depth": effective.depth,
        },
        "usage": {
            "tenant_active": counts.get("tenant max_active_agents", 0),
            "tenant_day": counts.get("tenant per_day", 0),
            "agent_day": counts.get("agent per_day", 0),
            "root_descendants": counts.get("lineage max_descendants_per_root", 0),
        },
    }


async def _shadow(
    ctx: AdmissionContext, entrypoint: Entrypoint, document: dict[str, Any]
) -> PolicyVerdict | None:
    """The shadow revision's verdict. Its failure is recorded, never passed to the live one."""
    if ctx.shadow_policy is None:
        return None
    try:
        return await ctx.shadow_policy.engine.evaluate(entrypoint, document)
    except SpawngateError as exc:
        ctx.shadow_error = exc.reason
    # Isolation boundary: a bug in the shadow revision must never deny a live request.
    except Exception as exc:
        logger.exception("shadow policy evaluation failed")
        ctx.shadow_error = f"{type(exc).__name__}: {exc}"
    return None


def _outcome(stage: StageName, verdict: PolicyVerdict, ctx: AdmissionContext) -> StageOutcome:
    def reasons(items: tuple[Any, ...]) -> tuple[Reason, ...]:
        return tuple(Reason(stage=stage, code=r.rule, message=r.message, fix=r.fix) for r in items)

    facts: dict[str, object] = {
        "deny": [r.rule for r in verdict.deny],
        "review": [r.rule for r in verdict.review],
    }
    if verdict.deny:
        return StageOutcome(StageStatus.DENY, reasons(verdict.deny), facts)
    if verdict.review:
        ctx.review_reasons.extend(verdict.review)
        return StageOutcome(StageStatus.REVIEW, reasons(verdict.review), facts)
    return StageOutcome(StageStatus.PASS, (), facts)


class PolicyStage:
    name = StageName.POLICY

    def __init__(self, registry: Registry) -> None:
        #: Where the swarm facts come from; a registry failure fails the request closed.
        self._registry = registry

    async def _swarm(self, ctx: AdmissionContext) -> dict[str, Any]:
        """Facts about the tenant's existing agents (input.swarm, policies/spawngate/dedup)."""
        settings = ctx.need_settings()
        covering: list[str] = []
        # With dedup off the answer cannot change the verdict: spare the registry.
        if settings.dedup is not DedupMode.OFF:
            covering = await covering_agents(
                self._registry, ctx.need_principal().tenant, ctx.need_effective().capabilities
            )
        return {"covering_agents": covering}

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        ctx.policy_document = policy_input(ctx)
        ctx.policy_document["swarm"] = await self._swarm(ctx)
        verdict = await ctx.need_policy().engine.evaluate(Entrypoint.ADMISSION, ctx.policy_document)
        ctx.engine_revision = verdict.revision
        ctx.shadow_admission = await _shadow(ctx, Entrypoint.ADMISSION, ctx.policy_document)
        ctx.obligations = verdict.obligations
        return _outcome(self.name, verdict, ctx)


class DangerStage:
    name = StageName.DANGER

    def __init__(self, scorer: Scorer, *, timeout: float) -> None:
        self._scorer = scorer
        self._timeout = timeout

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        request = ctx.need_request()
        effective = ctx.need_effective()
        proposal = Proposal(
            name=request.name,
            kind=ctx.kind.value,
            role=request.role,
            instructions=request.instructions,
            system_prompt=effective.system_prompt,
            expertise=getattr(request, "expertise", None),
            justification=request.justification,
            template=effective.template,
            tools=effective.tools,
            capabilities=effective.capabilities,
            depth=effective.depth,
        )
        try:
            async with asyncio.timeout(self._timeout):
                report = await self._scorer.score(proposal)
        except TimeoutError as exc:
            raise DependencyUnavailable(
                f"danger scorer '{self._scorer.name}' timed out", dependency="scorer"
            ) from exc
        ctx.danger = report
        base = ctx.policy_document or policy_input(ctx)
        # The danger verdict sees the proposed agent and its tenant, not the
        # request texts again (they are what was scored): a smaller input is a
        # measurably cheaper query in the embedded interpreter.
        document = {key: base[key] for key in DANGER_INPUT_KEYS}
        document["danger"] = ctx.danger_facts = {
            "score": report.score,
            "categories": [c.value for c in report.categories],
            "reviewer_unavailable": report.reviewer_unavailable,
        }
        verdict = await ctx.need_policy().engine.evaluate(Entrypoint.DANGER, document)
        if verdict.revision and ctx.engine_revision and verdict.revision != ctx.engine_revision:
            # OPA swapped bundles between the two queries: say that two revisions decided.
            ctx.engine_revision = f"{ctx.engine_revision}+{verdict.revision}"
        if ctx.shadow_admission is not None and not ctx.shadow_admission.deny:
            ctx.shadow_danger = await _shadow(ctx, Entrypoint.DANGER, document)
        outcome = _outcome(self.name, verdict, ctx)
        facts = dict(outcome.facts or {})
        facts.update(
            {
                "score": report.score,
                "scorer": f"{report.scorer}/{report.version}",
                "categories": [c.value for c in report.categories],
                "findings": [f.model_dump(mode="json") for f in report.findings],
            }
        )
        return StageOutcome(outcome.status, outcome.reasons, facts)
