"""The decision log: one record per attempt, durable before the caller is answered.

Records use OPA's decision-log field names where they fit (``decision_id``,
``timestamp``, ``path``, ``input``, ``result``, ``bundles.<name>.revision``,
``labels``, ``metrics``) so the same sinks can take them. Two record types
share one log:

* ``decision``: written for every attempt, denials and errors included,
  *before* anything is created and before the caller gets its answer;
* ``outcome``: what happened after an allow (created, or why creation failed),
  linked to its decision by ``decision_id``.

Records are appended to a Redis stream. The embedded Redis runs with
``appendonly yes`` and ``appendfsync always``, so an acknowledged append is on
disk; Redis batches the fsync of concurrent appends into one write, which is
why this costs far less than an fsync per record from the request handler.
A production Redis must be configured the same way (see README).

If Redis cannot take a record, the record goes to a local spool file instead
(appended and fsynced: this is the rare path), and the caller still gets its
answer (a 503 naming Redis: nothing was created). The spool is drained back
into the stream, oldest first, by the next append that reaches Redis, so an
outage loses no record.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from gateway.decision import Decision
from gateway.errors import DependencyError, DependencyUnavailable
from gateway.store import RedisStore, redis_errors

logger = logging.getLogger("spawngate.audit")

__all__ = [
    "GENESIS",
    "AuditLog",
    "AuditRecord",
    "ChainHead",
    "ChainProblem",
    "RecordType",
    "chain",
    "record_hash",
    "select_records",
    "sign_checkpoint",
    "verify_chain",
]

#: Version of the record format; bump on any incompatible change.
SCHEMA_VERSION = 1


class RecordType(StrEnum):
    DECISION = "decision"
    OUTCOME = "outcome"
    #: An approver's approve/deny, or an expiry, linked to the original decision.
    APPROVAL = "approval"


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    type: RecordType
    decision_id: str
    timestamp: datetime
    #: OPA's "path": what was decided, e.g. "spawngate/create_agent".
    path: str
    tenant: str | None
    principal: str | None
    input: dict[str, JsonValue]
    result: dict[str, JsonValue]
    #: OPA's bundle revision field: which policy decided.
    bundles: dict[str, dict[str, str]]
    labels: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    #: The policy engine's input (OPA logs it as "input"; ours is the request), for replay.
    policy_input: dict[str, JsonValue] | None = None
    #: A shadow revision's verdict when it differed from the live one.
    shadow: dict[str, JsonValue] | None = None
    #: Hash chain: position in the log, the previous record's hash, and this
    #: record's hash over (prev_hash, seq, canonical content). Set on append.
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


#: The prev_hash of the first record.
GENESIS = "0" * 64
_CHAIN_FIELDS = frozenset({"seq", "prev_hash", "hash"})
_MAX_CAS_ATTEMPTS = 200

# KEYS: stream, head. ARGV: expected head ("seq:hash" or ""), then pairs of
# (new head, record json). Appends all records and moves the head only if the
# head is still the one the caller chained after; else returns the current head.
_APPEND = """
local head = redis.call('GET', KEYS[2]) or ''
if head ~= ARGV[1] then
  return head
end
for i = 2, #ARGV, 2 do
  redis.call('XADD', KEYS[1], '*', 'record', ARGV[i + 1])
end
redis.call('SET', KEYS[2], ARGV[#ARGV - 1])
return 'OK'
"""


@dataclass(frozen=True, slots=True)
class ChainHead:
    seq: int
    hash: str

    def encode(self) -> str:
        return "" if self.seq == 0 else f"{self.seq}:{self.hash}"

    @classmethod
    def decode(cls, raw: str) -> ChainHead:
        if not raw:
            return cls(seq=0, hash=GENESIS)
        seq, _, digest = raw.partition(":")
        return cls(seq=int(seq), hash=digest)


def canonical(record: AuditRecord) -> bytes:
    """The bytes a record's hash covers: every field but the chain fields, sorted, compact."""
    content = record.model_dump(mode="json", exclude=set(_CHAIN_FIELDS))
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(prev_hash: str, seq: int, record: AuditRecord) -> str:
    digest = hashlib.sha256()
    digest.update(f"{prev_hash}\n{seq}\n".encode())
    digest.update(canonical(record))
    return digest.hexdigest()


def chain(records: Sequence[AuditRecord], head: ChainHead) -> list[AuditRecord]:
    out = []
    prev, seq = head.hash, head.seq
    for record in records:
        seq += 1
        digest = record_hash(prev, seq, record)
        out.append(record.model_copy(update={"seq": seq, "prev_hash": prev, "hash": digest}))
        prev = digest
    return out


def sign_checkpoint(head: ChainHead, key: str) -> dict[str, Any]:
    mac = hmac.new(key.encode(), f"{head.seq}:{head.hash}".encode(), hashlib.sha256).hexdigest()
    return {"seq": head.seq, "hash": head.hash, "at": datetime.now(UTC).isoformat(), "hmac": mac}


def select_records(
    records: Iterable[AuditRecord],
    *,
    tenant: str | None = None,
    creator: str | None = None,
    verdict: str | None = None,
    template: str | None = None,
    since: str | None = None,
    until: str | None = None,
    decision_id: str | None = None,
) -> Iterable[AuditRecord]:
    """The records matching every filter given (times are ISO strings, inclusive)."""
    for r in records:
        stamp = r.timestamp.isoformat()
        if (
            (tenant and r.tenant != tenant)
            or (creator and r.principal != creator)
            or (verdict and r.result.get("verdict") != verdict)
            or (template and r.input.get("template", "default") != template)
            or (since and stamp < since)
            or (until and stamp > until)
            or (decision_id and r.decision_id != decision_id)
        ):
            continue
        yield r


@dataclass(frozen=True, slots=True)
class ChainProblem:
    #: 1-based position in the log, as read.
    position: int
    decision_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"record {self.position} ({self.decision_id or 'no id'}): {self.reason}"


def verify_chain(
    records: Iterable[AuditRecord],
    *,
    checkpoints: Sequence[dict[str, Any]] = (),
    key: str | None = None,
) -> tuple[int, ChainProblem | None]:
    """Walk the log; return how many records verified and the first problem, if any."""
    prev, position = GENESIS, 0
    hashes: dict[int, str] = {}
    for position, record in enumerate(records, start=1):
        if record.seq != position:
            what = (
                "a record is missing before it"
                if (record.seq or 0) > position
                else "out of order or inserted"
            )
            return position - 1, ChainProblem(
                position,
                record.decision_id,
                f"seq {record.seq} where {position} was expected ({what})",
            )
        if record.prev_hash != prev:
            return position - 1, ChainProblem(
                position, record.decision_id, "prev_hash does not match the previous record"
            )
        if record.hash != record_hash(prev, position, record):
            return position - 1, ChainProblem(
                position, record.decision_id, "content does not match its hash (edited)"
            )
        prev = record.hash
        hashes[position] = prev
    for checkpoint in checkpoints:
        seq, digest = int(checkpoint["seq"]), str(checkpoint["hash"])
        if key is not None:
            expected = hmac.new(
                key.encode(), f"{seq}:{digest}".encode(), hashlib.sha256
            ).hexdigest()
            if not hmac.compare_digest(expected, str(checkpoint.get("hmac", ""))):
                return position, ChainProblem(seq, None, "checkpoint signature does not verify")
        if seq > position:
            return position, ChainProblem(
                position + 1,
                None,
                f"log truncated: a checkpoint covers record {seq} but the log ends at {position}",
            )
        if hashes.get(seq) != digest:
            return position, ChainProblem(
                seq, None, "chain differs from the signed checkpoint at this record"
            )
    return position, None


class AuditLog:
    def __init__(
        self,
        store: RedisStore,
        *,
        instance: str,
        spool: Path,
        checkpoint_key: str | None = None,
        checkpoint_every: int = 100,
    ) -> None:
        self._store = store
        self._stream = store.key("decisions")
        self._head_key = store.key("decisions", "head")
        self._checkpoints_key = store.key("decisions", "checkpoints")
        self._instance = instance
        self._spool = spool
        self._draining = spool.with_suffix(".draining")
        self._append_script = store.client.register_script(_APPEND)
        self._write_lock = asyncio.Lock()
        self._pending: list[tuple[AuditRecord, asyncio.Future[str]]] = []
        self._head: ChainHead | None = None
        self._checkpoint_key = checkpoint_key
        self._checkpoint_every = checkpoint_every

    @property
    def stream(self) -> str:
        return self._stream

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

    async def append(self, record: AuditRecord) -> str:
        """Append one record durably and chained; return its chain hash.

        Raises ``DependencyUnavailable`` if Redis did not take it, after the
        record has been written to the local spool.
        """
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending.append((record, done))
        async with self._write_lock:
            # Whoever holds the lock writes everything queued so far in one call,
            # so concurrent appends share one round trip and one fsync.
            if not done.done():
                batch, self._pending = self._pending, []
                await self._write(batch)
        return await done

    async def _write(self, batch: list[tuple[AuditRecord, asyncio.Future[str]]]) -> None:
        try:
            spooled = await asyncio.to_thread(self._take_spooled)
            hashes = await self._commit([*spooled, *(r for r, _ in batch)])
        except DependencyError as exc:
            await asyncio.to_thread(self._spool_records, [r for r, _ in batch])
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        if spooled:
            self._draining.unlink(missing_ok=True)
            logger.info("drained %d spooled decision records into the log", len(spooled))
        for (_, future), digest in zip(batch, hashes[len(spooled) :], strict=True):
            if not future.done():
                future.set_result(digest)

    async def _commit(self, records: list[AuditRecord]) -> list[str]:
        """Chain the records after the current head and append them, atomically."""
        for _ in range(_MAX_CAS_ATTEMPTS):
            async with redis_errors(stage="audit"):
                head = self._head if self._head is not None else await self._read_head()
                chained = chain(records, head)
                args: list[str] = [head.encode()]
                for rec in chained:
                    args.extend((f"{rec.seq}:{rec.hash}", rec.model_dump_json()))
                answer = await self._append_script(keys=[self._stream, self._head_key], args=args)
            if answer == "OK":
                last = chained[-1]
                self._head = ChainHead(seq=last.seq or 0, hash=last.hash or GENESIS)
                await self._checkpoint_if_due(head, self._head)
                return [rec.hash or "" for rec in chained]
            # Another replica appended first: chain after its head and try again.
            self._head = ChainHead.decode(str(answer))
        raise DependencyUnavailable(
            "the decision log head kept moving; could not append", dependency="redis", stage="audit"
        )

    async def _read_head(self) -> ChainHead:
        raw = await self._store.client.get(self._head_key)
        return ChainHead.decode(str(raw)) if raw else ChainHead(seq=0, hash=GENESIS)

    def _take_spooled(self) -> list[AuditRecord]:
        """Spooled records, oldest first, gathered into .draining until they are in the log."""
        if self._spool.exists():
            with self._draining.open("a", encoding="utf-8") as out:
                out.write(self._spool.read_text(encoding="utf-8"))
                out.flush()
                os.fsync(out.fileno())
            self._spool.unlink()
        if not self._draining.exists():
            return []
        lines = self._draining.read_text(encoding="utf-8").splitlines()
        return [AuditRecord.model_validate_json(line) for line in lines if line.strip()]

    def _spool_records(self, records: list[AuditRecord]) -> None:
        self._spool.parent.mkdir(parents=True, exist_ok=True)
        with self._spool.open("a", encoding="utf-8") as fh:
            for record in records:
                fh.write(record.model_dump_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        logger.warning(
            "redis unavailable: %d decision record(s) spooled to %s", len(records), self._spool
        )

    async def drain_spool(self) -> int:
        """Move spooled records into the log now (they also go with the next append)."""
        async with self._write_lock:
            spooled = await asyncio.to_thread(self._take_spooled)
            if spooled:
                await self._commit(spooled)
                self._draining.unlink(missing_ok=True)
            return len(spooled)

    async def _checkpoint_if_due(self, before: ChainHead, after: ChainHead) -> None:
        if self._checkpoint_key is None or self._checkpoint_every <= 0:
            return
        if after.seq // self._checkpoint_every == before.seq // self._checkpoint_every:
            return
        checkpoint = sign_checkpoint(after, self._checkpoint_key)
        async with redis_errors(stage="audit"):
            await self._store.client.rpush(self._checkpoints_key, json.dumps(checkpoint))

    async def checkpoints(self) -> list[dict[str, Any]]:
        async with redis_errors():
            raw = await self._store.client.lrange(self._checkpoints_key, 0, -1)
        return [json.loads(x) for x in raw]

    async def read(self, *, count: int | None = None) -> list[AuditRecord]:
        async with redis_errors():
            entries = await self._store.client.xrange(self._stream, count=count)
        return [
            AuditRecord.model_validate_json(str(fields["record"]))
            for _, fields in entries or []
            if fields
        ]

    async def length(self) -> int:
        async with redis_errors():
            return int(await self._store.client.xlen(self._stream))
