"""Verifying the decision log: the hash chain, record by record, against signed checkpoints.

The verifier is fed one record at a time, so a log of any length is checked in
constant memory while it is read page by page. Checkpoints are checked up
front (their signatures) and then as the walk passes their position (the
chain hash there must be the signed one); a checkpoint past the end of the log
means the log was cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.audit.checkpoints import checkpoint_signature_ok
from gateway.audit.record import GENESIS, AuditRecord, record_hash

__all__ = ["ChainProblem", "ChainVerifier", "verify_chain"]


@dataclass(frozen=True, slots=True)
class ChainProblem:
    #: 1-based position in the log, as read.
    position: int
    decision_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"record {self.position} ({self.decision_id or 'no id'}): {self.reason}"


class ChainVerifier:
    """Walks the log; ``problem`` is the first one found (then feeding stops mattering)."""

    def __init__(self, checkpoints: Sequence[dict[str, Any]] = (), key: str | None = None) -> None:
        self.verified = 0
        self.problem: ChainProblem | None = None
        self._prev = GENESIS
        self._expected: dict[int, set[str]] = {}
        self._unkeyed = key is None and bool(checkpoints)
        for checkpoint in checkpoints:
            if not _well_formed(checkpoint):
                self.problem = ChainProblem(0, None, f"malformed checkpoint: {checkpoint!r:.200}")
                return
            if key is not None and not checkpoint_signature_ok(checkpoint, key):
                self.problem = ChainProblem(
                    int(checkpoint.get("seq", 0)), None, "checkpoint signature does not verify"
                )
                return
            self._expected.setdefault(int(checkpoint["seq"]), set()).add(str(checkpoint["hash"]))

    def feed(self, record: AuditRecord) -> bool:
        """Check the next record; False once a problem was found."""
        if self.problem is not None:
            return False
        position = self.verified + 1
        if record.seq != position:
            what = (
                "a record is missing before it"
                if (record.seq or 0) > position
                else "out of order or inserted"
            )
            self.problem = ChainProblem(
                position,
                record.decision_id,
                f"seq {record.seq} where {position} was expected ({what})",
            )
        elif record.prev_hash != self._prev:
            self.problem = ChainProblem(
                position, record.decision_id, "prev_hash does not match the previous record"
            )
        elif record.hash != record_hash(self._prev, position, record):
            self.problem = ChainProblem(
                position, record.decision_id, "content does not match its hash (edited)"
            )
        elif position in self._expected and self._expected[position] != {record.hash}:
            self.problem = ChainProblem(
                position,
                record.decision_id,
                "chain differs from the signed checkpoint at this record",
            )
        if self.problem is not None:
            return False
        self._prev = record.hash or GENESIS
        self.verified = position
        return True

    def finish(self) -> ChainProblem | None:
        """The first problem, including checkpoints the log no longer reaches."""
        if self.problem is None:
            beyond = [seq for seq in self._expected if seq > self.verified]
            if beyond:
                self.problem = ChainProblem(
                    self.verified + 1,
                    None,
                    f"log truncated: a checkpoint covers record {max(beyond)} "
                    f"but the log ends at {self.verified}",
                )
        if self.problem is None and self._unkeyed:
            # The chain matched them, but unsigned claims prove nothing: fail closed.
            self.problem = ChainProblem(
                self.verified,
                None,
                "checkpoints present but no key to check their signatures "
                "(set SPAWNGATE_AUDIT_CHECKPOINT_KEY, or SPAWNGATE_DATA_DIR to the gateway's)",
            )
        return self.problem


def _well_formed(checkpoint: Any) -> bool:
    return (
        isinstance(checkpoint, dict)
        and isinstance(checkpoint.get("seq"), int)
        and isinstance(checkpoint.get("hash"), str)
    )


def verify_chain(
    records: Iterable[AuditRecord],
    *,
    checkpoints: Sequence[dict[str, Any]] = (),
    key: str | None = None,
) -> tuple[int, ChainProblem | None]:
    """Walk the log; return how many records verified and the first problem, if any."""
    verifier = ChainVerifier(checkpoints, key)
    for record in records:
        if not verifier.feed(record):
            break
    return verifier.verified, verifier.finish()
