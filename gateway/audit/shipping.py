"""Shipping the decision log to an HTTP sink, in OPA's decision-log upload format.

The log itself is the buffer: a cursor in Redis (shared by every replica)
remembers the last record the sink accepted. Each pass reads the records after
it, POSTs them as one gzip-compressed JSON array (OPA's upload format), and
advances the cursor only on a 2xx; a failure leaves the cursor where it was, so
the same batch is sent again after a backoff and a sink outage loses nothing.
One replica ships at a time (a lease in Redis), so a record is sent once.

Event ids: a decision record is shipped under its own ``decision_id``; the
outcome and approval records that follow it carry ``<decision_id>:<type>:<seq>``
and point back with ``spawngate.decision_id``.

Signed checkpoints (``gateway.audit.checkpoints``) are shipped too, once the records
are caught up, as events with ``path`` ``spawngate/checkpoint`` and the
checkpoint in ``spawngate.checkpoint``: the sink then holds its own anchor,
out of reach of anyone who can rewrite Redis. Their cursor is a position in
the checkpoint list.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from gateway.audit.log import AuditRecord, RecordType
from gateway.errors import DependencyError
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["Shipper", "SinkFailed", "checkpoint_event", "to_opa_event"]

logger = logging.getLogger("spawngate.shipping")


class SinkFailed(Exception):
    """The sink refused or did not answer; the batch will be sent again."""


def checkpoint_event(checkpoint: dict[str, Any]) -> dict[str, Any]:
    return {
        "decision_id": f"checkpoint:{checkpoint['seq']}:{str(checkpoint['hmac'])[:16]}",
        "path": "spawngate/checkpoint",
        "timestamp": checkpoint.get("at"),
        "spawngate": {"type": "checkpoint", "checkpoint": checkpoint},
    }


def to_opa_event(record: AuditRecord) -> dict[str, Any]:
    event_id = record.decision_id
    if record.type is not RecordType.DECISION:
        event_id = f"{record.decision_id}:{record.type.value}:{record.seq}"
    return {
        "decision_id": event_id,
        "path": record.path,
        "input": record.policy_input if record.policy_input is not None else record.input,
        "result": record.result,
        "bundles": record.bundles,
        "labels": record.labels,
        "timestamp": record.timestamp.isoformat(),
        "metrics": record.metrics,
        "spawngate": {
            "type": record.type.value,
            "decision_id": record.decision_id,
            "tenant": record.tenant,
            "principal": record.principal,
            "request": record.input,
            "seq": record.seq,
            "prev_hash": record.prev_hash,
            "hash": record.hash,
        },
    }


def _backoff(interval: float) -> Callable[[RetryCallState], float]:
    """``interval`` after the first failure, then doubling, at most a minute."""
    doubling = wait_exponential(multiplier=interval, max=60.0)

    def wait(state: RetryCallState) -> float:
        return interval if state.attempt_number == 1 else doubling(state)

    return wait


def _log_pause(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    seconds = state.next_action.sleep if state.next_action is not None else 0.0
    logger.warning("decision log shipping paused, retrying in %.0fs: %s", seconds, exc)


class Shipper:
    def __init__(
        self, store: RedisStore, url: str, *, batch: int = 100, timeout: float = 5.0
    ) -> None:
        self._store = store
        self._url = url
        self._batch = batch
        keys = store.keys
        self._stream = keys.decisions()
        self._cursor_key = keys.shipped()
        self._checkpoints_key = keys.checkpoints()
        self._checkpoint_cursor_key = keys.checkpoints_shipped()
        self._lease_key = keys.shipper_lease()
        self._me = uuid.uuid4().hex
        self._client = httpx.AsyncClient(timeout=timeout)

    async def ship_once(self) -> int:
        """Send the next batch; return how many records (or, once those are caught up,
        checkpoints) the sink accepted (0: nothing to send).

        Raises ``SinkFailed`` when the sink did not accept it (the cursor stays).
        """
        async with redis_errors():
            # Hold the lease for this pass; another replica's lease means it ships.
            held = await self._store.client.set(self._lease_key, self._me, nx=True, px=30_000)
            if not held and await self._store.client.get(self._lease_key) != self._me:
                return 0
            await self._store.client.pexpire(self._lease_key, 30_000)
            raw_cursor = await self._store.client.get(self._cursor_key)
            start = "-" if raw_cursor is None else f"({raw_cursor!s}"
            entries = await self._store.client.xrange(self._stream, min=start, count=self._batch)
        if not entries:
            return await self._ship_checkpoints()
        events = [
            to_opa_event(AuditRecord.model_validate_json(str((fields or {})["record"])))
            for _, fields in entries
        ]
        await self._post(events)
        async with redis_errors():
            await self._store.client.set(self._cursor_key, str(entries[-1][0]))
        return len(entries)

    async def _ship_checkpoints(self) -> int:
        async with redis_errors():
            shipped = int(await self._store.client.get(self._checkpoint_cursor_key) or 0)
            raw = await self._store.client.lrange(
                self._checkpoints_key, shipped, shipped + self._batch - 1
            )
        if not raw:
            return 0
        await self._post([checkpoint_event(json.loads(x)) for x in raw])
        async with redis_errors():
            await self._store.client.set(self._checkpoint_cursor_key, str(shipped + len(raw)))
        return len(raw)

    async def _post(self, events: list[dict[str, Any]]) -> None:
        body = gzip.compress(json.dumps(events).encode())
        try:
            response = await self._client.post(
                self._url,
                content=body,
                headers={"content-type": "application/json", "content-encoding": "gzip"},
            )
        except httpx.HTTPError as exc:
            raise SinkFailed(f"decision log sink unreachable: {exc}") from exc
        if response.status_code >= 300:
            raise SinkFailed(f"decision log sink answered {response.status_code}")

    async def run(self, interval: float) -> None:
        """Ship until cancelled; back off (up to a minute) while the sink or Redis is down."""
        # Each pass retries until it ships; the backoff starts over after a success.
        retrying = AsyncRetrying(
            wait=_backoff(interval),
            retry=retry_if_exception_type((SinkFailed, DependencyError)),
            before_sleep=_log_pause,
        )
        while True:
            shipped: int = await retrying(self.ship_once)
            if not shipped:
                await asyncio.sleep(interval)

    async def aclose(self) -> None:
        await self._client.aclose()
