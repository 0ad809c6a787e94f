"""The swarm event and the one call that announces it.

A ``SwarmEvent`` is what the swarm hears when an agent is created, approved,
denied (a reviewed proposal), retired or expired. ``Notifier.publish`` appends
it to the tenant's event stream (``XREAD`` by any consumer) and, once per
matching webhook, to the delivery outbox; the delivery worker
(``gateway.notifications.delivery``) drains the outbox. Publishing never
blocks nor fails a decision: a Redis failure is logged and counted, and the
caller carries on (the decision record is the source of truth, already durable).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from gateway.config import GatewayConfig
from gateway.errors import SpawngateError
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["AgentRef", "EventKind", "Notifier", "SwarmEvent"]

logger = logging.getLogger("spawngate.notifications")

#: Events kept per tenant stream (approximate trim): a reader that falls further
#: behind than this has the decision log to catch up from.
STREAM_MAXLEN = 10_000


class EventKind(StrEnum):
    CREATED = "created"
    APPROVED = "approved"
    #: A reviewed (queued) proposal an approver denied.
    DENIED = "denied"
    RETIRED = "retired"
    #: A queued proposal nobody decided in time.
    EXPIRED = "expired"


class AgentRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    #: The registry's id, once the agent exists.
    id: str | None = None
    kind: str | None = None


def _event_id() -> str:
    return "evt_" + uuid.uuid4().hex


class SwarmEvent(BaseModel):
    """One event; ``body()`` is what the stream holds and webhooks receive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: EventKind
    tenant: str
    agent: AgentRef
    decision_id: str | None = None
    #: The approval request id, for events of a queued proposal.
    request_id: str | None = None
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    #: Small, event-specific facts (creator, approver, reasons ...).
    detail: dict[str, JsonValue] = Field(default_factory=dict)
    #: Stable across retries and redeliveries: receivers dedupe on it.
    id: str = Field(default_factory=_event_id)

    @classmethod
    def of(
        cls,
        event: EventKind | str,
        *,
        tenant: str,
        agent: str,
        agent_id: str | None = None,
        kind: str | None = None,
        decision_id: str | None = None,
        request_id: str | None = None,
        detail: dict[str, JsonValue] | None = None,
    ) -> SwarmEvent:
        """Shorthand: ``SwarmEvent.of("retired", tenant=t, agent=name, ...)``."""
        return cls(
            event=EventKind(event),
            tenant=tenant,
            agent=AgentRef(name=agent, id=agent_id, kind=kind),
            decision_id=decision_id,
            request_id=request_id,
            detail=detail or {},
        )

    def body(self, channels: dict[str, str] | None = None) -> dict[str, Any]:
        out = self.model_dump(mode="json")
        out["channels"] = dict(channels or {})
        return out


class Notifier:
    """Announces swarm events; ``gw.notifier`` (built by ``gateway.runtime``)."""

    def __init__(self, store: RedisStore, config: GatewayConfig, *, signing: bool) -> None:
        self._store = store
        self._config = config
        self._signing = signing
        self._warned = False
        #: Events that could not be published (logged each time).
        self.failures = 0
        self.published = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def publish_soon(self, event: SwarmEvent) -> None:
        """``publish`` in the background, for a caller that cannot wait (``aclose`` waits)."""
        task = asyncio.create_task(self.publish(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    async def publish(self, event: SwarmEvent) -> None:
        """Append to the tenant's stream and the webhook outbox; never raises."""
        try:
            await self._publish(event)
        except (SpawngateError, OSError, ValueError) as exc:
            self.failures += 1
            logger.error("swarm event %s (%s) not published: %s", event.id, event.event, exc)
        except Exception:  # a notification must never fail a decision
            self.failures += 1
            logger.exception("swarm event %s (%s) not published", event.id, event.event)

    async def _publish(self, event: SwarmEvent) -> None:
        settings = self._config.tenant_settings(event.tenant).notifications
        base = event.body(dict(settings.channels))
        hooks = [h for h in settings.webhooks if not h.events or event.event.value in h.events]
        if hooks and not self._signing:
            self._warn_unsigned()
            hooks = []
        keys = self._store.keys
        async with redis_errors("notify"), self._store.client.pipeline(transaction=True) as tx:
            tx.xadd(
                keys.swarm_events(event.tenant),
                {"event": json.dumps(base, sort_keys=True)},
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
            for hook in hooks:
                # The exact bytes to sign and send: the webhook's own channel in it.
                body = json.dumps({**base, "channel": hook.channel}, sort_keys=True)
                tx.xadd(
                    keys.swarm_outbox(),
                    {"body": body, "url": hook.url, "tenant": event.tenant, "attempts": "0"},
                )
            await tx.execute()
        self.published += 1

    def _warn_unsigned(self) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(
                "swarm webhooks not sent: SPAWNGATE_WEBHOOK_SECRET is not set, and unsigned "
                "webhooks could be forged; events still go to the tenant streams"
            )
