"""The events of the decision path, built from the records that are already durable.

The admission pipeline calls ``announce_created`` after a creation's outcome
record (itself after the decision record: audit first); it never raises, so a
notification can never change a decision.
"""

from __future__ import annotations

import logging

from gateway.contract.decision import Decision, Outcome
from gateway.notifications.events import EventKind, Notifier, SwarmEvent

__all__ = ["announce_created", "created_event"]

logger = logging.getLogger("spawngate.notifications")


def created_event(decision: Decision) -> SwarmEvent:
    agent = decision.agent or {}
    name = agent.get("name") or decision.input.get("name")
    agent_id = agent.get("id")
    return SwarmEvent.of(
        EventKind.CREATED,
        tenant=decision.tenant or "",
        agent=str(name or ""),
        agent_id=str(agent_id) if agent_id is not None else None,
        kind=decision.kind.value,
        decision_id=decision.decision_id,
        request_id=decision.approval_id,
        detail={
            "creator": decision.principal,
            "template": decision.input.get("template"),
            "approved": decision.path.endswith("approve"),
        },
    )


async def announce_created(notifier: Notifier | None, decision: Decision, outcome: Outcome) -> None:
    """Publish ``created`` for a creation that happened; anything else is not an event."""
    if notifier is None or outcome is not Outcome.CREATED or decision.tenant is None:
        return
    try:
        event = created_event(decision)
    except ValueError:
        notifier.failures += 1
        logger.exception("no created event for %s", decision.decision_id)
        return
    await notifier.publish(event)
