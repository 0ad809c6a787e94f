"""The records that describe one decision: what was decided, and what followed.

A ``decision`` record is written for every attempt, before anything is created
and before the caller gets its answer; an ``outcome`` record, linked by
``decision_id``, says what came of it (created, failed, rolled back ...).

Both are built without validation (``model_construct``): every value comes
from an already validated ``Decision``, and validating it again cost more than
the rest of the write. Normalisation (``gateway.audit.record``) is not lost:
the append serialises the record first and normalises, by validating it after
all, any record whose JSON form is not already the exact one.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import JsonValue

from gateway.audit.record import SCHEMA_VERSION, AuditRecord, RecordType
from gateway.contract.decision import Decision

__all__ = ["decision_record", "outcome_record"]


def decision_record(decision: Decision, *, instance: str) -> AuditRecord:
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
    return AuditRecord.model_construct(
        type=RecordType.DECISION,
        decision_id=decision.decision_id,
        timestamp=decision.timestamp,
        path=decision.path,
        tenant=decision.tenant,
        principal=decision.principal,
        input=decision.input,
        result=result,
        bundles={"spawngate": {"revision": decision.revision}},
        labels={"app": "spawngate", "instance": instance},
        metrics={"timer_pipeline_ms": round(decision.duration_ms, 3)},
        policy_input=decision.policy_input,
        shadow=decision.shadow,
        seq=None,
        prev_hash=None,
        hash=None,
        schema_version=SCHEMA_VERSION,
    )


def outcome_record(
    decision: Decision, *, instance: str, timestamp: datetime, result: dict[str, JsonValue]
) -> AuditRecord:
    return AuditRecord.model_construct(
        type=RecordType.OUTCOME,
        decision_id=decision.decision_id,
        timestamp=timestamp,
        path=decision.path,
        tenant=decision.tenant,
        principal=decision.principal,
        input={},
        result=result,
        bundles={"spawngate": {"revision": decision.revision}},
        labels={"app": "spawngate", "instance": instance},
        metrics={},
        policy_input=None,
        shadow=None,
        seq=None,
        prev_hash=None,
        hash=None,
        schema_version=SCHEMA_VERSION,
    )
