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

Concurrent appends share one Lua call, written by one writer task per log.
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
``checkpoint_seconds`` after an append, so the tail is covered too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from gateway.audit.chain import ChainProblem, ChainVerifier, verify_chain
from gateway.audit.checkpoints import CheckpointFile, checkpoint_file, resolve_key, sign_checkpoint
from gateway.audit.query import PAGE_SIZE, LogReader, matches
from gateway.audit.record import (
    GENESIS,
    SCHEMA_VERSION,
    AuditRecord,
    ChainHead,
    RecordType,
    canonical,
    chain,
    hash_canonical,
    record_hash,
)
from gateway.audit.spool import Spool, SpooledRecord, content_digest
from gateway.contract.decision import Decision
from gateway.errors import DependencyError, DependencyUnavailable, InternalError
from gateway.settings import Settings
from gateway.storage.deadline import RedisDeadline
from gateway.storage.redis import RedisStore, redis_errors

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

_MAX_CAS_ATTEMPTS = 200

# KEYS: stream, head. ARGV: deadline (ms on Redis's clock, "" for none), expected
# head ("seq:hash" or ""), then pairs of (new head, record json). Appends all
# records and moves the head only if it is not past the deadline and the head is
# still the one the caller chained after. Answers {status, current head, TIME}:
# OK, LATE (nothing written) or MOVED (nothing written; chain after that head).
# replicate_commands: TIME before writes needs effects replication, the default
# since Redis 5 (a no-op in Redis 7, kept for older servers).
_APPEND = """
redis.replicate_commands()
local now = redis.call('TIME')
if ARGV[1] ~= '' and tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
    > tonumber(ARGV[1]) then
  return {'LATE', '', now[1], now[2]}
end
local head = redis.call('GET', KEYS[2]) or ''
if head ~= ARGV[2] then
  return {'MOVED', head, now[1], now[2]}
end
for i = 3, #ARGV, 2 do
  redis.call('XADD', KEYS[1], '*', 'record', ARGV[i + 1])
end
redis.call('SET', KEYS[2], ARGV[#ARGV - 1])
return {'OK', ARGV[#ARGV - 1], now[1], now[2]}
"""


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A record with its canonical bytes, checked storable before it joins a batch."""

    record: AuditRecord
    content: bytes
    done: asyncio.Future[str] | None = None
    #: For a spooled record: the head seq its failed append was sent after.
    after_seq: int | None = None


@dataclass(slots=True)
class _Attempt:
    """What a failed commit may have left in the log: its last append was sent
    after head ``sent_after`` (None: no append was sent at all)."""

    sent_after: int | None = None


def _prepare(
    record: AuditRecord, done: asyncio.Future[str] | None = None, after_seq: int | None = None
) -> _Prepared:
    """Check, before it joins a batch, that the record's store form parses back to
    the very bytes its hash covers (so it will verify); the failure is its own."""
    try:
        content = canonical(record)
        stored = record.model_dump_json().encode("utf-8")
        intact = canonical(AuditRecord.model_validate_json(stored)) == content
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
    return _Prepared(record, content, done, after_seq)


def _from_spool(spooled: SpooledRecord) -> _Prepared:
    return _prepare(spooled.record, after_seq=spooled.after_seq)


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
        self._head_key = store.key("decisions", "head")
        self._instance = instance
        self._spool = Spool(spool)
        pool_kwargs = store.client.connection_pool.connection_kwargs
        self._deadline = RedisDeadline(pool_kwargs.get("socket_timeout"))
        self._append_script = store.client.register_script(_APPEND)
        self._write_lock = asyncio.Lock()
        self._pending: list[_Prepared] = []
        self._writer: asyncio.Task[None] | None = None
        self._head: ChainHead | None = None
        self._checkpoint_key = checkpoint_key
        self._checkpoint_every = checkpoint_every
        self._checkpoint_seconds = checkpoint_seconds
        self._checkpoint_file = CheckpointFile(checkpoint_file) if checkpoint_file else None
        self._checkpointed = 0
        self._checkpoint_timer: asyncio.Task[None] | None = None

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
        result: dict[str, JsonValue] = {
            "verdict": decision.verdict.value,
            "outcome": decision.outcome.value,
            "status_code": decision.status_code,
            "kind": decision.kind.value,
            "reasons": [r.model_dump(mode="json") for r in decision.reasons],
            "obligations": list(decision.obligations),
            "danger_score": decision.danger_score,
            "approval_id": decision.approval_id,
            "stages": [s.model_dump(mode="json") for s in decision.stages],
        }
        return AuditRecord(
            type=RecordType.DECISION,
            decision_id=decision.decision_id,
            timestamp=decision.timestamp,
            path=decision.path,
            tenant=decision.tenant,
            principal=decision.principal,
            input=decision.input,
            result=result,
            bundles={"spawngate": {"revision": decision.revision}},
            labels={"app": "spawngate", "instance": self._instance},
            metrics={"timer_pipeline_ms": round(decision.duration_ms, 3)},
            policy_input=decision.policy_input,
            shadow=decision.shadow,
        )

    def outcome_record(
        self, decision: Decision, *, timestamp: datetime, result: dict[str, JsonValue]
    ) -> AuditRecord:
        return AuditRecord(
            type=RecordType.OUTCOME,
            decision_id=decision.decision_id,
            timestamp=timestamp,
            path=decision.path,
            tenant=decision.tenant,
            principal=decision.principal,
            input={},
            result=result,
            bundles={"spawngate": {"revision": decision.revision}},
            labels={"app": "spawngate", "instance": self._instance},
        )

    # -- writing ---------------------------------------------------------------

    async def append(self, record: AuditRecord) -> str:
        """Append one record durably and chained; return its chain hash.

        Raises ``InternalError`` if this record cannot be serialised (nothing
        else is affected), and ``DependencyUnavailable`` if Redis did not take
        it, after the record has been written to the local spool.
        """
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending.append(_prepare(record, done))
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
                await self._checkpoint_if_due()

    async def _write(self, batch: list[_Prepared]) -> None:
        """Write a batch and answer every caller in it; never raises (but cancellation)."""
        failure: Exception
        attempt = _Attempt()
        try:
            spooled = await self._unseen(await asyncio.to_thread(self._take_spooled))
            hashes = await self._commit([*spooled, *batch], attempt)
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

    async def _commit(self, records: list[_Prepared], attempt: _Attempt | None = None) -> list[str]:
        """Chain the records after the current head and append them, atomically.

        On failure ``attempt`` says after which head the last append was sent,
        and the cached head is dropped: Redis may have moved it.
        """
        attempt = attempt if attempt is not None else _Attempt()
        try:
            return await self._commit_cas(records, attempt)
        except BaseException:
            self._head = None
            self._deadline.forget()
            raise

    async def _commit_cas(self, records: list[_Prepared], attempt: _Attempt) -> list[str]:
        for _ in range(_MAX_CAS_ATTEMPTS):
            async with redis_errors(stage="audit"):
                if self._deadline.needed:
                    seconds, micros = await self._store.client.time()
                    self._deadline.observe(seconds, micros)
                head = self._head if self._head is not None else await self._read_head()
                prev, seq = head.hash, head.seq
                args: list[str] = [self._deadline.deadline(), head.encode()]
                hashes = []
                for p in records:
                    seq += 1
                    digest = hash_canonical(prev, seq, p.content)
                    stored = p.record.model_copy(
                        update={"seq": seq, "prev_hash": prev, "hash": digest}
                    )
                    args.extend((f"{seq}:{digest}", stored.model_dump_json()))
                    hashes.append(digest)
                    prev = digest
                attempt.sent_after = head.seq
                status, current, seconds, micros = await self._append_script(
                    keys=[self._stream, self._head_key], args=args
                )
            self._deadline.observe(seconds, micros)
            ours = ChainHead(seq=seq, hash=prev)
            # MOVED to exactly the head this append sets: it landed (the call was resent).
            if status == "OK" or (status == "MOVED" and current == ours.encode()):
                self._head = ours
                return hashes
            if status == "LATE":
                raise DependencyUnavailable(
                    "redis took the decision record too late", dependency="redis", stage="audit"
                )
            # Another replica appended first: chain after its head and try again.
            self._head = ChainHead.decode(str(current))
        raise DependencyUnavailable(
            "the decision log head kept moving; could not append", dependency="redis", stage="audit"
        )

    async def _read_head(self) -> ChainHead:
        raw = await self._store.client.get(self._head_key)
        return ChainHead.decode(str(raw)) if raw else ChainHead(seq=0, hash=GENESIS)

    def _take_spooled(self) -> list[_Prepared]:
        return [_from_spool(s) for s in self._spool.take()]

    async def _unseen(self, spooled: list[_Prepared]) -> list[_Prepared]:
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
            spooled = await self._unseen(await asyncio.to_thread(self._take_spooled))
            if spooled:
                await self._commit(spooled)
            self._spool.drained()
            return len(spooled)

    # -- checkpoints -----------------------------------------------------------

    async def _checkpoint_if_due(self) -> None:
        head = self._head
        if self._checkpoint_key is None or head is None or head.seq <= self._checkpointed:
            return
        if head.seq // self._checkpoint_every > self._checkpointed // self._checkpoint_every:
            await self.checkpoint()
        elif self._checkpoint_timer is None or self._checkpoint_timer.done():
            self._checkpoint_timer = asyncio.get_running_loop().create_task(
                self._checkpoint_later()
            )

    async def _checkpoint_later(self) -> None:
        await asyncio.sleep(self._checkpoint_seconds)
        async with self._write_lock:
            await self.checkpoint()

    async def checkpoint(self) -> dict[str, Any] | None:
        """Sign this writer's head, file it locally and in Redis; None if nothing new.

        A failure is logged and retried with the next one: the records it would
        cover are already durable, and their callers must get their answers.
        """
        head = self._head
        if self._checkpoint_key is None or head is None or head.seq <= self._checkpointed:
            return None
        signed = sign_checkpoint(head, self._checkpoint_key)
        try:
            if self._checkpoint_file is not None:
                await asyncio.to_thread(self._checkpoint_file.append, signed)
            async with redis_errors(stage="audit"):
                await self._store.client.rpush(self._checkpoints_key, json.dumps(signed))
        except (OSError, DependencyError) as exc:
            logger.error(
                "decision log checkpoint at %d not written (next one retries): %s", head.seq, exc
            )
            return None
        self._checkpointed = head.seq
        return signed

    async def aclose(self) -> None:
        """Checkpoint the tail, so a clean stop leaves no record uncovered."""
        if self._checkpoint_timer is not None:
            self._checkpoint_timer.cancel()
            # wait() never raises the timer's cancellation into this caller.
            await asyncio.wait([self._checkpoint_timer])
        if self._writer is not None:
            await asyncio.wait([self._writer])
        async with self._write_lock:
            await self.checkpoint()


def _fail(batch: list[_Prepared], exc: BaseException) -> None:
    for prepared in batch:
        if prepared.done is not None and not prepared.done.done():
            prepared.done.set_exception(exc)
