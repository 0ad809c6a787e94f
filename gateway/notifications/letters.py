"""The read side of the dead letters: webhook deliveries given up after every retry,
for operators (``spawngate notifications dead-letters``)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["DeadLetter", "dead_letters"]


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    #: Stream id of the dead letter (its time of death).
    id: str
    tenant: str
    url: str
    attempts: int
    error: str
    #: The event as it was sent (``body["id"]`` is the event id).
    body: dict[str, JsonValue]


async def dead_letters(
    store: RedisStore, *, tenant: str | None = None, limit: int = 100
) -> list[DeadLetter]:
    """The newest ``limit`` dead letters, newest first (of ``tenant`` only, if given)."""
    async with redis_errors("notify"):
        raw: Any = await store.client.xrevrange(store.keys.swarm_dead_letters(), count=limit)
    out = []
    for entry_id, fields in raw:
        if tenant is not None and fields.get("tenant") != tenant:
            continue
        out.append(
            DeadLetter(
                id=str(entry_id),
                tenant=str(fields.get("tenant", "")),
                url=str(fields.get("url", "")),
                attempts=int(fields.get("attempts") or 0),
                error=str(fields.get("error", "")),
                body=json.loads(fields.get("body") or "{}"),
            )
        )
    return out
