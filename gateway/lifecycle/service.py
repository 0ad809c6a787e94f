"""Retirement and ephemeral agents, as one object the runtime builds (``gw.lifecycle``).

- ``activity``: an agent was used (``POST /v1/agents/{name}/activity``, for
  registries that call back); Casbin ``agent`` / ``report`` in the caller's tenant.
- ``sweep``: the retirement sweep once (``spawngate agents sweep``), and ``run_sweeps``
  on the runtime's schedule (``retirement_sweep_seconds``, weekly by default).
- ``expire_due`` / ``run_expiry``: ttl agents retired at expiry (``expiry_sweep_seconds``).

The clock is injected (``now``), so tests and ``--now`` can move it; the
approval queue keeps its own (real) clock for when a proposal expires.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from gateway.errors import DependencyError, NotFound, PermissionDenied, SpawngateError
from gateway.identity.authenticator import Principal
from gateway.lifecycle.expiry import expire_due
from gateway.lifecycle.retire import Clock, Retirement
from gateway.lifecycle.sweep import RetirementSweep, SweepReport
from gateway.policy.casbin import Action, Obj
from gateway.policy.snapshot import PolicyHolder
from gateway.registry.base import AgentRecord

__all__ = ["Lifecycle"]

logger = logging.getLogger("spawngate.lifecycle")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Lifecycle:
    def __init__(
        self,
        *,
        retirement: Retirement,
        sweep: RetirementSweep,
        policy: PolicyHolder,
        now: Clock = _utcnow,
    ) -> None:
        self.retirement = retirement
        self._sweep = sweep
        self._policy = policy
        self.now = now

    async def activity(self, principal: Principal, name: str) -> AgentRecord:
        """Record that an agent of the caller's tenant was active now."""
        allowed = self._policy.current.authorizer.check(
            principal.subject, principal.tenant, Obj.AGENT, Action.REPORT
        )
        if not allowed.allowed:
            raise PermissionDenied(
                f"'{principal.id}' may not report agent activity in tenant '{principal.tenant}'",
                code="not_authorized",
            )
        retiring = self.retirement.retiring()
        agent = await self.retirement.registry.get(principal.tenant, name)
        if agent is None:
            raise NotFound(f"no agent '{name}' in tenant '{principal.tenant}'")
        now = self.now()
        # Audit first: the report is in the decision log before the agent changes.
        await self.retirement.record_activity(agent, actor=principal.id, at=now)
        touched = await retiring.touch(principal.tenant, name, now)
        if touched is None:  # retired between the two steps
            raise NotFound(f"no agent '{name}' in tenant '{principal.tenant}'")
        return touched

    async def sweep(self, *, now: datetime | None = None, dry_run: bool = False) -> SweepReport:
        """Propose every idle agent for retirement once (``dry_run``: name them only)."""
        return await self._sweep.run_once(now or self.now(), dry_run=dry_run)

    async def expire_due(self, *, now: datetime | None = None) -> int:
        return await expire_due(self.retirement, now or self.now())

    async def run_sweeps(self, interval: float) -> None:
        """The retirement sweep every ``interval`` seconds (first after one interval)."""
        while True:
            await asyncio.sleep(interval)
            try:
                report = await self.sweep()
                if report.proposed:
                    logger.info("retirement sweep proposed %d agent(s)", len(report.proposed))
            except (DependencyError, SpawngateError):
                logger.exception("retirement sweep failed; retrying in %ss", interval)

    async def run_expiry(self, interval: float) -> None:
        """Retire agents past their ttl every ``interval`` seconds."""
        while True:
            try:
                await self.expire_due()
            except (DependencyError, SpawngateError):
                logger.exception("ttl expiry failed; retrying in %ss", interval)
            await asyncio.sleep(interval)
