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
import logging
import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from gateway.decision import Decision
from gateway.errors import DependencyError
from gateway.store import RedisStore, redis_errors

logger = logging.getLogger("spawngate.audit")

__all__ = ["AuditLog", "AuditRecord", "RecordType"]

#: Version of the record format; bump on any incompatible change.
SCHEMA_VERSION = 1


class RecordType(StrEnum):
    DECISION = "decision"
    OUTCOME = "outcome"


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


class AuditLog:
    def __init__(self, store: RedisStore, *, instance: str, spool: Path) -> None:
        self._store = store
        self._stream = store.key("decisions")
        self._instance = instance
        self._spool = spool
        self._draining = spool.with_suffix(".draining")
        self._drain_lock = asyncio.Lock()

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
        """Append one record durably; return its stream id.

        Raises ``DependencyUnavailable`` if Redis did not take it, after the
        record has been written to the local spool.
        """
        line = record.model_dump_json()
        try:
            if self._spool.exists() or self._draining.exists():
                # Older spooled records go first, so the log keeps its order.
                await self.drain_spool()
            async with redis_errors(stage="audit"):
                entry_id = await self._store.client.xadd(self._stream, {"record": line})
        except DependencyError:
            await asyncio.to_thread(self._spool_line, line)
            raise
        return str(entry_id)

    def _spool_line(self, line: str) -> None:
        self._spool.parent.mkdir(parents=True, exist_ok=True)
        with self._spool.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        logger.warning("redis unavailable: decision record spooled to %s", self._spool)

    async def drain_spool(self) -> int:
        """Move spooled records into the stream, oldest first; return how many moved."""
        moved = 0
        async with self._drain_lock:
            # A failed drain leaves its batch in .draining (older than anything
            # spooled since), so it is always retried first.
            while self._draining.exists() or self._spool.exists():
                if not self._draining.exists():
                    self._spool.rename(self._draining)
                text = self._draining.read_text(encoding="utf-8")
                lines = [ln for ln in text.splitlines() if ln.strip()]
                async with redis_errors(stage="audit"):
                    pipe = self._store.client.pipeline(transaction=True)
                    for ln in lines:
                        pipe.xadd(self._stream, {"record": ln})
                    await pipe.execute()
                self._draining.unlink()
                moved += len(lines)
        if moved:
            logger.info("drained %d spooled decision records into the log", moved)
        return moved

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
