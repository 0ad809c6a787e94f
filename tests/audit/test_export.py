"""The export format (the auditors' contract): written page by page, read back the same."""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.audit.checkpoints import CheckpointFile, checkpoint_file
from gateway.audit.export import (
    CSV_HEADER,
    ExportFormat,
    export_log,
    read_export,
    unique_checkpoints,
)
from gateway.audit.log import AuditRecord
from gateway.audit.verify import verify_export
from gateway.runtime import Gateway
from tests.conftest import ROOMY_CONFIG, MakeSettings, bearer, client_for, write_config

KEY = "export-test-key"


@pytest.fixture
async def gw(tmp_path: Path, make_settings: MakeSettings) -> AsyncIterator[Gateway]:
    """A gateway over a log of 14 decisions, with a signed checkpoint every 3 records.

    The log is written by another gateway, stopped before the test reads it: its
    outcome records and checkpoints are written after the answers, and an export
    must not race them.
    """
    settings = make_settings(
        config_file=write_config(tmp_path, ROOMY_CONFIG),
        audit_checkpoint_key=KEY,
        audit_checkpoint_every=3,
    )
    writer = Gateway.build(settings)
    try:
        async with client_for(writer) as c:
            for i in range(14):
                body = {"name": f"e-{i}"} if i % 2 else {"name": "Bad Name"}
                await c.post("/v1/create_agent", json=body, headers=bearer("orchestrator"))
    finally:
        await writer.stop()
    reader = Gateway.build(settings)
    try:
        yield reader
    finally:
        await reader.stop()


async def _export(gw: Gateway, out: Path, fmt: ExportFormat) -> int:
    return await export_log(
        gw.audit, out, fmt, anchor_files=[checkpoint_file(gw.settings), out.parent / "none"]
    )


async def test_jsonl_round_trips_records_and_checkpoints(gw: Gateway, tmp_path: Path) -> None:
    records = await gw.audit.read()
    kept = await gw.audit.checkpoints() + CheckpointFile(checkpoint_file(gw.settings)).read()
    assert len(unique_checkpoints(kept)) < len(kept)  # the same ones in both places
    out = tmp_path / "log.jsonl"

    assert await _export(gw, out, ExportFormat.JSONL) == len(records)

    back = read_export(out)
    assert back.records == records
    # Each checkpoint is kept in Redis and in the host's file: exported once.
    assert sorted(json.dumps(c, sort_keys=True) for c in back.checkpoints) == sorted(
        json.dumps(c, sort_keys=True) for c in unique_checkpoints(kept)
    )
    # Each checkpoint line comes right after the record it covers.
    last_seq = 0
    for line in out.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if "checkpoint" in item:
            assert set(item) == {"checkpoint"} and item["checkpoint"]["seq"] == last_seq
        else:
            last_seq = AuditRecord.model_validate(item).seq or 0
    result = verify_export(out, [], KEY)
    assert result.problem is None and result.verified == len(records)
    assert result.checkpoints == len(back.checkpoints)


async def test_csv_has_the_header_and_checkpoint_rows_after_their_record(
    gw: Gateway, tmp_path: Path
) -> None:
    records = await gw.audit.read()
    out = tmp_path / "log.csv"

    assert await _export(gw, out, ExportFormat.CSV) == len(records)

    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CSV_HEADER
    body = [dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]]
    assert [
        AuditRecord.model_validate_json(r["record_json"]) for r in body if r["type"] != "checkpoint"
    ] == records
    checkpoint_rows = [i for i, r in enumerate(body) if r["type"] == "checkpoint"]
    assert checkpoint_rows
    for i in checkpoint_rows:
        checkpoint = json.loads(body[i]["record_json"])
        assert body[i]["seq"] == str(checkpoint["seq"]) and body[i]["hash"] == checkpoint["hash"]
        covered = next(r for r in reversed(body[:i]) if r["type"] != "checkpoint")
        assert covered["seq"] == body[i]["seq"] and covered["hash"] == checkpoint["hash"]


async def test_checkpoints_past_a_cut_log_stay_in_the_export(gw: Gateway, tmp_path: Path) -> None:
    # Cut the last 4 records: with a checkpoint every 3, one of them is covered.
    entries = [entry_id async for page in gw.audit.pages() for entry_id, _ in page]
    await gw.store.client.xdel(gw.audit.stream, *entries[-4:])
    remaining = await gw.audit.read()
    out = tmp_path / "cut.jsonl"

    assert await _export(gw, out, ExportFormat.JSONL) == len(remaining)

    back = read_export(out)
    assert back.records == remaining
    beyond = [c for c in back.checkpoints if c["seq"] > len(remaining)]
    assert beyond, "the checkpoints of the cut records were dropped"
    # They close the export, after the last record, in seq order.
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    last_record = max(i for i, item in enumerate(lines) if "checkpoint" not in item)
    tail = [item["checkpoint"] for item in lines[last_record + 1 :]]
    assert [c for c in tail if c["seq"] > len(remaining)] == beyond
    assert [c["seq"] for c in tail] == sorted(c["seq"] for c in tail)
    result = verify_export(out, [], KEY)
    assert result.problem is not None and "log truncated" in result.problem.reason
