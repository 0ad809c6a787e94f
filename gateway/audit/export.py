"""The export file: the decision log as an auditor takes it away and re-verifies it.

This format is a contract with auditors' tools; change it only with them.

JSON lines (``jsonl``, the default)
    One record per line, exactly as the log stores it (``AuditRecord`` JSON, with
    its chain fields ``seq``, ``prev_hash`` and ``hash``). Each signed checkpoint
    is a line ``{"checkpoint": {...}}`` (keys sorted) placed right after the record
    it covers (the record whose ``seq`` it names), so a reader meets a checkpoint
    once the chain has reached it.

CSV (``csv``)
    A header row (``CSV_HEADER``), then one row per record: its chain fields, its
    main columns, and the whole record as JSON in ``record_json``. A checkpoint is a
    row of type ``checkpoint`` (``seq``, ``hash``, the checkpoint as JSON in
    ``record_json``, the other columns empty), after the record it covers.

Either way:

* Checkpoints come from every place they are kept (the log's list in Redis, the
  host's checkpoint file), each one once (``unique_checkpoints``).
* Checkpoints past the end of the log (it was cut) are kept, at the end of the
  export in ``seq`` order: dropping them would hide the cut from the verifier.
* The export is written as the log is read, page by page, never held whole.

Reading an export back (``export_records``, ``export_checkpoints``, ``read_export``)
takes the JSON-lines format; a line is a checkpoint when it starts with
``{"checkpoint":``, and blank lines are skipped.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TextIO

import orjson

from gateway.audit.checkpoints import read_checkpoints
from gateway.audit.query import LogReader
from gateway.audit.record import AuditRecord

__all__ = [
    "CSV_HEADER",
    "Checkpoint",
    "ExportContents",
    "ExportFormat",
    "ExportWriter",
    "export_checkpoints",
    "export_lines",
    "export_log",
    "export_records",
    "read_export",
    "unique_checkpoints",
]

#: A signed checkpoint as stored: ``seq``, ``hash``, ``at``, ``hmac``.
Checkpoint = dict[str, Any]

#: The CSV columns, in order.
CSV_HEADER: Final[tuple[str, ...]] = (
    "seq",
    "prev_hash",
    "hash",
    "type",
    "decision_id",
    "timestamp",
    "tenant",
    "principal",
    "verdict",
    "outcome",
    "revision",
    "record_json",
)

_CHECKPOINT_PREFIX: Final = '{"checkpoint":'


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


def unique_checkpoints(checkpoints: Iterable[Checkpoint]) -> list[Checkpoint]:
    """Each checkpoint once: the same one is kept in Redis and in the host's file."""
    seen = {(c.get("seq"), c.get("hash"), c.get("hmac")): c for c in checkpoints}
    return list(seen.values())


class ExportWriter:
    """Writes one export to an open text file (opened with ``newline=""`` for CSV).

    The CSV header is written at once; ``cover`` then gives the checkpoints to
    place, ``record`` writes each record in log order followed by the checkpoints
    covering it, and ``finish`` writes the checkpoints past the last record.
    """

    def __init__(self, fh: TextIO, fmt: ExportFormat) -> None:
        self._fh = fh
        self._fmt = fmt
        self._csv = csv.writer(fh)
        self._by_seq: dict[int, list[Checkpoint]] = {}
        self.written = 0
        if fmt is ExportFormat.CSV:
            self._csv.writerow(CSV_HEADER)

    def cover(self, checkpoints: Iterable[Checkpoint]) -> None:
        for c in unique_checkpoints(checkpoints):
            self._by_seq.setdefault(int(c["seq"]), []).append(c)

    def record(self, r: AuditRecord) -> None:
        self.written += 1
        if self._fmt is ExportFormat.JSONL:
            self._fh.write(r.model_dump_json() + "\n")
        else:
            self._csv.writerow(_csv_row(r))
        self._after(r.seq or 0)

    def stored(self, seq: int, text: str) -> None:
        """A JSON-lines record written as the log stores it (verified from its bytes)."""
        self.written += 1
        self._fh.write(text + "\n")
        self._after(seq)

    def _after(self, seq: int) -> None:
        for c in self._by_seq.pop(seq, []):
            self._checkpoint(c)

    def finish(self) -> None:
        # Checkpoints past the end of the log (it was cut) stay in the export.
        for seq in sorted(self._by_seq):
            for c in self._by_seq[seq]:
                self._checkpoint(c)
        self._by_seq.clear()

    def _checkpoint(self, c: Checkpoint) -> None:
        # Stdlib json, not orjson: the spacing of these lines is part of the format.
        if self._fmt is ExportFormat.JSONL:
            self._fh.write(json.dumps({"checkpoint": c}, sort_keys=True) + "\n")
        else:
            self._csv.writerow([c["seq"], "", c["hash"], "checkpoint"] + [""] * 7 + [json.dumps(c)])


def _csv_row(r: AuditRecord) -> list[object]:
    return [
        r.seq,
        r.prev_hash,
        r.hash,
        r.type.value,
        r.decision_id,
        r.timestamp.isoformat(),
        r.tenant,
        r.principal,
        r.result.get("verdict"),
        r.result.get("outcome"),
        r.bundles.get("spawngate", {}).get("revision"),
        r.model_dump_json(),
    ]


async def export_log(
    log: LogReader, out: Path, fmt: ExportFormat, *, anchor_files: Iterable[Path] = ()
) -> int:
    """Write ``log`` to ``out`` page by page, with the checkpoints kept in the log and
    in ``anchor_files`` (those that exist); the number of records written."""
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = ExportWriter(fh, fmt)
        found = await log.checkpoints()
        for path in anchor_files:
            if path.exists():
                found += read_checkpoints(path.read_text(encoding="utf-8").splitlines())
        writer.cover(found)
        if fmt is ExportFormat.JSONL:
            # The stored text as it is: an auditor's verify hashes those very bytes.
            async for raw_page in log.raw_pages():
                for _, text in raw_page:
                    writer.stored(int(orjson.loads(text).get("seq") or 0), text)
        else:
            async for page in log.pages():
                for _, r in page:
                    writer.record(r)
        writer.finish()
    return writer.written


def export_lines(path: Path) -> Iterator[tuple[str, Checkpoint | None]]:
    """A JSON-lines export, line by line: ``(record JSON, None)`` or ``("", checkpoint)``.

    Records stay text, for ``AuditRecord.model_validate_json`` (the fast, exact path).
    """
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(_CHECKPOINT_PREFIX):
                yield "", json.loads(line)["checkpoint"]
            elif line.strip():
                yield line, None


def export_records(path: Path) -> Iterator[AuditRecord]:
    """The records of a JSON-lines export (or of plain record lines), in order."""
    for line, checkpoint in export_lines(path):
        if checkpoint is None:
            yield AuditRecord.model_validate_json(line)


def export_checkpoints(path: Path) -> list[Checkpoint]:
    """The checkpoints a JSON-lines export carries, in file order."""
    return [c for _, c in export_lines(path) if c is not None]


@dataclass(frozen=True, slots=True)
class ExportContents:
    records: list[AuditRecord]
    checkpoints: list[Checkpoint]


def read_export(path: Path) -> ExportContents:
    """A whole JSON-lines export in memory (for small exports and tests)."""
    records: list[AuditRecord] = []
    checkpoints: list[Checkpoint] = []
    for line, checkpoint in export_lines(path):
        if checkpoint is None:
            records.append(AuditRecord.model_validate_json(line))
        else:
            checkpoints.append(checkpoint)
    return ExportContents(records, checkpoints)
