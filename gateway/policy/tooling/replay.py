"""Replay recorded decisions under a candidate policy revision.

Each decision record carries the exact document the policy engine saw
(``policy_input``, with ``danger`` when scoring ran). Replay evaluates the same
documents under the candidate files, with the same two entry points and the
same combination rule as the gateway, and reports every change of the
*policy* verdict (the policy and danger stages): allow -> deny, deny -> allow,
-> review, and so on. Quotas, Casbin and the other stages do not depend on the
policy revision and are not replayed.

When the danger stage never ran (policy had already denied), the recorded input
has no score; a candidate that no longer denies needs one, so it is computed
with the offline analyzer from the recorded request and grants, and counted
in ``rescored``. A recorded LLM score is reused as recorded.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from gateway.audit.log import AuditRecord, RecordType
from gateway.danger.base import Proposal
from gateway.danger.offline import OfflineAnalyzer
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.engine import Entrypoint, PolicyEngine, rego_verdict
from gateway.policy.files import load_policy_files
from gateway.policy.input import danger_input
from gateway.policy.snapshot import PolicyRejected, revision_of
from gateway.policy.tooling.check import check_policies

__all__ = ["ReplayReport", "candidate_engine", "recorded_verdict", "replay"]

EXAMPLES = 5


class ReplayReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    candidate_revision: str
    recorded_revisions: list[str]
    records: int
    replayed: int
    skipped: int
    rescored: int
    unchanged: int
    changes: dict[str, int]
    examples: dict[str, list[str]]
    seconds: float
    records_per_second: float


def candidate_engine(policies: Path, templates: Path) -> EmbeddedEngine:
    """The candidate revision to replay under, embedded whatever engine the gateway
    uses (replay runs offline); ``PolicyRejected`` naming every problem if it fails
    ``spawngate policy check``."""
    problems, _ = check_policies(policies, templates)
    if problems:
        raise PolicyRejected(problems)
    return EmbeddedEngine(load_policy_files(policies), revision=revision_of(policies, templates))


def recorded_verdict(record: AuditRecord) -> str | None:
    """The policy verdict a record shows: deny, review or allow (None if policy never ran)."""
    stages = record.result.get("stages")
    if not isinstance(stages, list):
        return None
    status = {s.get("stage"): s.get("status") for s in stages if isinstance(s, dict)}
    policy, danger = status.get("policy"), status.get("danger")
    if policy in (None, "skipped"):
        return None
    if "deny" in (policy, danger) or "error" in (policy, danger):
        return "deny"
    if "review" in (policy, danger):
        return "review"
    return "allow"


def _proposal(document: dict[str, Any]) -> Proposal:
    request = document.get("request") or {}
    effective = document.get("effective") or {}
    return Proposal(
        name=str(request.get("name", "unknown")),
        kind=str(document.get("kind", "agent")),
        role=request.get("role"),
        instructions=request.get("instructions"),
        expertise=request.get("expertise"),
        justification=request.get("justification"),
        template=(document.get("template") or {}).get("name"),
        tools=tuple(effective.get("tools", ())),
        capabilities=tuple(effective.get("capabilities", ())),
        depth=int(effective.get("depth", 1)),
    )


async def replay(
    records: Iterable[AuditRecord],
    engine: PolicyEngine,
    *,
    tenant: str | None = None,
    since: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    analyzer = OfflineAnalyzer()
    changes: dict[str, list[str]] = defaultdict(list)
    revisions: set[str] = set()
    total = replayed = skipped = rescored = 0
    began = time.perf_counter()
    for record in records:
        if record.type is not RecordType.DECISION:
            continue
        if tenant is not None and record.tenant != tenant:
            continue
        if since is not None and record.timestamp.isoformat() < since:
            continue
        total += 1
        before = recorded_verdict(record)
        if record.policy_input is None or before is None:
            skipped += 1
            continue
        revisions.add(record.bundles.get("spawngate", {}).get("revision", "unknown"))
        document = {k: v for k, v in record.policy_input.items() if k != "danger"}
        admission = await engine.evaluate(Entrypoint.ADMISSION, document)
        if admission.deny:
            after = rego_verdict(admission, None)
        else:
            recorded = record.policy_input.get("danger")
            danger: Mapping[str, Any]
            if isinstance(recorded, dict):
                danger = recorded
            else:
                report = analyzer.report(_proposal(document))
                danger = {
                    "score": report.score,
                    "categories": [c.value for c in report.categories],
                    "reviewer_unavailable": False,
                }
                rescored += 1
            danger_document = danger_input(document, danger)
            verdict = await engine.evaluate(Entrypoint.DANGER, danger_document)
            after = rego_verdict(admission, verdict)
        replayed += 1
        if after != before:
            changes[f"{before} -> {after}"].append(record.decision_id)
        if progress is not None:
            progress(total)
    seconds = time.perf_counter() - began
    return ReplayReport(
        candidate_revision=engine.revision,
        recorded_revisions=sorted(revisions),
        records=total,
        replayed=replayed,
        skipped=skipped,
        rescored=rescored,
        unchanged=replayed - sum(len(v) for v in changes.values()),
        changes={k: len(v) for k, v in sorted(changes.items())},
        examples={k: v[:EXAMPLES] for k, v in sorted(changes.items())},
        seconds=round(seconds, 3),
        records_per_second=round(replayed / seconds, 1) if seconds > 0 else 0.0,
    )
