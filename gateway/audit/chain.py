"""Verifying the decision log: the hash chain, record by record, against signed checkpoints.

The verifier is fed one record at a time, so a log of any length is checked in
constant memory while it is read page by page. Checkpoints are checked up
front (their signatures) and then as the walk passes their position (the
chain hash there must be the signed one); a checkpoint past the end of the log
means the log was cut.

``feed_stored`` takes a record as stored (its JSON text) and checks it without
building the model. The appender stores a record as its canonical bytes with
the chain fields appended (gateway.audit.appender), so the stored text before
them *is* what the hash covers: it is hashed as it is, without parsing, which
is what lets a long log verify at the speed of hashing. A record stored
otherwise (written before that, or off the fast path) has its canonical bytes
read from its JSON (``canonical_json``). Whatever those paths cannot settle
(an unusual number, a field set of another version, or a hash that does not
match) is decided by the model and the exact canonical form, as ``feed`` does.
Hashing the stored bytes is sound on its own: the chain commits to exactly
those bytes, so they cannot change without the hash failing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.audit.checkpoints import checkpoint_signature_ok
from gateway.audit.record import (
    GENESIS,
    AuditRecord,
    canonical_fields,
    hash_canonical,
    record_hash,
)

__all__ = ["ChainProblem", "ChainVerifier", "verify_chain"]


#: The chain fields as the appender writes them, last in the stored text.
_CHAIN_TAIL = re.compile(
    rb',"seq":([1-9][0-9]{0,18}),"prev_hash":"([0-9a-f]{64})","hash":"([0-9a-f]{64})"}\Z'
)
_TAIL_START = b',"seq":'


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
        return self._check(
            record.seq,
            record.prev_hash,
            record.hash,
            record.decision_id,
            lambda: record_hash(self._prev, self.verified + 1, record),
        )

    def feed_stored(self, stored: str | bytes) -> bool:
        """``feed`` for a record as stored (its JSON text), without building the model
        unless the fast canonical path cannot settle it."""
        if self.problem is not None:
            return False
        raw = stored.encode() if isinstance(stored, str) else stored
        # Found from the end: the content cannot hold the raw text (JSON escapes quotes).
        at = raw.rfind(_TAIL_START)
        tail = _CHAIN_TAIL.match(raw, at) if at > 0 else None
        if tail is not None:
            position = self.verified + 1
            seq, prev_hash, digest = int(tail[1]), tail[2].decode(), tail[3].decode()
            if (
                seq == position
                and prev_hash == self._prev
                and digest == hash_canonical(prev_hash, position, raw[: tail.start()] + b"}")
            ):
                return self._check(seq, prev_hash, digest, None, lambda: digest)
        try:
            fields = orjson.loads(stored)
            seq, prev_hash, digest = fields["seq"], fields["prev_hash"], fields["hash"]
        except (orjson.JSONDecodeError, TypeError, KeyError):
            return self.feed(AuditRecord.model_validate_json(stored))
        content = canonical_fields(fields)
        position = self.verified + 1
        if (
            content is None
            or type(seq) is not int
            or seq != position
            or prev_hash != self._prev
            or digest != hash_canonical(self._prev, position, content)
        ):
            # Not settled here, or a problem: the model says which, exactly as feed does.
            return self.feed(AuditRecord.model_validate_json(stored))
        return self._check(seq, prev_hash, digest, None, lambda: digest)

    def _check(
        self,
        seq: int | None,
        prev_hash: str | None,
        digest: str | None,
        decision_id: str | None,
        content_hash: Callable[[], str],
    ) -> bool:
        if self.problem is not None:
            return False
        position = self.verified + 1
        if seq != position:
            what = (
                "a record is missing before it"
                if (seq or 0) > position
                else "out of order or inserted"
            )
            self.problem = ChainProblem(
                position, decision_id, f"seq {seq} where {position} was expected ({what})"
            )
        elif prev_hash != self._prev:
            self.problem = ChainProblem(
                position, decision_id, "prev_hash does not match the previous record"
            )
        elif digest != content_hash():
            self.problem = ChainProblem(
                position, decision_id, "content does not match its hash (edited)"
            )
        elif position in self._expected and self._expected[position] != {digest}:
            self.problem = ChainProblem(
                position,
                decision_id,
                "chain differs from the signed checkpoint at this record",
            )
        if self.problem is not None:
            return False
        self._prev = digest or GENESIS
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
