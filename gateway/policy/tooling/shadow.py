"""Summarise shadow mode: where the shadow revision disagreed with the live one.

With a shadow revision configured, a decision record carries ``shadow`` when the
shadow's verdict differed from the live one (``verdict``, ``live_verdict``) or the
shadow failed (``error``). The report counts recorded decisions, those where the
shadow differed, grouped by change (``"review -> deny"``: live, then shadow),
with the first few decision ids of each as examples, and the shadow's errors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from gateway.audit.log import AuditRecord, RecordType

__all__ = ["EXAMPLES", "ShadowReport", "shadow_report"]

#: Decision ids kept per change.
EXAMPLES = 5


class ShadowReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    #: Decision records considered (any verdict, shadow or not).
    decisions: int
    #: Decisions where the shadow's verdict differed from the live one.
    differing: int
    shadow_errors: int
    #: ``"<live> -> <shadow>"`` to how many decisions, sorted by change.
    changes: dict[str, int]
    #: The same keys, to the first ``EXAMPLES`` decision ids in log order.
    examples: dict[str, list[str]]


def shadow_report(records: Iterable[AuditRecord], *, since: str | None = None) -> ShadowReport:
    """The shadow differences among the decision records at or after ``since`` (ISO time)."""
    decisions = 0
    errors = 0
    differences: dict[str, list[str]] = defaultdict(list)
    for record in records:
        if record.type is not RecordType.DECISION:
            continue
        if since is not None and record.timestamp.isoformat() < since:
            continue
        decisions += 1
        shadow = record.shadow
        if not shadow:
            continue
        if "error" in shadow:
            errors += 1
            continue
        change = f"{shadow.get('live_verdict')} -> {shadow.get('verdict')}"
        differences[change].append(record.decision_id)
    ordered = sorted(differences.items())
    return ShadowReport(
        decisions=decisions,
        differing=sum(len(ids) for ids in differences.values()),
        shadow_errors=errors,
        changes={change: len(ids) for change, ids in ordered},
        examples={change: ids[:EXAMPLES] for change, ids in ordered},
    )
