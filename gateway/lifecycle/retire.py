"""Retiring one agent: out of the registry, its slots back, a record, an event.

Two ways in: an approved retirement proposal (``retire_approved``, called by
the approval workflow through ``gateway.approvals.retirement.Retirer``) and a
ttl that ran out (``expire``, no proposal). Both end in ``_retire``.

Order, and why: audit first, as for a creation. An intent record
(``retiring``/``expiring``) is made durable before the registry is touched; if
it cannot be written, nothing is removed (the caller gets the error). Then the
removal, the one step that happens exactly once (``AGENT_RETIRE``: whichever
replica or attempt gets there first gets True); only that caller releases the
slots, writes the outcome record (``retired``/``expired``) and then, once it is
durable, publishes the swarm event. A gateway dying after the intent leaves a
record that says what was about to happen (the drift audit counts the agent as
accounted for); dying between the removal and the release leaves the slots held
until the reconciler rebuilds the counters from the registry
(gateway.quotas.reconcile), which no longer lists the agent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from pydantic import JsonValue

from gateway.approvals.queue import ApprovalRecord
from gateway.audit.log import AuditLog, AuditRecord, RecordType
from gateway.errors import InternalError, SpawngateError
from gateway.notifications.events import SwarmEvent
from gateway.policy.snapshot import PolicyHolder
from gateway.quotas.ledger import QuotaLedger
from gateway.registry.base import AgentRecord, Registry, Retiring

__all__ = ["SWEEPER", "Clock", "CostsHook", "Publisher", "Retirement"]

logger = logging.getLogger("spawngate.lifecycle")

#: The actor of what the gateway does by itself (proposals, ttl expiries).
SWEEPER = "spawngate-lifecycle"

Clock = Callable[[], datetime]

#: The intent record written before each action (see the module docstring).
_INTENT = {"retired": "retiring", "expired": "expiring"}


class Publisher(Protocol):
    """Where swarm events go (``gateway.notifications.events.Notifier``)."""

    async def publish(self, event: SwarmEvent) -> None: ...


class CostsHook(Protocol):
    """Cost tracking's side of a retirement (``gateway.costs``): the agent stops counting."""

    async def record_retired(
        self, tenant: str, name: str, *, at: datetime | None = None
    ) -> bool: ...


class Retirement:
    def __init__(
        self,
        *,
        registry: Registry,
        ledger: QuotaLedger,
        audit: AuditLog,
        policy: PolicyHolder,
        publisher: Publisher | None = None,
        costs: CostsHook | None = None,
    ) -> None:
        self.registry = registry
        self._costs = costs
        self._ledger = ledger
        self._audit = audit
        self._policy = policy
        self.publisher = publisher

    def retiring(self) -> Retiring:
        """The registry, if it can retire agents (the built-in one can)."""
        if not isinstance(self.registry, Retiring):
            raise InternalError(f"the {self.registry.name} registry cannot retire agents")
        return self.registry

    async def record(
        self,
        *,
        decision_id: str,
        tenant: str,
        actor: str,
        action: str,
        agent: AgentRecord | None,
        detail: dict[str, JsonValue],
    ) -> None:
        """Append one ``retirement`` record (durable before this returns)."""
        await self._audit.append(
            AuditRecord(
                type=RecordType.RETIREMENT,
                decision_id=decision_id,
                timestamp=datetime.now(UTC),
                path="spawngate/retire",
                tenant=tenant,
                principal=actor,
                input={
                    "agent": agent.name if agent else None,
                    "agent_id": agent.id if agent else None,
                    "agent_decision_id": agent.decision_id if agent else None,
                    **detail,
                },
                result={"action": action},
                bundles={"spawngate": {"revision": self._policy.current.revision}},
                labels={"app": "spawngate"},
            )
        )

    async def record_activity(self, agent: AgentRecord, *, actor: str, at: datetime) -> None:
        """Append one ``activity`` record: who said the agent was active, and when."""
        await self._audit.append(
            AuditRecord(
                type=RecordType.ACTIVITY,
                decision_id="act_" + uuid.uuid4().hex,
                timestamp=datetime.now(UTC),
                path="spawngate/activity",
                tenant=agent.tenant,
                principal=actor,
                input={
                    "agent": agent.name,
                    "agent_id": agent.id,
                    "agent_decision_id": agent.decision_id,
                    "active_at": at.isoformat(),
                },
                result={"action": "active"},
                bundles={"spawngate": {"revision": self._policy.current.revision}},
                labels={"app": "spawngate"},
            )
        )

    async def _retire(
        self,
        agent: AgentRecord,
        *,
        decision_id: str,
        actor: str,
        action: str,
        detail: dict[str, JsonValue],
    ) -> bool:
        # Audit first: the intent is durable before the registry changes.
        await self.record(
            decision_id=decision_id,
            tenant=agent.tenant,
            actor=actor,
            action=_INTENT.get(action, action + ":intended"),
            agent=agent,
            detail=detail,
        )
        if not await self.retiring().retire(agent):
            return False  # retired already, by another replica or attempt
        held = self._ledger.held_keys(
            tenant=agent.tenant, principal=agent.created_by, root=agent.root
        )
        # The swarm slot and the lineage slot; totals count creations, not live agents.
        slots = tuple(k for k in held if not k.endswith(":total"))
        await self._ledger.release_keys(slots)
        await self.record(
            decision_id=decision_id,
            tenant=agent.tenant,
            actor=actor,
            action=action,
            agent=agent,
            detail={**detail, "released": list(slots)},
        )
        logger.info("agent %s %s (%s)", agent.id, action, decision_id)
        if self._costs is not None:
            try:
                await self._costs.record_retired(agent.tenant, agent.name)
            except SpawngateError as exc:  # figures only: never undo a retirement for them
                logger.error("cost figures missed the retirement of %s: %s", agent.id, exc)
        await self._announce(action, agent, decision_id, detail)
        return True

    async def _announce(
        self, action: str, agent: AgentRecord, decision_id: str, detail: dict[str, JsonValue]
    ) -> None:
        """The swarm event, after the record is durable; never fails the retirement."""
        if self.publisher is None:
            return
        await self.publisher.publish(
            SwarmEvent.of(
                action,
                tenant=agent.tenant,
                agent=agent.name,
                agent_id=agent.id,
                kind=agent.kind.value,
                decision_id=decision_id,
                request_id=str(detail["approval_id"]) if "approval_id" in detail else None,
                detail={k: v for k, v in detail.items() if k != "approval_id"},
            )
        )

    async def expire(self, agent: AgentRecord, now: datetime) -> bool:
        """Retire an agent whose ttl ran out; True if this call retired it."""
        return await self._retire(
            agent,
            decision_id="dec_" + uuid.uuid4().hex,
            actor=SWEEPER,
            action="expired",
            detail={
                "reason": "ttl",
                "ttl_seconds": agent.ttl_seconds,
                "expires_at": agent.expires_at.isoformat() if agent.expires_at else None,
                "at": now.isoformat(),
            },
        )

    async def retire_approved(self, record: ApprovalRecord) -> tuple[str | None, str]:
        """Carry out an approved proposal, if the agent is the one proposed and still idle."""
        name = str(record.request.get("name"))
        agent = await self.registry.get(record.tenant, name)
        if agent is None or agent.decision_id != record.request.get("agent_decision_id"):
            return None, f"agent '{name}' is no longer registered; nothing to retire"
        proposed_seen = record.request.get("last_activated_at")
        seen = agent.last_activated_at.isoformat() if agent.last_activated_at else None
        if seen != proposed_seen:
            return None, f"agent '{name}' was active since the proposal; not retired"
        retired = await self._retire(
            agent,
            decision_id=record.decision_id,
            actor=record.decided_by or SWEEPER,
            action="retired",
            detail={"approval_id": record.id, "approved_by": record.decided_by},
        )
        if not retired:
            return None, f"agent '{name}' was retired by someone else meanwhile"
        return agent.id, "retired"
