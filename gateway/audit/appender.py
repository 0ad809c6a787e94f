"""Appending records to the chain: one compare-and-set on the head, on Redis's clock.

Records are chained after the head this appender last saw and sent in one
``AUDIT_APPEND`` call (``gateway.storage.schema``), which appends them only if
the head is still that one and the deadline (``gateway.storage.deadline``) has
not passed. If another replica appended first (``MOVED``), the records are
chained after its head and sent again: optimistic concurrency, bounded by
``MAX_CAS_ATTEMPTS`` so that a log whose head never settles fails closed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic_core import PydanticSerializationError
from tenacity import AsyncRetrying, RetryError, retry_if_exception_type, stop_after_attempt

from gateway.audit.record import (
    CHAIN_FIELDS,
    GENESIS,
    AuditRecord,
    ChainHead,
    body_json,
    canonical_exact,
    canonical_json,
    hash_canonical,
)
from gateway.errors import DependencyUnavailable, InternalError
from gateway.storage import schema
from gateway.storage.deadline import RedisDeadline
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["MAX_CAS_ATTEMPTS", "Attempt", "ChainAppender", "Prepared", "prepare"]

#: Appends lost to other replicas before giving up (each costs one round trip).
MAX_CAS_ATTEMPTS = 200


@dataclass(frozen=True, slots=True)
class Prepared:
    """A record with its canonical bytes, checked storable before it joins a batch."""

    record: AuditRecord
    content: bytes
    done: asyncio.Future[str] | None = None
    #: For a spooled record: the head seq its failed append was sent after.
    after_seq: int | None = None
    #: The record's store form without the chain fields: the canonical bytes
    #: themselves when the fast path made them (so a verifier hashes the stored
    #: text as it is, without parsing it), else ``model_dump_json`` minus them. The
    #: chain fields come last, so chaining only appends them.
    body: str = ""

    def stored(self, seq: int, prev_hash: str, digest: str) -> str:
        """The store form once chained: ``model_copy(update=chain).model_dump_json()``."""
        return f'{self.body[:-1]},"seq":{seq},"prev_hash":"{prev_hash}","hash":"{digest}"}}'


@dataclass(slots=True)
class Attempt:
    """What a failed commit may have left in the log: its last append was sent
    after head ``sent_after`` (None: no append was sent at all)."""

    sent_after: int | None = None


def prepare(
    record: AuditRecord, done: asyncio.Future[str] | None = None, after_seq: int | None = None
) -> Prepared:
    """Serialise the record once and take its canonical bytes from that JSON, before it
    joins a batch; a record that cannot be stored fails alone.

    The store form is checked to read back to the very bytes its hash covers: on the
    fast path by construction (the canonical bytes are read from that JSON, as
    the verifier reads them); otherwise the record is normalised (validated
    again: it may have been built without) and parsed back explicitly.
    """
    try:
        try:
            body = body_json(record)
            content = canonical_json(body)
        except PydanticSerializationError:
            content = None
        if content is not None:
            return Prepared(record, content, done, after_seq, content.decode())
        record = AuditRecord.model_validate(
            {k: v for k, v in record.__dict__.items() if k not in CHAIN_FIELDS}
        )
        content = canonical_exact(record)
        body = body_json(record)
        intact = canonical_exact(AuditRecord.model_validate_json(body)) == content
    except Exception as exc:  # any failure to serialise is this record's alone
        raise InternalError(
            f"decision record {record.decision_id} cannot be serialised: {type(exc).__name__}",
            stage="audit",
        ) from exc
    if not intact:
        raise InternalError(
            f"decision record {record.decision_id} would not read back as written",
            stage="audit",
        )
    return Prepared(record, content, done, after_seq, body)


class _HeadMoved(Exception):
    """Another replica appended first; nothing was written (chain after its head)."""


class ChainAppender:
    """Chains records after the log's head and appends them atomically."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._stream = store.keys.decisions()
        self._head_key = store.keys.decisions_head()
        pool_kwargs = store.client.connection_pool.connection_kwargs
        self._deadline = RedisDeadline(pool_kwargs.get("socket_timeout"))
        self._script = store.client.register_script(schema.AUDIT_APPEND)
        #: The head as of this appender's last append (None: read it from Redis).
        self.head: ChainHead | None = None

    async def commit(self, records: list[Prepared], attempt: Attempt | None = None) -> list[str]:
        """Chain the records after the current head and append them; their hashes.

        On failure ``attempt`` says after which head the last append was sent,
        and the cached head is dropped: Redis may have moved it.
        """
        attempt = attempt if attempt is not None else Attempt()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(MAX_CAS_ATTEMPTS),
            retry=retry_if_exception_type(_HeadMoved),
        )
        try:
            async for trying in retrying:
                with trying:
                    return await self._append_once(records, attempt)
        except RetryError:
            self._forget()
            raise DependencyUnavailable(
                "the decision log head kept moving; could not append",
                dependency="redis",
                stage="audit",
            ) from None
        except BaseException:
            self._forget()
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _forget(self) -> None:
        self.head = None
        self._deadline.forget()

    async def _append_once(self, records: list[Prepared], attempt: Attempt) -> list[str]:
        async with redis_errors(stage="audit"):
            if self._deadline.needed:
                seconds, micros = await self._store.client.time()
                self._deadline.observe(seconds, micros)
            head = self.head if self.head is not None else await self._read_head()
            prev, seq = head.hash, head.seq
            args: list[str] = [self._deadline.deadline(), head.encode()]
            hashes = []
            for p in records:
                seq += 1
                digest = hash_canonical(prev, seq, p.content)
                args.extend((f"{seq}:{digest}", p.stored(seq, prev, digest)))
                hashes.append(digest)
                prev = digest
            attempt.sent_after = head.seq
            status, current, seconds, micros = await self._script(
                keys=[self._stream, self._head_key], args=args
            )
        self._deadline.observe(seconds, micros)
        ours = ChainHead(seq=seq, hash=prev)
        # MOVED to exactly the head this append sets: it landed (the call was resent).
        if status == "OK" or (status == "MOVED" and current == ours.encode()):
            self.head = ours
            return hashes
        if status == "LATE":
            raise DependencyUnavailable(
                "redis took the decision record too late", dependency="redis", stage="audit"
            )
        # Another replica appended first: chain after its head and try again.
        self.head = ChainHead.decode(str(current))
        raise _HeadMoved

    async def _read_head(self) -> ChainHead:
        raw = await self._store.client.get(self._head_key)
        return ChainHead.decode(str(raw)) if raw else ChainHead(seq=0, hash=GENESIS)
