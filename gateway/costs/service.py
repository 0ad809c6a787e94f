"""Cost tracking as the fronts use it: usage reports in, swarm figures out.

Both are tenant-scoped and authorised by Casbin (``usage/report`` in the
caller's tenant; ``cost/read`` in the tenant asked for, so a role granted in
every tenant, "*", may read any). A usage report is written to the decision
log *before* it is counted: a report the log does not hold never shows in the
figures (fail closed, as admission).

For the retirement side (sweep, ttl expiry) ``record_retired`` takes an agent
off its tenant's estimated total and counts it as retired that day.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gateway.audit.log import AuditLog
from gateway.audit.record import AuditRecord, RecordType
from gateway.config import GatewayConfig
from gateway.costs.ledger import CostLedger, iso_day
from gateway.costs.swarm import SwarmReport, swarm_report
from gateway.errors import NotFound, PermissionDenied, SpawngateError
from gateway.identity.authenticator import Principal
from gateway.policy.casbin import Action, Obj
from gateway.policy.snapshot import PolicyHolder
from gateway.registry.base import Registry, Retiring

__all__ = ["MAX_REPORT_DAYS", "Costs", "UsageAnswer", "UsageReport"]

logger = logging.getLogger("spawngate.costs")

#: The longest range one swarm report covers.
MAX_REPORT_DAYS = 366


class UsageReport(BaseModel):
    """``POST /v1/agents/{name}/usage``: what the agent used since its last report."""

    model_config = ConfigDict(extra="forbid")

    tokens: Annotated[int, Field(ge=0, le=10_000_000_000, description="Tokens used")]
    cost: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False, description="Actual $")]


class UsageAnswer(BaseModel):
    agent: str
    tenant: str
    creator: str = Field(description="The principal that created the agent")
    day: date = Field(description="ISO day (UTC) the report counts in")
    day_tokens: int = Field(description="The agent's tokens reported that day, this one included")
    day_cost: float = Field(description="The agent's actual $ reported that day, this one included")


class Costs:
    def __init__(
        self,
        *,
        ledger: CostLedger,
        policy: PolicyHolder,
        registry: Registry,
        audit: AuditLog,
        config: GatewayConfig,
        instance: str,
    ) -> None:
        self.ledger = ledger
        self._policy = policy
        self._registry = registry
        self._audit = audit
        self._config = config
        self._instance = instance

    def _check(
        self, principal: Principal, tenant: str, obj: Obj, action: Action, what: str
    ) -> None:
        allowed = self._policy.current.authorizer.check(principal.subject, tenant, obj, action)
        if not allowed.allowed:
            raise PermissionDenied(
                f"'{principal.id}' may not {what} in tenant '{tenant}'", code="not_authorized"
            )

    async def report_usage(
        self, principal: Principal, name: str, report: UsageReport
    ) -> UsageAnswer:
        tenant = principal.tenant
        self._check(principal, tenant, Obj.USAGE, Action.REPORT, "report usage")
        agent = await self._registry.get(tenant, name)
        if agent is None:
            raise NotFound(f"no agent '{name}' in tenant '{tenant}'")
        now = datetime.now(UTC)
        day = iso_day(now)
        await self._audit.append(
            AuditRecord(
                type=RecordType.USAGE,
                decision_id="use_" + uuid.uuid4().hex,
                timestamp=now,
                path="spawngate/usage",
                tenant=tenant,
                principal=principal.id,
                input={"agent": name, "tokens": report.tokens, "cost": report.cost},
                result={"creator": agent.created_by, "day": day.isoformat()},
                bundles={},
                labels={"app": "spawngate", "instance": self._instance},
            )
        )
        figures = await self.ledger.record_usage(
            tenant, name, agent.created_by, tokens=report.tokens, cost=report.cost, at=now
        )
        # An agent that reports usage was active: the retirement sweep must see it.
        if isinstance(self._registry, Retiring):
            try:
                await self._registry.touch(tenant, name, now)
            except SpawngateError as exc:  # the report is counted; do not make it retry
                logger.error("activity of %s/%s not recorded: %s", tenant, name, exc.reason)
        return UsageAnswer(
            agent=name,
            tenant=tenant,
            creator=agent.created_by,
            day=day,
            day_tokens=figures.tokens,
            day_cost=figures.cost,
        )

    async def swarm(
        self,
        principal: Principal,
        *,
        tenant: str | None = None,
        days: int = 7,
        until: date | None = None,
    ) -> SwarmReport:
        """The tenant's daily table (the caller's tenant by default)."""
        tenant = tenant or principal.tenant
        self._check(principal, tenant, Obj.COST, Action.READ, "read cost figures")
        return await self.figures(tenant, days=days, until=until)

    async def figures(
        self, tenant: str, *, days: int = 7, until: date | None = None
    ) -> SwarmReport:
        """Unauthorised: for operators (``spawngate swarm report``) and for ``swarm``."""
        return await swarm_report(
            self.ledger,
            tenant,
            until=until or iso_day(),
            days=max(1, min(days, MAX_REPORT_DAYS)),
            max_cost_per_day=self._config.tenant_settings(tenant).max_cost_per_day,
        )

    async def record_retired(self, tenant: str, name: str, *, at: datetime | None = None) -> bool:
        """For retirement (sweep, ttl expiry): the agent stops counting; see CostLedger."""
        return await self.ledger.record_retired(tenant, name, at=at)
