"""The decision log: one record per attempt, durable before the caller is answered.

Records use OPA's decision-log field names where they fit (``decision_id``,
``timestamp``, ``path``, ``input``, ``result``, ``bundles.<name>.revision``,
``labels``, ``metrics``) so the same sinks can take them. Record types share
one log (see ``RecordType``): ``decision`` for every attempt, written *before*
anything is created and before the caller gets its answer; ``outcome``,
``approval`` and ``reconcile`` for what followed, linked by ``decision_id``.

Records are appended to a Redis stream. The embedded Redis runs with
``appendonly yes`` and ``appendfsync always``, so an acknowledged append is on
disk; Redis batches the fsync of concurrent appends into one write, which is
why this costs far less than an fsync per record from the request handler.
A production Redis must be configured the same way (see README).

Concurrent appends share one Lua call (``AUDIT_APPEND``), written by one writer task per log.
Each record is serialised *before* it joins a batch, so a record that cannot
be stored fails its own append (a 500) and never its neighbours'; if a batch
still fails for a reason other than Redis, its records are retried one by
one, and every caller always gets an answer.

If Redis cannot take a record, the record goes to a local spool file instead
(``gateway.audit.spool``: appended and fsynced, the rare path), and the caller
still gets its answer (a 503 naming Redis: nothing was created). The spool is
drained back into the stream, oldest first, by the next append that reaches
Redis, so an outage loses no record.

Exactly once, although a failed append is ambiguous (Redis may have applied
it and only the answer was lost):

* Late appends are refused. The append script carries a deadline on Redis's
  own clock (``gateway.storage.deadline``), before the moment the client gives up
  on it, and refuses (``LATE``) once ``TIME`` has passed it. So a Redis that was
  frozen with the append in its buffer does not apply it on waking; whatever
  was applied, was applied before the gateway spooled the record.
* Applied appends are not drained again. A spooled record keeps the head seq
  its failed append was sent after; before draining, the stream above the
  lowest such seq is read (paged, newest first, only when the spool is not
  empty) and spooled records whose canonical content is already there are
  skipped. The cost is one read of the records written since the failure, paid
  only on recovery; nothing is added to the normal path.
* After an ambiguous failure the cached head is dropped and read again. An
  answer that the head moved to exactly the head this append would have set
  means this append landed (a resend); it is taken as success.

Two records with identical canonical content (same type, decision id,
timestamp to the microsecond, and everything else) would be taken for one; the
gateway never writes such a pair.

Checkpoints of the chain head are signed and filed outside Redis
(``gateway.audit.checkpoints``) every ``checkpoint_every`` records and at most
``checkpoint_seconds`` after an append, so the tail is covered too
(``gateway.audit.checkpointer``).

This module is the writer: batching, the spool and the drain. The append
itself (chaining and the compare-and-set on the head) is
``gateway.audit.appender``; the records a decision leaves are built in
``gateway.audit.decision_records``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from gateway.audit import decision_records
from gateway.audit.appender import Attempt, ChainAppender, Prepared, prepare
from gateway.audit.chain import ChainProblem, ChainVerifier, verify_chain
from gateway.audit.checkpointer import Checkpointer
from gateway.audit.checkpoints import checkpoint_file, resolve_key, sign_checkpoint
from gateway.audit.query import PAGE_SIZE, LogReader, matches
from gateway.audit.record import (
    GENESIS,
    SCHEMA_VERSION,
    AuditRecord,
    ChainHead,
    RecordType,
    canonical,
    chain,
    record_hash,
)
from gateway.audit.spool import Spool, SpooledRecord, content_digest
from gateway.contract.decision import Decision
from gateway.errors import DependencyError, InternalError
from gateway.settings import Settings
from gateway.storage.redis import RedisStore

logger = logging.getLogger("spawngate.audit")

__all__ = [
    "GENESIS",
    "PAGE_SIZE",
    "SCHEMA_VERSION",
    "AuditLog",
    "AuditRecord",
    "ChainHead",
    "ChainProblem",
    "ChainVerifier",
    "RecordType",
    "canonical",
    "chain",
    "matches",
    "record_hash",
    "sign_checkpoint",
    "verify_chain",
]


def _from_spool(spooled: SpooledRecord) -> Prepared:
    return prepare(spooled.record, after_seq=spooled.after_seq)


class AuditLog(LogReader):
    """The log's writer (and, through ``LogReader``, its paged reader)."""

    def __init__(
        self,
        store: RedisStore,
        *,
        instance: str,
        spool: Path,
        checkpoint_key: str | None = None,
        checkpoint_every: int = 100,
        checkpoint_seconds: float = 10.0,
        checkpoint_file: Path | None = None,
    ) -> None:
        super().__init__(store)
        self._instance = instance
        self._spool = Spool(spool)
        self._appender = ChainAppender(store)
        self._write_lock = asyncio.Lock()
        self._pending: list[Prepared] = []
        self._writer: asyncio.Task[None] | None = None
        self._checkpointer = Checkpointer(
            store,
            head=lambda: self._appender.head,
            write_lock=self._write_lock,
            key=checkpoint_key,
            every=checkpoint_every,
            seconds=checkpoint_seconds,
            file=checkpoint_file,
        )

    @classmethod
    def for_settings(cls, store: RedisStore, settings: Settings, *, instance: str) -> AuditLog:
        """The gateway's log: signed checkpoints always on, filed under data_dir by default."""
        return cls(
            store,
            instance=instance,
            spool=settings.data_dir / f"audit-spool-{settings.redis_prefix}.jsonl",
            checkpoint_key=resolve_key(settings),
            checkpoint_every=settings.audit_checkpoint_every,
            checkpoint_seconds=settings.audit_checkpoint_seconds,
            checkpoint_file=checkpoint_file(settings),
        )

    def decision_record(self, decision: Decision) -> AuditRecord:
        return decision_records.decision_record(decision, instance=self._instance)

    def outcome_record(
        self, decision: Decision, *, timestamp: datetime, result: dict[str, JsonValue]
    ) -> AuditRecord:
        return decision_records.outcome_record(
            decision, instance=self._instance, timestamp=timestamp, result=result
        )

    def spooled(self) -> int:
        """Records written to this process's local spool and not yet in Redis."""
        return self._spool.count()

    # -- writing ---------------------------------------------------------------

    async def append(self, record: AuditRecord) -> str:
        """Append one record durably and chained; return its chain hash.

        Raises ``InternalError`` if this record cannot be serialised (nothing
        else is affected), and ``DependencyUnavailable`` if Redis did not take
        it, after the record has been written to the local spool.
        """
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending.append(prepare(record, done))
        self._ensure_writer()
        # Shielded: a caller that goes away must not cancel the shared write.
        return await asyncio.shield(done)

    def _ensure_writer(self) -> None:
        if self._pending and (self._writer is None or self._writer.done()):
            self._writer = asyncio.get_running_loop().create_task(self._write_pending())
            # Records queued while the writer was finishing are never stranded.
            self._writer.add_done_callback(lambda _: self._ensure_writer())

    async def _write_pending(self) -> None:
        async with self._write_lock:
            while self._pending:
                # Everything queued so far goes in one call: one round trip, one fsync.
                batch, self._pending = self._pending, []
                try:
                    await self._write(batch)
                except BaseException:
                    # Cancelled (the loop is stopping): no caller is left waiting.
                    _fail(batch, InternalError("the decision log writer stopped", stage="audit"))
                    raise
                # After the batch is answered: a checkpoint never delays its callers.
                await self._checkpointer.if_due()

    async def _write(self, batch: list[Prepared]) -> None:
        """Write a batch and answer every caller in it; never raises (but cancellation)."""
        failure: Exception
        attempt = Attempt()
        try:
            # The spool is almost always empty: only go to a thread to read it when not.
            spooled = (
                await self._unseen(await asyncio.to_thread(self._take_spooled))
                if self._spool.pending()
                else []
            )
            hashes = await self._appender.commit([*spooled, *batch], attempt)
        except DependencyError as exc:
            if not isinstance(exc, InternalError):
                records = [p.record for p in batch]
                await asyncio.to_thread(self._spool.add, records, after_seq=attempt.sent_after)
                _fail(batch, exc)
                return
            failure = exc
        except Exception as exc:
            failure = exc
        else:
            self._spool.drained()
            if spooled:
                logger.info("drained %d spooled decision records into the log", len(spooled))
            for prepared, digest in zip(batch, hashes[len(spooled) :], strict=True):
                if prepared.done is not None and not prepared.done.done():
                    prepared.done.set_result(digest)
            return
        if len(batch) > 1:
            # Not Redis being down: find the record at fault by writing each alone.
            for one in batch:
                await self._write([one])
            return
        logger.error("decision record %s not written: %r", batch[0].record.decision_id, failure)
        _fail(
            batch,
            InternalError(f"decision record not written: {type(failure).__name__}", stage="audit"),
        )

    def _take_spooled(self) -> list[Prepared]:
        return [_from_spool(s) for s in self._spool.take()]

    async def _unseen(self, spooled: list[Prepared]) -> list[Prepared]:
        """The spooled records not already in the log (see the module doc).

        Appends that failed were sent after some head seq; if one was applied
        after all, its records lie above that seq. Reads the stream newest first
        down to the lowest such seq, and no further.
        """
        floors = [p.after_seq for p in spooled if p.after_seq is not None]
        if not floors:
            return spooled
        floor, started = min(floors), time.monotonic()
        present: set[bytes] = set()
        async for chunk in self.pages(reverse=True):
            below = [r for _, r in chunk if r.seq is not None and r.seq <= floor]
            present.update(
                content_digest(canonical(r)) for _, r in chunk if r.seq is None or r.seq > floor
            )
            if below:
                break
        unseen = [p for p in spooled if content_digest(p.content) not in present]
        if len(unseen) < len(spooled):
            logger.warning(
                "%d spooled decision record(s) were already in the log (an append whose "
                "answer was lost); not written again (checked %d records in %.2fs)",
                len(spooled) - len(unseen),
                len(present),
                time.monotonic() - started,
            )
        return unseen

    async def drain_spool(self) -> int:
        """Move spooled records into the log now (they also go with the next append)."""
        async with self._write_lock:
            # The spool is almost always empty: only go to a thread to read it when not.
            spooled = (
                await self._unseen(await asyncio.to_thread(self._take_spooled))
                if self._spool.pending()
                else []
            )
            if spooled:
                await self._appender.commit(spooled)
            self._spool.drained()
            return len(spooled)

    # -- checkpoints -----------------------------------------------------------

    async def checkpoint(self) -> dict[str, Any] | None:
        """Sign this writer's head, file it locally and in Redis; None if nothing new."""
        return await self._checkpointer.checkpoint()

    async def aclose(self) -> None:
        """Checkpoint the tail, so a clean stop leaves no record uncovered."""
        await self._checkpointer.stop_timer()
        if self._writer is not None:
            await asyncio.wait([self._writer])
        async with self._write_lock:
            await self._checkpointer.checkpoint()


def _fail(batch: list[Prepared], exc: BaseException) -> None:
    for prepared in batch:
        if prepared.done is not None and not prepared.done.done():
            prepared.done.set_exception(exc)
