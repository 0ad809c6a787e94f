"""danger: score the proposed agent, then let policy decide what the score means.

The scorer (offline analyser, possibly with an LLM reviewer) only runs for
requests policy did not already deny; its verdict is Rego too
(policies/spawngate/danger), so the thresholds are reviewed in git.
"""

from __future__ import annotations

import asyncio

from gateway.admission.context import AdmissionContext
from gateway.admission.stage import StageOutcome
from gateway.admission.stages.rego import outcome_of, shadow_verdict
from gateway.contract.decision import StageName
from gateway.danger.base import Proposal, Scorer
from gateway.errors import DependencyUnavailable, InternalError
from gateway.policy.engine import Entrypoint
from gateway.policy.input import danger_input

__all__ = ["DangerStage"]


class DangerStage:
    name = StageName.DANGER

    def __init__(self, scorer: Scorer, *, timeout: float) -> None:
        self._scorer = scorer
        self._timeout = timeout

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        request = ctx.need_request()
        effective = ctx.need_effective()
        if ctx.policy_document is None:
            raise InternalError("danger ran before the policy input was built")
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
        ctx.danger_facts = {
            "score": report.score,
            "categories": [c.value for c in report.categories],
            "reviewer_unavailable": report.reviewer_unavailable,
        }
        document = danger_input(ctx.policy_document, ctx.danger_facts)
        verdict = await ctx.need_policy().engine.evaluate(Entrypoint.DANGER, document)
        if verdict.revision and ctx.engine_revision and verdict.revision != ctx.engine_revision:
            # OPA swapped bundles between the two queries: say that two revisions decided.
            ctx.engine_revision = f"{ctx.engine_revision}+{verdict.revision}"
        if ctx.shadow_admission is not None and not ctx.shadow_admission.deny:
            ctx.shadow_danger = await shadow_verdict(ctx, Entrypoint.DANGER, document)
        outcome = outcome_of(self.name, verdict, ctx)
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
