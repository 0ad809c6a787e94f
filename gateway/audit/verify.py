"""The auditor's check: a whole log, live or exported, against every checkpoint known.

``spawngate audit verify`` walks the hash chain record by record
(``gateway.audit.chain.ChainVerifier``, constant memory) against the union of
the checkpoints it is given (anchor files kept outside Redis) and those the log
itself carries (the list in Redis, or the checkpoint lines of an export), each
counted once. The result says how many records chained, the first problem if
any, and how many distinct signed checkpoints took part.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gateway.audit.chain import ChainProblem, ChainVerifier
from gateway.audit.export import Checkpoint, export_checkpoints, export_lines, unique_checkpoints
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
    pages = log.raw_pages()
    # The next page is asked for before this one is hashed: Redis reads and sends it
    # (another process, another core) while this one is checked.
    upcoming = asyncio.ensure_future(anext(pages, None))
    try:
        while (page := await upcoming) is not None:
            upcoming = asyncio.ensure_future(anext(pages, None))
            await asyncio.sleep(0)  # let the request go out before hashing
            # The stored JSON as it is: hashed without building a model per record.
            if not all(verifier.feed_stored(raw) for _, raw in page):
                break
            if progress is not None:
                progress(verifier.verified)
    finally:
        upcoming.cancel()  # a problem stops the walk: the page asked for is not needed
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
    n = 0
    for line, checkpoint in export_lines(path):
        if checkpoint is not None:
            continue
        # The record's JSON as written, hashed as the live log's is (see feed_stored).
        if not verifier.feed_stored(line.rstrip("\r\n")):
            break
        n += 1
        if progress is not None and n % _EXPORT_PROGRESS_EVERY == 0:
            progress(verifier.verified)
    return _done(verifier, checkpoints)
