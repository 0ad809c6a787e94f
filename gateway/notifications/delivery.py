"""The delivery worker: drains the webhook outbox, signed, at least once.

Each outbox entry is one (event, webhook) pair. Replicas share the outbox
through one consumer group: an entry is claimed by one worker (XREADGROUP),
POSTed with ``X-Spawngate-Signature`` and retried with exponential backoff
(tenacity); it leaves the outbox (XACK + XDEL) only once the receiver answered
2xx, or, after ``attempts`` failures, moves to the dead-letter stream for
operators. Nothing is lost to a restart:

- a worker that stops puts the entries it holds back (a fresh copy, with the
  attempts already spent), so the next gateway picks them up at once;
- a worker that dies holds its entries until their lease (longer than every
  retry of one delivery) runs out, then another replica claims them (XAUTOCLAIM).

So a receiver may see an event twice (a crash between its 2xx and the XACK):
the body's ``id`` is the same each time, for it to dedupe on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx
from redis.exceptions import ResponseError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from gateway.errors import DependencyError
from gateway.notifications.signing import SIGNATURE_HEADER, signature
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["GROUP", "Delivery"]

logger = logging.getLogger("spawngate.notifications")

#: The consumer group every replica's worker reads the outbox in.
GROUP = "delivery"
#: Dead letters kept (approximate trim): a receiver down for good must not grow
#: Redis without bound; older ones are in the gateway log ("given up").
DEAD_LETTERS_MAXLEN = 10_000
#: Longest wait between two attempts of one delivery.
_MAX_WAIT_SECONDS = 60.0
_BATCH = 16
#: Under the Redis client's socket timeout, and short enough for a quick stop.
_BLOCK_MS = 500

Entry = tuple[str, dict[str, str]]


class _Refused(Exception):
    """The receiver answered, but not with a 2xx: tried again."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"answered {status_code}")


class Delivery:
    def __init__(
        self,
        store: RedisStore,
        *,
        secret: str | None,
        consumer: str,
        attempts: int,
        backoff_seconds: float,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._store = store
        self._secret = secret
        self._consumer = consumer
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._client = httpx.AsyncClient(timeout=timeout_seconds)
        # An entry claimed longer ago than every retry of it could take belongs
        # to a worker that died: another may take it over.
        wait = min(_MAX_WAIT_SECONDS, backoff_seconds * 2 ** max(attempts - 1, 0))
        self._lease_ms = int((attempts * (timeout_seconds + wait) + 30) * 1000)
        self._stopping = asyncio.Event()
        #: Set while the read loop is not running (so ``aclose`` can wait for it).
        self._looping = asyncio.Event()
        self._looping.set()
        #: Entries being delivered now: their task and the attempts made so far.
        self._held: dict[str, tuple[asyncio.Task[None], dict[str, str], list[int]]] = {}

    async def run(self) -> None:
        """Deliver until ``aclose``; a Redis failure is logged and retried."""
        if self._secret is None:
            logger.warning("swarm webhooks not delivered: no SPAWNGATE_WEBHOOK_SECRET to sign them")
            return
        self._looping.clear()
        try:
            while not self._stopping.is_set():
                try:
                    await self._ensure_group()
                    for entry_id, fields in await self._next():
                        if self._stopping.is_set():
                            await self._give_back(entry_id, fields, 0)
                        else:
                            self._start(entry_id, fields)
                except DependencyError:
                    logger.exception("swarm delivery: reading the outbox failed; retrying")
                    await self._pause(1.0)
        finally:
            self._looping.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _ensure_group(self) -> None:
        try:
            async with redis_errors("notify"):
                # From the start of the stream: events published before any worker
                # ever ran (or while none did) are delivered too.
                await self._store.client.xgroup_create(
                    self._store.keys.swarm_outbox(), GROUP, id="0", mkstream=True
                )
        except DependencyError as exc:
            if not isinstance(exc.__cause__, ResponseError) or "BUSYGROUP" not in str(
                exc.__cause__
            ):
                raise

    async def _next(self) -> list[Entry]:
        """Entries of dead workers first, then new ones (blocking up to a second)."""
        outbox, client = self._store.keys.swarm_outbox(), self._store.client
        free = _BATCH - len(self._held)
        if free <= 0:
            await self._pause(0.2)
            return []
        async with redis_errors("notify"):
            claimed = await client.xautoclaim(
                outbox, GROUP, self._consumer, self._lease_ms, start_id="0-0", count=free
            )
            entries = _entries(claimed[1] if len(claimed) > 1 else [])
            if entries:
                return entries
            read: Any = await client.xreadgroup(
                GROUP, self._consumer, {outbox: ">"}, count=free, block=_BLOCK_MS
            )
        return [e for _, batch in read for e in _entries(batch)]

    def _start(self, entry_id: str, fields: dict[str, str]) -> None:
        if entry_id in self._held:
            return
        tried = [0]
        task = asyncio.create_task(self._deliver(entry_id, fields, tried))
        self._held[entry_id] = (task, fields, tried)
        task.add_done_callback(lambda _: self._held.pop(entry_id, None))

    async def _deliver(self, entry_id: str, fields: dict[str, str], tried: list[int]) -> None:
        assert self._secret is not None
        body = fields.get("body", "").encode()
        url = fields.get("url", "")
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: signature(self._secret, body),
        }
        spent = int(fields.get("attempts") or 0)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(max(self._attempts - spent, 1)),
            wait=wait_exponential(multiplier=self._backoff, max=_MAX_WAIT_SECONDS),
            retry=retry_if_exception_type((httpx.HTTPError, _Refused)),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    tried[0] += 1
                    response = await self._client.post(url, content=body, headers=headers)
                    if response.status_code >= 300:
                        raise _Refused(response.status_code)
        except (httpx.HTTPError, _Refused) as exc:
            logger.error(
                "swarm webhook %s given up after %d attempts: %s", url, spent + tried[0], exc
            )
            await self._settle(
                entry_id, dead={**fields, "attempts": str(spent + tried[0]), "error": str(exc)}
            )
            return
        await self._settle(entry_id)

    async def _settle(self, entry_id: str, *, dead: dict[Any, Any] | None = None) -> None:
        """The entry leaves the outbox (to the dead letters if ``dead``)."""
        keys = self._store.keys
        try:
            async with redis_errors("notify"), self._store.client.pipeline(transaction=True) as tx:
                if dead is not None:
                    tx.xadd(
                        keys.swarm_dead_letters(),
                        dead,
                        maxlen=DEAD_LETTERS_MAXLEN,
                        approximate=True,
                    )
                tx.xack(keys.swarm_outbox(), GROUP, entry_id)
                tx.xdel(keys.swarm_outbox(), entry_id)
                await tx.execute()
        except DependencyError:
            # Still pending under this worker: after its lease another one retries it.
            logger.exception("swarm delivery %s not settled", entry_id)

    async def aclose(self) -> None:
        """Stop delivering; give back what is held, then close the HTTP client."""
        self._stopping.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._looping.wait(), timeout=5)
        held = list(self._held.items())
        for task, _, _ in (h for _, h in held):
            task.cancel()
        if held:
            await asyncio.wait([h[0] for _, h in held], timeout=5)
        for entry_id, (task, fields, tried) in held:
            if task.cancelled() or not task.done():
                await self._give_back(entry_id, fields, tried[0])
        await self._client.aclose()

    async def _give_back(self, entry_id: str, fields: dict[str, str], tried: int) -> None:
        """Requeue an entry this worker holds (same body, same event id)."""
        spent = int(fields.get("attempts") or 0) + tried
        outbox = self._store.keys.swarm_outbox()
        try:
            async with redis_errors("notify"), self._store.client.pipeline(transaction=True) as tx:
                requeued: dict[Any, Any] = {**fields, "attempts": str(spent)}
                tx.xadd(outbox, requeued)
                tx.xack(outbox, GROUP, entry_id)
                tx.xdel(outbox, entry_id)
                await tx.execute()
        except DependencyError:
            logger.exception("swarm delivery %s not given back; retried after its lease", entry_id)


def _entries(raw: Any) -> list[Entry]:
    # XAUTOCLAIM answers None for entries deleted while pending: nothing to send.
    return [(str(i), dict(f)) for i, f in raw or [] if f]
