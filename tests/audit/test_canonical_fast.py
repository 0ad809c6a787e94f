"""Issue 12: the fast canonical form (orjson over the record's one JSON form) gives
the very bytes of the original definition, so existing logs keep verifying."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.audit.appender import prepare
from gateway.audit.chain import ChainVerifier
from gateway.audit.record import (
    CHAIN_FIELDS,
    GENESIS,
    AuditRecord,
    ChainHead,
    RecordType,
    body_json,
    canonical,
    canonical_exact,
    canonical_json,
    chain,
    hash_canonical,
    record_hash,
)
from tests.trust.test_trust_audit import json_keys, json_values

STAMP = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def fixed(n: int, *, at: datetime = STAMP, **extra: Any) -> AuditRecord:
    return AuditRecord(
        type=RecordType.DECISION,
        decision_id=f"dec_{n}",
        timestamp=at,
        path="spawngate/create_agent",
        tenant="acme",
        principal="acme-orchestrator",
        input={"name": f"n-{n}", "z": 1, **extra},
        result={"verdict": "allow", "stages": [{"stage": "policy", "duration_ms": 0.123}]},
        bundles={"spawngate": {"revision": "git:abc"}},
        labels={"app": "spawngate"},
        metrics={"timer_pipeline_ms": 1.25},
        policy_input={"request": {"é": "ü\u2028\x00", "name": "x"}},
    )


AWKWARD: dict[str, Any] = {"a": [1.5, 1e-7, 1e16, 2**70, 10**300, -0.0, True, None]}
ODD: dict[str, Any] = {
    "bad": "\ud800x",
    "nan": math.nan,
    "inf": -math.inf,
    "huge": 10**5000,
    "tiny": 5e-324,
}


def test_hashes_are_those_of_the_code_before_issue_12() -> None:
    # Computed with gateway/audit/record.py as of commit c99c321 (json.dumps of model_dump).
    pinned = {
        "plain": (fixed(0), "634835c07e1b8c78344bd6271cf233b1b37cdcae6ddeb3754bb7382c65d52861"),
        "awkward": (
            fixed(0, **AWKWARD),
            "6757639398b95416a4daf2840dea74ca7269c4b0d87bf7cbb42a226ee6df03bc",
        ),
        "odd": (
            fixed(1, **AWKWARD, **ODD),
            "445ec534db7426a04de0910b2c7ed7b1d77a6e7aafbc65dac7fbbcce6ddfe6da",
        ),
    }
    for name, (record, digest) in pinned.items():
        assert record_hash(GENESIS, 1, record) == digest, name


def check_same(record: AuditRecord) -> None:
    exact = canonical_exact(record)
    assert canonical(record) == exact
    body = body_json(record)
    fast = canonical_json(body)
    assert fast is None or fast == exact
    stored = record.model_dump_json()
    fast_stored = canonical_json(stored)
    assert fast_stored is None or fast_stored == exact
    prepared = prepare(record)
    assert prepared.content == exact
    chained = record.model_copy(update={"seq": 7, "prev_hash": "p" * 64, "hash": "h" * 64})
    written = prepared.stored(7, "p" * 64, "h" * 64)
    # The store form reads back as the record, and its canonical bytes are the hashed ones;
    # on the fast path it *is* those bytes with the chain fields appended.
    assert AuditRecord.model_validate_json(written) == chained
    assert canonical_json(written) in (None, exact)
    if fast is not None:
        assert written.startswith(exact[:-1].decode())


def test_fast_form_equals_the_exact_one_on_awkward_values() -> None:
    zones = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
    for zone in zones:
        for micro in (0, 1, 500000):
            check_same(fixed(0, at=STAMP.replace(microsecond=micro, tzinfo=zone)))
    check_same(fixed(0, at=STAMP.replace(tzinfo=None)))
    check_same(fixed(1, **AWKWARD))
    check_same(fixed(2, **ODD))
    for value in [1e-4, 1e-5, 0.00012, 123.456, 1e15, 1e16, 2**63, 2**64, -(2**63) - 1, 0.1]:
        check_same(fixed(3, v=value, nested={"v": [value, str(value)]}))


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(json_keys, json_values, max_size=5), st.lists(finite, max_size=6))
def test_fast_form_equals_the_exact_one(value: dict[str, Any], floats: list[float]) -> None:
    check_same(fixed(0, payload=value, floats=floats))


def test_records_built_without_validation_are_normalised_on_append() -> None:
    fields = fixed(0).__dict__ | {"input": {"x": math.nan, "s": "\udcff", "i": 10**400}}
    unchecked = AuditRecord.model_construct(**fields)
    prepared = prepare(unchecked)
    normalised = AuditRecord(**{k: v for k, v in fields.items() if k not in CHAIN_FIELDS})
    assert prepared.content == canonical_exact(normalised)
    assert prepared.record.input == {"x": "NaN", "s": "\\udcff", "i": "<int: 1329 bits>"}


def test_stored_records_verify_without_the_model_and_edits_are_caught() -> None:
    records = [fixed(i, **(AWKWARD if i % 3 == 0 else {})) for i in range(9)]
    chained = chain(records, ChainHead(seq=0, hash=GENESIS))
    stored = [r.model_dump_json() for r in chained]
    verifier = ChainVerifier()
    assert all(verifier.feed_stored(raw) for raw in stored)
    assert verifier.finish() is None and verifier.verified == 9
    edited = stored[4].replace('"n-4"', '"n-X"')
    verifier = ChainVerifier()
    results = [verifier.feed_stored(raw) for raw in [*stored[:4], edited, *stored[5:]]]
    assert results[:4] == [True] * 4 and results[4] is False
    problem = verifier.finish()
    assert problem is not None and problem.position == 5 and "edited" in problem.reason
    assert problem.decision_id == "dec_4"


def test_digest_of_a_plain_record_is_stable() -> None:
    assert (
        hashlib.sha256(canonical(fixed(0))).hexdigest()
        == hashlib.sha256(canonical_exact(fixed(0))).hexdigest()
    )


def test_records_as_the_appender_stores_them_verify_from_their_bytes() -> None:
    prev, stored = GENESIS, []
    for i in range(9):
        prepared = prepare(fixed(i, **(AWKWARD if i % 3 == 0 else {})))
        digest = hash_canonical(prev, i + 1, prepared.content)
        stored.append(prepared.stored(i + 1, prev, digest))
        prev = digest
    verifier = ChainVerifier()
    assert all(verifier.feed_stored(raw) for raw in stored)
    assert verifier.finish() is None and verifier.verified == 9
    # The same records re-serialised in another key order still verify (the hash is
    # over the canonical form, which the slower path rebuilds from the JSON).
    reordered = [AuditRecord.model_validate_json(raw).model_dump_json() for raw in stored]
    verifier = ChainVerifier()
    assert all(verifier.feed_stored(raw) for raw in reordered)
    # An edit of the stored bytes, or a forged tail, is caught.
    for forged in (
        stored[4].replace('"n-4"', '"n-X"'),
        stored[4].replace(',"seq":5,', ',"seq":6,'),
    ):
        verifier = ChainVerifier()
        results = [verifier.feed_stored(raw) for raw in [*stored[:4], forged, *stored[5:]]]
        assert results[:4] == [True] * 4 and results[4] is False
        problem = verifier.finish()
        assert problem is not None and problem.position == 5
