"""The auditor's check: a whole log, live or exported, against every checkpoint known.

``spawngate audit verify`` walks the hash chain record by record
(``gateway.audit.chain.ChainVerifier``, constant memory) against the union of
the checkpoints it is given (anchor files kept outside Redis) and those the log
itself carries (the list in Redis, or the checkpoint lines of an export), each
counted once. The result says how many records chained, the first problem if
any, and how many distinct signed checkpoints took part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gateway.audit.chain import ChainProblem, ChainVerifier
from gateway.audit.export import Checkpoint, export_checkpoints, export_records, unique_checkpoints
from gateway.audit.query import LogReader

__all__ = ["Verification", "verify_export", "verify_log"]

#: Told the number of records verified so far, now and then.
Progress = Callable[[int], None]

#: Records between two progress calls when reading an export.
_EXPORT_PROGRESS_EVERY = 10_000


@dataclass(frozen=True, slots=True)
class Verification:
    #: Records that chained before the first problem (all of them when there is none).
    verified: int
    problem: ChainProblem | None
    #: Distinct checkpoints checked (from the anchors and the log).
    checkpoints: int


def _done(verifier: ChainVerifier, checkpoints: list[Checkpoint]) -> Verification:
    problem = verifier.finish()
    return Verification(verifier.verified, problem, len(checkpoints))


async def verify_log(
    log: LogReader,
    anchors: Iterable[Checkpoint],
    key: str | None,
    progress: Progress | None = None,
) -> Verification:
    """The live log, page by page, against ``anchors`` and the checkpoints in Redis."""
    checkpoints = unique_checkpoints([*anchors, *await log.checkpoints()])
    verifier = ChainVerifier(checkpoints, key)
    # The stored JSON as it is: hashed without building a model per record.
    async for page in log.raw_pages():
        if not all(verifier.feed_stored(raw) for _, raw in page):
            break
        if progress is not None:
            progress(verifier.verified)
    return _done(verifier, checkpoints)


def verify_export(
    path: Path,
    anchors: Iterable[Checkpoint],
    key: str | None,
    progress: Progress | None = None,
) -> Verification:
    """A JSON-lines export against ``anchors`` and its own checkpoint lines."""
    checkpoints = unique_checkpoints([*anchors, *export_checkpoints(path)])
    verifier = ChainVerifier(checkpoints, key)
    for n, record in enumerate(export_records(path)):
        if not verifier.feed(record):
            break
        if progress is not None and n % _EXPORT_PROGRESS_EVERY == 0:
            progress(verifier.verified)
    return _done(verifier, checkpoints)
