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

Replay is bound by the policy engine (two queries per record, a few
milliseconds with rego-cpp), so with ``jobs`` > 1 the records are re-decided in
that many worker processes, in chunks, each worker with its own engine built
from the candidate files (an engine cannot cross a process boundary, and
rego-cpp does not run two queries at once in one process). The report is the
same, in the same order, whatever ``jobs`` is.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
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

__all__ = [
    "PARALLEL_FROM",
    "Candidate",
    "ReplayReport",
    "candidate_engine",
    "recorded_verdict",
    "replay",
]

EXAMPLES = 5
#: Records sent to a worker at a time: enough that sending them is a small share.
_CHUNK = 250
#: Fewer records than this are replayed in-process whatever ``jobs`` says: starting a
#: worker (a fresh interpreter, the gateway's imports, an engine) costs about as
#: much as replaying a thousand records.
PARALLEL_FROM = 2_000


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


@dataclass(frozen=True, slots=True)
class Candidate:
    """Where the candidate revision's files are: what a worker process builds its engine from."""

    policies: Path
    templates: Path


def candidate_engine(policies: Path, templates: Path) -> EmbeddedEngine:
    """The candidate revision to replay under, embedded whatever engine the gateway
    uses (replay runs offline); ``PolicyRejected`` naming every problem if it fails
    ``spawngate policy check``."""
    problems, _ = check_policies(policies, templates)
    if problems:
        raise PolicyRejected(problems)
    return _engine(policies, templates)


def _engine(policies: Path, templates: Path) -> EmbeddedEngine:
    return EmbeddedEngine(load_policy_files(policies), revision=revision_of(policies, templates))


@dataclass(frozen=True, slots=True)
class _Job:
    """One record to re-decide: what the engine needs, nothing else crosses to a worker."""

    decision_id: str
    before: str
    #: The recorded policy input without its danger score.
    document: dict[str, Any]
    danger: dict[str, Any] | None


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


async def _decide(engine: PolicyEngine, analyzer: OfflineAnalyzer, job: _Job) -> tuple[str, bool]:
    """The candidate's policy verdict for one record, and whether it had to be scored."""
    admission = await engine.evaluate(Entrypoint.ADMISSION, job.document)
    if admission.deny:
        return rego_verdict(admission, None), False
    danger: Mapping[str, Any]
    if job.danger is not None:
        danger = job.danger
    else:
        report = analyzer.report(_proposal(job.document))
        danger = {
            "score": report.score,
            "categories": [c.value for c in report.categories],
            "reviewer_unavailable": False,
        }
    verdict = await engine.evaluate(Entrypoint.DANGER, danger_input(job.document, danger))
    return rego_verdict(admission, verdict), job.danger is None


@functools.cache
def _worker_engine(candidate: Candidate) -> tuple[EmbeddedEngine, OfflineAnalyzer]:
    # Built once per worker process, on first use (checked by the parent already).
    return _engine(candidate.policies, candidate.templates), OfflineAnalyzer()


def _decide_chunk(candidate: Candidate, jobs: list[_Job]) -> list[tuple[str, bool]]:
    """A worker's share: its chunk re-decided by its own engine."""
    engine, analyzer = _worker_engine(candidate)

    async def run() -> list[tuple[str, bool]]:
        return [await _decide(engine, analyzer, job) for job in jobs]

    return asyncio.run(run())


def _chunks(jobs: list[_Job]) -> Iterator[list[_Job]]:
    for start in range(0, len(jobs), _CHUNK):
        yield jobs[start : start + _CHUNK]


async def _decided(
    work: list[_Job], engine: PolicyEngine, jobs: int, candidate: Candidate | None
) -> AsyncIterator[tuple[list[_Job], list[tuple[str, bool]]]]:
    """Each chunk with its verdicts, in the records' order."""
    if jobs <= 1 or candidate is None or len(work) < PARALLEL_FROM:
        analyzer = OfflineAnalyzer()
        for chunk in _chunks(work):
            yield chunk, [await _decide(engine, analyzer, job) for job in chunk]
        return
    # Spawned, not forked: the parent has an event loop and a native engine loaded.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        loop = asyncio.get_running_loop()
        pending = [
            (chunk, loop.run_in_executor(pool, _decide_chunk, candidate, chunk))
            for chunk in _chunks(work)
        ]
        for chunk, future in pending:
            yield chunk, await future


async def replay(
    records: Iterable[AuditRecord],
    engine: PolicyEngine,
    *,
    tenant: str | None = None,
    since: str | None = None,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
    candidate: Candidate | None = None,
) -> ReplayReport:
    """Re-decide ``records`` under ``engine``'s revision; with ``jobs`` > 1, in that many
    processes, each building the engine from ``candidate`` (the same files)."""
    if jobs > 1 and candidate is None:
        raise ValueError("replay in several processes needs the candidate's files")
    changes: dict[str, list[str]] = defaultdict(list)
    revisions: set[str] = set()
    total = skipped = rescored = 0
    began = time.perf_counter()
    work: list[_Job] = []
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
        recorded = record.policy_input.get("danger")
        work.append(
            _Job(
                record.decision_id,
                before,
                {k: v for k, v in record.policy_input.items() if k != "danger"},
                recorded if isinstance(recorded, dict) else None,
            )
        )
    done = 0
    async for chunk, verdicts in _decided(work, engine, jobs, candidate):
        for job, (after, scored) in zip(chunk, verdicts, strict=True):
            rescored += scored
            if after != job.before:
                changes[f"{job.before} -> {after}"].append(job.decision_id)
        done += len(chunk)
        if progress is not None:
            progress(done)
    seconds = time.perf_counter() - began
    return ReplayReport(
        candidate_revision=engine.revision,
        recorded_revisions=sorted(revisions),
        records=total,
        replayed=len(work),
        skipped=skipped,
        rescored=rescored,
        unchanged=len(work) - sum(len(v) for v in changes.values()),
        changes={k: len(v) for k, v in sorted(changes.items())},
        examples={k: v[:EXAMPLES] for k, v in sorted(changes.items())},
        seconds=round(seconds, 3),
        records_per_second=round(len(work) / seconds, 1) if seconds > 0 else 0.0,
    )
