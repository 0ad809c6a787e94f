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
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from gateway.decision import Decision
from gateway.store import RedisStore, redis_errors

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


class AuditLog:
    def __init__(self, store: RedisStore, *, instance: str) -> None:
        self._store = store
        self._stream = store.key("decisions")
        self._instance = instance

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
        """Append one record; return its stream id once Redis has acknowledged it."""
        async with redis_errors(stage="audit"):
            entry_id = await self._store.client.xadd(
                self._stream, {"record": record.model_dump_json()}
            )
        return str(entry_id)

    async def read(self, *, count: int | None = None) -> list[AuditRecord]:
        async with redis_errors():
            entries = await self._store.client.xrange(self._stream, count=count)
        return [AuditRecord.model_validate_json(fields["record"]) for _, fields in entries]

    async def length(self) -> int:
        async with redis_errors():
            return int(await self._store.client.xlen(self._stream))
