"""``spawngate audit``: verify the hash chain, query and export the decision log."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.fronts.cli.common import load_settings
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.audit.log import AuditRecord
    from gateway.audit.query import LogReader

__all__ = ["audit_app"]

audit_app = typer.Typer(help="Decision log tools for auditors.", no_args_is_help=True)


@asynccontextmanager
async def _live_log(settings: Settings) -> AsyncIterator[LogReader]:
    """The live decision log, for reading only (page by page)."""
    from gateway.audit.query import LogReader
    from gateway.storage.redis import RedisStore

    store = RedisStore.from_settings(settings)
    try:
        yield LogReader(store)
    finally:
        await store.aclose()
        store.shutdown_embedded()


def _export_lines(path: Path) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """An export's lines: (record JSON, None) or ("", checkpoint). Records stay text,
    parsed as JSON by the model itself (the fast, exact path)."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith('{"checkpoint":'):
                yield "", json.loads(line)["checkpoint"]
            elif line.strip():
                yield line, None


@audit_app.command("verify")
def audit_verify(
    records: Annotated[
        Path | None, typer.Option(help="An export (JSON lines) instead of the live log.")
    ] = None,
    anchor: Annotated[
        list[Path] | None,
        typer.Option(
            "--anchor",
            help="A checkpoint file kept outside Redis (repeatable); the live log is also "
            "checked against this host's own checkpoint file.",
        ),
    ] = None,
) -> None:
    """Check the hash chain and signed checkpoints; exit 1 at the first broken record."""
    from gateway.audit.checkpoints import checkpoint_file, load_key, read_checkpoints
    from gateway.audit.log import AuditRecord, ChainVerifier

    settings = load_settings()
    key = load_key(settings)
    anchors = list(anchor or [])
    if records is None and checkpoint_file(settings).exists():
        anchors.append(checkpoint_file(settings))
    checkpoints: list[dict[str, Any]] = []
    for path in anchors:
        checkpoints.extend(read_checkpoints(path.read_text(encoding="utf-8").splitlines()))
    show_progress = sys.stderr.isatty()

    def progress(verified: int) -> None:
        if show_progress:
            typer.echo(f"\rverified {verified}", nl=False, err=True)

    async def run() -> ChainVerifier:
        if records is not None:
            checkpoints.extend(c for _, c in _export_lines(records) if c is not None)
            verifier = ChainVerifier(_unique(checkpoints), key)
            for n, (line, checkpoint) in enumerate(_export_lines(records)):
                if checkpoint is None:
                    if not verifier.feed(AuditRecord.model_validate_json(line)):
                        break
                    if n % 10_000 == 0:
                        progress(verifier.verified)
            return verifier
        async with _live_log(settings) as log:
            checkpoints.extend(await log.checkpoints())
            verifier = ChainVerifier(_unique(checkpoints), key)
            async for page in log.pages():
                if not all(verifier.feed(r) for _, r in page):
                    break
                progress(verifier.verified)
            return verifier

    verifier = asyncio.run(run())
    problem = verifier.finish()
    if problem is not None:
        typer.secho(f"BROKEN at {problem}", fg=typer.colors.RED)
        typer.echo(f"{verifier.verified} record(s) verified before it")
        raise typer.Exit(1)
    count = len(_unique(checkpoints))
    signed = f", {count} signed checkpoint(s)" if count else ""
    typer.echo(f"OK: {verifier.verified} record(s) chained{signed}")


def _unique(checkpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen = {(c.get("seq"), c.get("hash"), c.get("hmac")): c for c in checkpoints}
    return list(seen.values())


@audit_app.command("query")
def audit_query(
    tenant: Annotated[str | None, typer.Option()] = None,
    creator: Annotated[
        str | None, typer.Option(help="The principal that made the request.")
    ] = None,
    verdict: Annotated[str | None, typer.Option(help="allow, review or deny.")] = None,
    template: Annotated[str | None, typer.Option()] = None,
    since: Annotated[str | None, typer.Option(help="ISO time, inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time, inclusive.")] = None,
    decision_id: Annotated[str | None, typer.Option("--decision-id")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    records: Annotated[
        Path | None, typer.Option(help="An export (JSON lines) instead of the live log.")
    ] = None,
) -> None:
    """Find decisions by tenant, creator, verdict, template, time or id."""
    settings = load_settings()
    from gateway.audit.log import matches

    header = ("seq", "time", "type", "tenant", "principal", "verdict", "decision")
    row = "{:>6}  {:25} {:9} {:10} {:20} {:8} {}"
    found = 0

    def show(r: AuditRecord) -> None:
        nonlocal found
        if not matches(
            r,
            tenant=tenant,
            creator=creator,
            verdict=verdict,
            template=template,
            since=since,
            until=until,
            decision_id=decision_id,
        ):
            return
        found += 1
        if as_json:
            typer.echo(r.model_dump_json())
            return
        shown = r.result.get("verdict", r.result.get("outcome", "-"))
        typer.echo(
            row.format(
                r.seq or 0,
                r.timestamp.isoformat()[:25],
                r.type.value,
                r.tenant or "-",
                r.principal or "-",
                str(shown),
                r.decision_id,
            )
        )

    async def run() -> None:
        from gateway.audit.log import AuditRecord

        if records is not None:
            for line, checkpoint in _export_lines(records):
                if checkpoint is None:
                    show(AuditRecord.model_validate_json(line))
            return
        async with _live_log(settings) as log:
            async for page in log.pages():
                for _, r in page:
                    show(r)

    if not as_json:
        typer.echo(row.format(*header))
    asyncio.run(run())
    if not as_json:
        typer.echo(f"{found} record(s)")


_CSV_HEADER = [
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
]


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option(help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
) -> None:
    """Export the log with its chain fields and signed checkpoints, so an external
    tool can re-verify it. Written as it is read (page by page).

    Checkpoints are ``{"checkpoint": {...}}`` lines (in CSV: rows of type
    ``checkpoint``) placed right after the record they cover.
    """
    import csv

    from gateway.audit.checkpoints import checkpoint_file, read_checkpoints

    if fmt not in ("jsonl", "csv"):
        typer.secho("--format must be jsonl or csv", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    settings = load_settings()
    local = checkpoint_file(settings)

    async def run() -> int:
        written = 0
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            if fmt == "csv":
                writer.writerow(_CSV_HEADER)
            async with _live_log(settings) as log:
                found = await log.checkpoints()
                if local.exists():
                    found += read_checkpoints(local.read_text(encoding="utf-8").splitlines())
                by_seq: dict[int, list[dict[str, Any]]] = {}
                for c in _unique(found):
                    by_seq.setdefault(int(c["seq"]), []).append(c)
                async for page in log.pages():
                    for _, r in page:
                        written += 1
                        covering = by_seq.pop(r.seq or 0, [])
                        if fmt == "jsonl":
                            fh.write(r.model_dump_json() + "\n")
                            for c in covering:
                                fh.write(json.dumps({"checkpoint": c}, sort_keys=True) + "\n")
                            continue
                        writer.writerow(
                            [
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
                        )
                        for c in covering:
                            writer.writerow(
                                [c["seq"], "", c["hash"], "checkpoint"] + [""] * 7 + [json.dumps(c)]
                            )
                # Checkpoints past the end of the log (it was cut) stay in the export.
                for seq in sorted(by_seq):
                    for c in by_seq[seq]:
                        if fmt == "jsonl":
                            fh.write(json.dumps({"checkpoint": c}, sort_keys=True) + "\n")
                        else:
                            writer.writerow(
                                [c["seq"], "", c["hash"], "checkpoint"] + [""] * 7 + [json.dumps(c)]
                            )
        return written

    written = asyncio.run(run())
    typer.echo(f"{written} record(s) written to {out}")
