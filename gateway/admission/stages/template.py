"""template: resolve the blueprint and work out the agent that would be created.

This stage only establishes facts; whether the blueprint may be used at all
is policy (policies/spawngate/templates). An unknown template is recorded as
such and denied there, with the list of templates that are allowed.
"""

from __future__ import annotations

from gateway.admission.context import AdmissionContext
from gateway.admission.stage import StageOutcome
from gateway.contract.decision import StageName, StageStatus
from gateway.policy.blueprints import (
    DEFAULT_MODEL,
    DEFAULT_NEXT_AGENT,
    DEFAULT_PROVIDER,
    DEFAULT_TEMPLATE,
    EffectiveAgent,
    render_system_prompt,
)

__all__ = ["TemplateStage"]


class TemplateStage:
    name = StageName.TEMPLATE

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        request = ctx.need_request()
        principal = ctx.need_principal()
        settings = ctx.need_settings()
        name = request.template or DEFAULT_TEMPLATE
        blueprint = ctx.need_policy().catalog.get(name)
        ctx.blueprint = blueprint
        # Blueprint tools are granted by the template's owners, not by the creator;
        # only what the creator adds is charged to it (policies/spawngate/tools).
        from_template = set(blueprint.tools_for(request.capabilities)) if blueprint else set()
        requested = set(request.tools)
        tools = requested | from_template
        # Provider and model: the request's, else the blueprint's, else the
        # tenant's world defaults (seed 002), else fixed documented defaults.
        provider = (
            request.provider
            or (blueprint.provider if blueprint else None)
            or settings.default_provider
            or DEFAULT_PROVIDER
        )
        model = (
            request.model
            or (blueprint.model if blueprint else None)
            or settings.default_model
            or DEFAULT_MODEL
        )
        # A request may state its own estimate, but never below its template's: the
        # larger one counts (a lower figure would slip an agent past the cost review).
        cost = max(
            request.estimated_cost_per_day or 0.0,
            blueprint.estimated_cost_per_day if blueprint else 0.0,
        )
        ctx.effective = EffectiveAgent(
            template=name,
            template_found=blueprint is not None,
            tools=tuple(sorted(tools)),
            capabilities=tuple(request.capabilities),
            provider=provider,
            model=model,
            estimated_cost_per_day=float(cost),
            depth=principal.depth + 1,
            system_prompt=render_system_prompt(blueprint, request) if blueprint else "",
            next_agent=request.next_agent or DEFAULT_NEXT_AGENT,
            tools_from_template=tuple(sorted(from_template)),
            tools_from_request=tuple(sorted(requested - from_template)),
            tools_dropped=tuple(sorted(requested & from_template)),
        )
        return StageOutcome(
            StageStatus.PASS,
            facts={
                "template": name,
                "found": blueprint is not None,
                "tools": ctx.effective.tool_sources(),
                "provider": provider,
                "model": model,
                "estimated_cost_per_day": ctx.effective.estimated_cost_per_day,
                "depth": ctx.effective.depth,
            },
        )
