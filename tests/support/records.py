"""Decision-log records planted by tests: what a crashed or faulty run leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.audit.log import AuditRecord, RecordType


def outcome_record(decision_id: str, outcome: str, agent_id: str) -> AuditRecord:
    """An ``outcome`` record of tenant acme saying what became of ``decision_id``."""
    return AuditRecord(
        type=RecordType.OUTCOME,
        decision_id=decision_id,
        timestamp=datetime.now(UTC),
        path="spawngate/create_agent",
        tenant="acme",
        principal="acme-orchestrator",
        input={},
        result={"outcome": outcome, "agent_id": agent_id},
        bundles={},
    )
