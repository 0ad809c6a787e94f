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
from gateway.costs.ledger import CostLedger
from gateway.errors import DependencyError, DependencyUnavailable
from gateway.identity.authenticator import Authenticator
from gateway.receipts.issuer import ReceiptIssuer
from gateway.registry.a2a import card_url
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

    def __init__(
        self,
        registry: Registry,
        authenticator: Authenticator,
        costs: CostLedger,
        *,
        receipts: ReceiptIssuer | None = None,
        public_url: str | None = None,
    ) -> None:
        self._registry = registry
        self._auth = authenticator
        self._costs = costs
        self._receipts = receipts
        self._public_url = public_url

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

    def _with_receipt(self, ctx: AdmissionContext, record: AgentRecord) -> AgentRecord:
        """The record with its signed receipt (gateway.receipts), before the registry sees
        it: a registry that keeps manifests (kagent) carries it as an annotation."""
        if self._receipts is None:
            return record
        token = self._receipts.issue(
            decision_id=record.decision_id,
            tenant=record.tenant,
            name=record.name,
            creator=record.created_by,
            # As the decision record's ``input`` holds it (gateway.admission.recording).
            request=ctx.need_request().model_dump(mode="json", exclude_none=True),
            policy_revision=ctx.engine_revision or ctx.need_policy().revision,
            tools=record.tools,
            now=record.created_at,
            agent_expires_at=record.expires_at,
        )
        return record.model_copy(update={"receipt": token})

    async def run(self, ctx: AdmissionContext) -> StageOutcome:
        record = self._with_receipt(ctx, self.record(ctx, datetime.now(UTC)))
        record = await self._registry.create(record)
        ctx.created = record.model_dump(mode="json")
        facts: dict[str, object] = {
            "agent_id": record.id,
            "registry": self._registry.name,
            "a2a_card_url": card_url(record.tenant, record.name, self._public_url),
        }
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
        facts["tenant_cost_per_day"] = await self._count_cost(ctx, record)
        return StageOutcome(StageStatus.PASS, facts=facts)

    async def _count_cost(self, ctx: AdmissionContext, record: AgentRecord) -> float | None:
        """Count the agent in its tenant's estimated daily total (gateway.costs).

        The agent exists by now: a Redis failure here must not tell the caller it
        was not created, so it is logged and the stage's fact is None (the total
        then lacks this agent until the admission's hold expires and the reconciler
        adds it: an error on the side of fewer cost reviews after that, logged).
        Counting ends the admission's hold in the same step.
        """
        try:
            total = await self._costs.record_created(
                record.tenant,
                record.name,
                record.estimated_cost_per_day,
                at=record.created_at,
                decision_id=record.decision_id,
            )
            ctx.cost_held = None
            return total
        except DependencyError as exc:
            logger.error("could not count the cost of %s: %s", record.id, exc)
            return None

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
