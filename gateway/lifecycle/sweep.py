"""The retirement sweep: propose agents unused longer than their tenant allows.

An agent is idle since its ``last_activated_at`` (or ``created_at`` if it was
never active); past the tenant's ``retire_after_days`` it is proposed for
retirement, unless its name matches the tenant's ``protected_agents`` or names a
human principal. A proposal is an approval request of kind ``retirement`` in
the same queue as creation proposals (gateway.approvals.retirement), so an
approver can veto it; approving retires the agent (gateway.lifecycle.retire).

Idempotent and safe with several replicas: before queueing, the sweep claims
the agent (``SET NX`` on ``retirement_claim``, keyed by the decision that
created it) for as long as the proposal can stay pending; a second sweep, here
or on another replica, finds the claim and proposes nothing. A vetoed or
expired proposal keeps its claim until then, so the agent is not proposed
again at once; a later sweep proposes it again if it is still idle.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

from gateway.approvals.queue import ApprovalRecord, ApprovalState, ApprovalStore
from gateway.approvals.retirement import RETIREMENT
from gateway.config import GatewayConfig, PrincipalKind, TenantSettings
from gateway.contract.decision import Reason, StageName
from gateway.lifecycle.retire import SWEEPER, Retirement
from gateway.policy.snapshot import PolicyHolder
from gateway.registry.base import AgentRecord
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["Proposal", "RetirementSweep", "SweepReport", "idle_since"]

#: Agents listed per tenant in one sweep (the built-in registry lists them all).
SWEEP_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class Proposal:
    tenant: str
    agent: str
    idle_days: float
    #: The approval request, or None in a dry run / when another sweep holds the claim.
    request_id: str | None


@dataclass(slots=True)
class SweepReport:
    now: datetime
    dry_run: bool
    proposed: list[Proposal] = field(default_factory=list)
    #: Idle agents another sweep had already proposed.
    already_proposed: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "proposed": [
                {
                    "tenant": p.tenant,
                    "agent": p.agent,
                    "idle_days": round(p.idle_days, 2),
                    "request_id": p.request_id,
                }
                for p in self.proposed
            ],
            "already_proposed": self.already_proposed,
            "protected": self.protected,
        }


def idle_since(agent: AgentRecord) -> datetime:
    return agent.last_activated_at or agent.created_at


class RetirementSweep:
    def __init__(
        self,
        *,
        store: RedisStore,
        config: GatewayConfig,
        approvals: ApprovalStore,
        policy: PolicyHolder,
        retirement: Retirement,
    ) -> None:
        self._store = store
        self._config = config
        self._approvals = approvals
        self._policy = policy
        self._retirement = retirement

    def tenants(self) -> list[str]:
        return sorted(set(self._config.tenants) | {p.tenant for p in self._config.principals})

    def _exempt(self, tenant: str, name: str, settings: TenantSettings) -> bool:
        humans = {
            p.id
            for p in self._config.principals
            if p.tenant == tenant and p.kind is PrincipalKind.HUMAN
        }
        return name in humans or any(fnmatchcase(name, pat) for pat in settings.protected_agents)

    async def run_once(self, now: datetime, *, dry_run: bool = False) -> SweepReport:
        """Propose every idle agent of every tenant (``dry_run``: only name them)."""
        report = SweepReport(now=now, dry_run=dry_run)
        registry = self._retirement.registry
        for tenant in self.tenants():
            settings = self._config.tenant_settings(tenant)
            limit = timedelta(days=settings.retire_after_days)
            agents = await registry.search(
                tenant, capability=None, name_contains=None, limit=SWEEP_LIMIT
            )
            for agent in agents:
                idle = now - idle_since(agent)
                if idle <= limit:
                    continue
                if self._exempt(tenant, agent.name, settings):
                    report.protected.append(agent.id)
                    continue
                days = idle.total_seconds() / 86400
                if dry_run:
                    if await self._claimed(agent):
                        report.already_proposed.append(agent.id)
                    else:
                        report.proposed.append(Proposal(tenant, agent.name, days, None))
                    continue
                request_id = await self._propose(agent, settings, days)
                if request_id is None:
                    report.already_proposed.append(agent.id)
                else:
                    report.proposed.append(Proposal(tenant, agent.name, days, request_id))
        return report

    async def _claimed(self, agent: AgentRecord) -> bool:
        claim = self._store.keys.retirement_claim(agent.tenant, agent.decision_id)
        async with redis_errors(stage="approval"):
            return bool(await self._store.client.exists(claim))

    async def _propose(
        self, agent: AgentRecord, settings: TenantSettings, idle_days: float
    ) -> str | None:
        """Queue one proposal unless one is claimed already; its request id."""
        request_id = "apr_" + uuid.uuid4().hex
        claim = self._store.keys.retirement_claim(agent.tenant, agent.decision_id)
        async with redis_errors(stage="approval"):
            # Held as long as the proposal can be pending (plus a minute of slack).
            won = await self._store.client.set(
                claim, request_id, nx=True, ex=settings.approval_timeout_seconds + 60
            )
        if not won:
            return None
        created = datetime.now(UTC)  # the queue's own clock decides when it expires
        decision_id = "dec_" + uuid.uuid4().hex
        reason = (
            f"agent '{agent.name}' unused for {idle_days:.1f} days "
            f"(retire_after_days is {settings.retire_after_days})"
        )
        record = ApprovalRecord(
            id=request_id,
            decision_id=decision_id,
            tenant=agent.tenant,
            kind=RETIREMENT,
            creator=SWEEPER,
            state=ApprovalState.PENDING,
            request={
                "name": agent.name,
                "agent_id": agent.id,
                "agent_decision_id": agent.decision_id,
                "created_at": agent.created_at.isoformat(),
                "last_activated_at": (
                    agent.last_activated_at.isoformat() if agent.last_activated_at else None
                ),
                "idle_days": round(idle_days, 2),
                "retire_after_days": settings.retire_after_days,
            },
            reasons=(Reason(stage=StageName.APPROVAL, code="idle_agent", message=reason),),
            danger_score=None,
            danger_findings=[],
            policy_revision=self._policy.current.revision,
            created_at=created,
            expires_at=created + timedelta(seconds=settings.approval_timeout_seconds),
        )
        try:
            # The proposal is in the log before it is in the queue.
            await self._retirement.record(
                decision_id=decision_id,
                tenant=agent.tenant,
                actor=SWEEPER,
                action="proposed",
                agent=agent,
                detail={"approval_id": request_id, "reason": reason},
            )
            await self._approvals.add(record)
        except Exception:
            async with redis_errors(stage="approval"):
                await self._store.client.delete(claim)
            raise
        return request_id
