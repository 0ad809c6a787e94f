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

The canonical form is sorted, compact ``json.dumps`` of the record's JSON
form. It is computed with orjson over the record's one JSON serialisation
(``canonical_json``), which gives the same bytes for every record whose
numbers orjson writes as Python does; the rest (floats in exponent form or
below 1e-4, integers beyond 64 bits, values that bypassed normalisation) take
the original, exact path (``canonical_exact``). Either way the bytes are those
of the original definition, so logs written before stay verifiable.
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

import orjson
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationInfo, model_validator
from pydantic_core import PydanticSerializationError

__all__ = [
    "GENESIS",
    "SCHEMA_VERSION",
    "AuditRecord",
    "ChainHead",
    "RecordType",
    "body_json",
    "canonical",
    "canonical_exact",
    "canonical_fields",
    "canonical_json",
    "chain",
    "plain_numbers",
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
    #: An agent retired: an approved retirement proposal, or a ttl that ran out
    #: (gateway.lifecycle); also a retirement proposed by the sweep.
    RETIREMENT = "retirement"
    #: A usage report (tokens, actual $) for an agent (gateway.costs).
    USAGE = "usage"
    #: An agent reported active (POST /v1/agents/{name}/activity; gateway.lifecycle).
    ACTIVITY = "activity"
    #: A tenant's settings changed from the web console: who, before and after.
    SETTINGS = "settings"
    #: A blueprint created, edited, retired or restored from the web console.
    TEMPLATE = "template"


class AuditRecord(BaseModel):
    # Non-finite floats never reach the JSON form of a built (normalised) record;
    # in one that bypassed normalisation they are written as the bare constants,
    # which no JSON reader takes, so the fast canonical path refuses it
    # rather than store ``null`` for them.
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

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

    def as_json(self) -> dict[str, Any]:
        """``model_dump(mode="json")``, the same values, through the JSON serialiser: the
        former walks every ``JsonValue`` node in Python (about a millisecond a record)."""
        text = self.model_dump_json()
        data: dict[str, Any] = orjson.loads(text)
        # orjson reads an integer beyond 64 bits as a float, which it writes in
        # exponent form: then json, which keeps it exact.
        return data if plain_numbers(orjson.dumps(data)) else dict(json.loads(text))

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


#: The fields the canonical form covers: a stored record with any other set of
#: fields (an older or a foreign one) takes the exact path.
CONTENT_FIELDS = frozenset(AuditRecord.model_fields) - CHAIN_FIELDS


#: Every digit to "0": an exponent is then "0e-" or "0e+" wherever its digits were.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


def plain_numbers(out: bytes) -> bool:
    """Whether orjson wrote every float of ``out`` as ``repr`` does.

    It differs only for floats in exponent form (``1e-7`` against ``1e-07``) and
    below 1e-4 (``0.00001`` against ``1e-05``); an integer beyond 64 bits is read
    by orjson as a float of exponent form too. Text containing such sequences
    only costs the exact path.
    """
    if b"0.0000" in out:
        return False
    if b"e-" not in out and b"e+" not in out:
        return True
    zeroed = out.translate(_DIGITS_AS_ZERO)
    return b"0e-" not in zeroed and b"0e+" not in zeroed


def canonical_json(text: str | bytes) -> bytes | None:
    """The canonical bytes of a record given as JSON (chain fields, if present, are left
    out); None when only ``canonical_exact`` can tell them (see the module doc)."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return canonical_fields(data) if isinstance(data, dict) else None


def canonical_fields(data: dict[str, Any]) -> bytes | None:
    """``canonical_json`` of the parsed JSON (which it takes the chain fields out of)."""
    for name in CHAIN_FIELDS:
        data.pop(name, None)
    if data.keys() != CONTENT_FIELDS:
        return None
    out = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    return out if plain_numbers(out) else None


def body_json(record: AuditRecord) -> str:
    """The record's store form without the chain fields (they come last in the full one)."""
    return record.model_dump_json(exclude=set(CHAIN_FIELDS))


def canonical(record: AuditRecord) -> bytes:
    """The bytes a record's hash covers: every field but the chain fields, sorted, compact."""
    try:
        fast = canonical_json(body_json(record))
    except PydanticSerializationError:
        fast = None
    return fast if fast is not None else canonical_exact(record)


def canonical_exact(record: AuditRecord) -> bytes:
    """The definition of the canonical form (``canonical`` is its fast equivalent).

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
