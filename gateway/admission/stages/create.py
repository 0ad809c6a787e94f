"""create: forward the allowed agent to the registry.

Runs only after the decision record is durable (see gateway.admission.pipeline). An
agent that may itself create agents gets an API key, returned once, with its
lineage (parent, root, depth) so that its own requests are limited as part of
the same family tree.

Once the registry has the agent, a failure to issue its key must not leave an
agent the caller is told was not created: the creation is abandoned (removed
only if this decision made it), and the error says whether that worked
(``creation_rolled_back``) or not (``creation_indeterminate``: the reconciler
removes it later).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from gateway.admission.context import AdmissionContext
from gateway.admission.stage import StageOutcome
from gateway.contract.decision import StageName, StageStatus
from gateway.contract.request import SPAWNING_TOOLS, SmeRequest
from gateway.errors import DependencyError, DependencyUnavailable
from gateway.identity.authenticator import Authenticator
from gateway.registry.base import (
    INDETERMINATE,
    ROLLED_BACK,
    Abandoning,
    AgentRecord,
    Registry,
)

__all__ = ["CreateStage"]

logger = logging.getLogger("spawngate.create")


class CreateStage:
    name = StageName.CREATE

    def __init__(self, registry: Registry, authenticator: Authenticator) -> None:
        self._registry = registry
        self._auth = authenticator

    def record(self, ctx: AdmissionContext, now: datetime) -> AgentRecord:
        request = ctx.need_request()
        principal = ctx.need_principal()
        effective = ctx.need_effective()
        sme = request if isinstance(request, SmeRequest) else None
        return AgentRecord(
            id=f"{principal.tenant}/{request.name}",
            tenant=principal.tenant,
            name=request.name,
            kind=ctx.kind,
            template=effective.template,
            role=request.role,
            instructions=request.instructions,
            system_prompt=effective.system_prompt,
            tools=effective.tools,
            capabilities=effective.capabilities,
            provider=effective.provider,
            model=effective.model,
            auto_reply=request.auto_reply,
            next_agent=effective.next_agent,
            expertise=sme.expertise if sme else None,
            knowledge_sources=tuple(str(k) for k in sme.knowledge_sources) if sme else (),
            estimated_cost_per_day=effective.estimated_cost_per_day,
            ttl_seconds=request.ttl_seconds,
            expires_at=now + timedelta(seconds=request.ttl_seconds)
            if request.ttl_seconds
            else None,
            active="create_inactive" not in ctx.obligations,
            created_by=principal.id,
            parent=principal.id,
            root=principal.root,
            depth=effective.depth,
            created_at=now,
            decision_id=ctx.decision_id,
        )

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        record = await self._registry.create(self.record(ctx, datetime.now(UTC)))
        ctx.created = record.model_dump(mode="json")
        facts: dict[str, object] = {"agent_id": record.id, "registry": self._registry.name}
        if SPAWNING_TOOLS & set(record.tools) and ctx.defer_credential:
            facts["credential_deferred"] = True
        elif SPAWNING_TOOLS & set(record.tools):
            spawned = Authenticator.spawned(
                agent_id=record.id,
                tenant=record.tenant,
                tools=record.tools,
                parent=ctx.need_principal(),
            )
            try:
                ctx.issued_key = await self._auth.issue(spawned)
            except DependencyError as exc:
                ctx.created = None
                raise await self._take_back(record, exc) from exc
            facts["credential_issued"] = True
        return StageOutcome(StageStatus.PASS, facts=facts)

    async def _take_back(self, record: AgentRecord, cause: DependencyError) -> DependencyError:
        """Abandon a creation the caller will be told failed; say whether that worked."""
        if isinstance(self._registry, Abandoning):
            try:
                await self._registry.abandon(record)
            except DependencyError as exc:
                # Indeterminate, below: the reconciler removes the agent.
                logger.error("could not abandon %s (%s): %s", record.id, record.decision_id, exc)
            else:
                return DependencyUnavailable(
                    f"{cause.reason}; the creation was rolled back",
                    dependency=cause.dependency,
                    code=ROLLED_BACK,
                    stage="create",
                )
        return DependencyUnavailable(
            f"{cause.reason}; the created agent will be removed",
            dependency=cause.dependency,
            code=INDETERMINATE,
            stage="create",
        )
