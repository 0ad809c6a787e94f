"""What every step of an approval leaves behind: an audit record and a callback.

Every approve, deny, expiry, recovery and credential delivery is an
``approval`` record in the decision log, linked to the original decision by
its ``decision_id``; a final state is also POSTed, signed, to the request's
``callback_url`` (``gateway.approvals.webhooks``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.approvals.queue import ApprovalRecord, ApprovalState
from gateway.approvals.retirement import RETIREMENT
from gateway.approvals.webhooks import Notifier
from gateway.audit.log import AuditLog, AuditRecord, RecordType
from gateway.notifications.events import EventKind, SwarmEvent
from gateway.notifications.events import Notifier as SwarmNotifier
from gateway.policy.snapshot import PolicyHolder

__all__ = ["ApprovalEvents"]

#: Final states the swarm hears of (``created`` comes from the creation itself).
_FINAL_EVENTS = {ApprovalState.DENIED: EventKind.DENIED, ApprovalState.EXPIRED: EventKind.EXPIRED}


def _swarm_event(event: EventKind, record: ApprovalRecord) -> SwarmEvent:
    # A retirement proposal is about an existing agent: the event names that agent
    # (its id is in the proposal), not the proposal's kind, and says in
    # ``detail.proposal`` what was approved or denied (agent, sme or retirement).
    retiring = record.kind == RETIREMENT
    proposed_id = record.request.get("agent_id") if retiring else None
    agent_id = record.agent_id or (str(proposed_id) if proposed_id else None)
    return SwarmEvent.of(
        event,
        tenant=record.tenant,
        agent=str(record.request.get("name") or ""),
        agent_id=agent_id,
        kind=None if retiring else record.kind,
        decision_id=record.decision_id,
        request_id=record.id,
        detail={
            "proposal": record.kind,
            "creator": record.creator,
            "decided_by": record.decided_by,
            "reasons": [r.code for r in record.outcome_reasons],
        },
    )


class ApprovalEvents:
    def __init__(
        self,
        *,
        audit: AuditLog,
        notifier: Notifier,
        policy: PolicyHolder,
        swarm: SwarmNotifier | None = None,
    ) -> None:
        self._audit = audit
        self._swarm = swarm
        self._notifier = notifier
        self._policy = policy

    async def record(
        self, record: ApprovalRecord, action: str, actor: str | None, note: str | None
    ) -> None:
        """Append the ``approval`` record of ``action`` (durable before this returns)."""
        await self._audit.append(self._audit_record(record, action, actor, note))
        if action == "approved" and self._swarm is not None:
            await self._swarm.publish(_swarm_event(EventKind.APPROVED, record))

    def _audit_record(
        self, record: ApprovalRecord, action: str, actor: str | None, note: str | None
    ) -> AuditRecord:
        return AuditRecord(
            type=RecordType.APPROVAL,
            decision_id=record.decision_id,
            timestamp=datetime.now(UTC),
            path="spawngate/approval",
            tenant=record.tenant,
            principal=actor,
            input={"approval_id": record.id, "note": note},
            result={
                "action": action,
                "state": record.state.value,
                "creator": record.creator,
                "approved_by": record.decided_by,
                "attempts": list(record.attempts),
                "reasons": [r.model_dump(mode="json") for r in record.outcome_reasons],
            },
            bundles={"spawngate": {"revision": self._policy.current.revision}},
            labels={"app": "spawngate"},
        )

    def notify(self, record: ApprovalRecord) -> None:
        """Send the final state to the request's callback and the swarm (in the background)."""
        event = _FINAL_EVENTS.get(record.state)
        if event is not None and self._swarm is not None:
            self._swarm.publish_soon(_swarm_event(event, record))
        self._notifier.notify(
            record.callback_url,
            {
                "request_id": record.id,
                "decision_id": record.decision_id,
                "state": record.state.value,
                "agent_id": record.agent_id,
                "reasons": [r.model_dump(mode="json") for r in record.outcome_reasons],
                "decided_by": record.decided_by,
                "at": datetime.now(UTC).isoformat(),
            },
        )
