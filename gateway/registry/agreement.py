"""Whether the registry and the decision log agree, and the one repair that is safe.

Used by the reconciler (gateway.quotas.reconcile). ``said`` maps a decision id to the
outcomes its outcome records give.

The repair: an agent whose decision's outcome records all say it was not created
(``failed``, ``rolled_back``, ``indeterminate``, ``denied``) exists behind its
caller's back, since that caller was refused. It is removed through the registry's
abandon (only if it still carries that decision id; a late creation of that
decision is refused from then on). An agent with no outcome record yet is left
alone: its creation may be in flight, or a resumed approval may still claim it.
A registry that cannot abandon gets these reported instead.

Everything else is reported, not repaired: which side is wrong needs a human.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gateway.audit.record import AuditRecord
from gateway.errors import DependencyError
from gateway.registry.base import Abandoning, AgentRecord, Registry

__all__ = ["Discrepancy", "compare", "remove_failed"]

logger = logging.getLogger("spawngate.reconcile")


@dataclass(frozen=True, slots=True)
class Discrepancy:
    tenant: str
    agent_id: str
    decision_id: str
    #: "no_decision_record", "no_agent", "agent_of_other_decision" or
    #: "agent_of_failed_decision" (removed, or reported where it cannot be).
    problem: str


async def remove_failed(
    registry: Registry, agents: list[AgentRecord], said: dict[str, set[str]]
) -> tuple[tuple[Discrepancy, ...], tuple[Discrepancy, ...]]:
    """Remove agents whose creation the log says did not happen; (removed, reported)."""
    removed: list[Discrepancy] = []
    reported: list[Discrepancy] = []
    for agent in agents:
        outcomes = said.get(agent.decision_id)
        if not outcomes or "created" in outcomes:
            continue
        found = Discrepancy(agent.tenant, agent.id, agent.decision_id, "agent_of_failed_decision")
        if not isinstance(registry, Abandoning) or not await _abandoned(registry, agent):
            # A registry that cannot take it back (or would not): a human decides.
            reported.append(found)
            continue
        logger.warning(
            "reconcile: removed %s, created behind its caller's back by %s (%s)",
            agent.id,
            agent.decision_id,
            "/".join(sorted(outcomes)),
        )
        removed.append(found)
    return tuple(removed), tuple(reported)


async def _abandoned(registry: Abandoning, agent: AgentRecord) -> bool:
    try:
        return await registry.abandon(agent)
    except DependencyError as exc:
        logger.warning("reconcile: could not remove %s: %s", agent.id, exc.reason)
        return False


def compare(
    agents: list[AgentRecord], decided: set[str], claims: list[AuditRecord]
) -> tuple[tuple[Discrepancy, ...], tuple[Discrepancy, ...]]:
    """Agents with no decision record, and "created" claims with no such agent: (orphans,
    missing). Reported only."""
    orphans = tuple(
        Discrepancy(a.tenant, a.id, a.decision_id, "no_decision_record")
        for a in agents
        if a.decision_id not in decided
    )
    by_id = {a.id: a.decision_id for a in agents}
    missing: list[Discrepancy] = []
    for r in claims:
        agent_id = str(r.result.get("agent_id") or "")
        if by_id.get(agent_id) != r.decision_id:
            problem = "no_agent" if agent_id not in by_id else "agent_of_other_decision"
            missing.append(Discrepancy(r.tenant or "", agent_id, r.decision_id, problem))
    return orphans, tuple(missing)
