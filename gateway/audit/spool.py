"""The decision log's local spool: records Redis did not take, kept until it does.

A record is spooled when its append failed. Such a failure can be ambiguous:
Redis may have applied the append and lost only the reply (killed after the
fsync, connection reset). So each spooled line also carries ``after_seq``: the
chain head the failed append was sent after (``None`` when it was never sent).
If the append was applied at all, the record sits in the stream above that
seq, and the drain skips it there (``AuditLog._unseen``) instead of writing
it a second time.

Lines are JSON, appended and fsynced (this is the rare path). ``take`` moves
the spool into a ``.draining`` file first, so records spooled while a drain
runs are never lost and a crash mid-drain drains again (the check above makes
that safe).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from gateway.audit.record import AuditRecord

__all__ = ["Spool", "SpooledRecord", "content_digest"]

logger = logging.getLogger("spawngate.audit")


def content_digest(content: bytes) -> bytes:
    """What identifies a record across attempts: its canonical bytes (no chain fields)."""
    return hashlib.sha256(content).digest()


class _Line(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    after_seq: int | None
    record: AuditRecord


@dataclass(frozen=True, slots=True)
class SpooledRecord:
    record: AuditRecord
    #: The head seq the failed append was sent after; None if it was never sent.
    after_seq: int | None


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._draining = path.with_suffix(".draining")

    def add(self, records: list[AuditRecord], *, after_seq: int | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            for record in records:
                fh.write(_Line(after_seq=after_seq, record=record).model_dump_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        logger.warning(
            "redis unavailable: %d decision record(s) spooled to %s", len(records), self.path
        )

    def pending(self) -> bool:
        """Whether anything may be spooled: two stat calls, cheap enough for the event loop."""
        return self.path.exists() or self._draining.exists()

    def count(self) -> int:
        """Records waiting in the spool (for the backlog gauge); 0 without reading when empty."""
        total = 0
        for path in (self.path, self._draining):
            try:
                with path.open("rb") as fh:
                    total += sum(1 for line in fh if line.strip())
            except FileNotFoundError:
                continue
        return total

    def take(self) -> list[SpooledRecord]:
        """Spooled records, oldest first, gathered into .draining until ``drained``."""
        if self.path.exists():
            with self._draining.open("a", encoding="utf-8") as out:
                out.write(self.path.read_text(encoding="utf-8"))
                out.flush()
                os.fsync(out.fileno())
            self.path.unlink()
        if not self._draining.exists():
            return []
        lines = self._draining.read_text(encoding="utf-8").splitlines()
        return [_parse(line) for line in lines if line.strip()]

    def drained(self) -> None:
        self._draining.unlink(missing_ok=True)


def _parse(line: str) -> SpooledRecord:
    if line.startswith('{"after_seq"'):
        parsed = _Line.model_validate_json(line)
        return SpooledRecord(parsed.record, parsed.after_seq)
    # A spool written before after_seq existed: a bare record, position unknown.
    return SpooledRecord(AuditRecord.model_validate_json(line), None)
