"""The decision-log record, its canonical form and its hash chain.

The canonical form must be *total*: any record that was written must verify,
whatever a caller put in it. Three kinds of value cannot survive the trip
record -> stored JSON -> record unchanged, so a record is normalised when it is
built (never at verify time, so the stored form is exactly what was hashed):

* non-finite floats (JSON has no NaN or Infinity: they would be stored as
  ``null``) become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
* strings with lone surrogates (``"\\ud800"`` in a JSON body) cannot be encoded
  as UTF-8 at all; each such code point becomes its escape text (``\\ud800``);
* integers too long to parse back (Python and pydantic refuse thousands of
  digits) become ``"<int: N bits>"``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, model_validator

__all__ = [
    "GENESIS",
    "SCHEMA_VERSION",
    "AuditRecord",
    "ChainHead",
    "RecordType",
    "canonical",
    "chain",
    "record_hash",
    "safe_value",
]

#: Version of the record format; bump on any incompatible change.
SCHEMA_VERSION = 1

#: The prev_hash of the first record.
GENESIS = "0" * 64
CHAIN_FIELDS = frozenset({"seq", "prev_hash", "hash"})

#: Integers at or beyond this size are recorded by their size only: far past
#: any meaningful value, well inside what every JSON reader here parses.
_INT_LIMIT = 10**256
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _safe_str(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def safe_value(value: Any) -> Any:
    """``value`` with every part JSON cannot carry unchanged replaced (see module doc)."""
    if isinstance(value, str):
        return _safe_str(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_INT_LIMIT < value < _INT_LIMIT else f"<int: {value.bit_length()} bits>"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return _NON_FINITE.get(value, value)
    if isinstance(value, dict):
        return {_safe_str(str(k)): safe_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe_value(v) for v in value]
    return value


class RecordType(StrEnum):
    DECISION = "decision"
    OUTCOME = "outcome"
    #: An approver's approve/deny, or an expiry, linked to the original decision.
    APPROVAL = "approval"
    #: What the reconciler corrected in the quota counters and found out of step
    #: between the registry and the log (gateway.quotas.reconcile).
    RECONCILE = "reconcile"


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    type: RecordType
    decision_id: str
    timestamp: datetime
    #: OPA's "path": what was decided, e.g. "spawngate/create_agent".
    path: str
    tenant: str | None
    principal: str | None
    input: dict[str, JsonValue]
    result: dict[str, JsonValue]
    #: OPA's bundle revision field: which policy decided.
    bundles: dict[str, dict[str, str]]
    labels: dict[str, str] = Field(default_factory=dict)
    #: Numbers, or the token of a non-finite one ("NaN", "Infinity").
    metrics: dict[str, float | str] = Field(default_factory=dict)
    #: The policy engine's input (OPA logs it as "input"; ours is the request), for replay.
    policy_input: dict[str, JsonValue] | None = None
    #: A shadow revision's verdict when it differed from the live one.
    shadow: dict[str, JsonValue] | None = None
    #: Hash chain: position in the log, the previous record's hash, and this
    #: record's hash over (prev_hash, seq, canonical content). Set on append.
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any, info: ValidationInfo) -> Any:
        # Parsed JSON is storable already (it came from the store form); skipping
        # it keeps reading and verifying a long log cheap.
        if info.mode == "json" or not isinstance(data, dict):
            return data
        return safe_value(data)


@dataclass(frozen=True, slots=True)
class ChainHead:
    seq: int
    hash: str

    def encode(self) -> str:
        return "" if self.seq == 0 else f"{self.seq}:{self.hash}"

    @classmethod
    def decode(cls, raw: str) -> ChainHead:
        if not raw:
            return cls(seq=0, hash=GENESIS)
        seq, _, digest = raw.partition(":")
        return cls(seq=int(seq), hash=digest)


def canonical(record: AuditRecord) -> bytes:
    """The bytes a record's hash covers: every field but the chain fields, sorted, compact.

    ``backslashreplace`` only matters for a record that bypassed validation; for
    every normal record the bytes are the plain UTF-8 of the JSON.
    """
    content = record.model_dump(mode="json", exclude=set(CHAIN_FIELDS))
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace")


def hash_canonical(prev_hash: str, seq: int, content: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(f"{prev_hash}\n{seq}\n".encode())
    digest.update(content)
    return digest.hexdigest()


def record_hash(prev_hash: str, seq: int, record: AuditRecord) -> str:
    return hash_canonical(prev_hash, seq, canonical(record))


def chain(records: Sequence[AuditRecord], head: ChainHead) -> list[AuditRecord]:
    out = []
    prev, seq = head.hash, head.seq
    for record in records:
        seq += 1
        digest = record_hash(prev, seq, record)
        out.append(record.model_copy(update={"seq": seq, "prev_hash": prev, "hash": digest}))
        prev = digest
    return out
