"""``spawngate audit``: verify the hash chain, query and export the decision log."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.fronts.cli.common import load_settings
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.audit.log import AuditRecord
    from gateway.audit.query import LogReader
    from gateway.audit.verify import Verification

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
    from gateway.audit.verify import verify_export, verify_log

    settings = load_settings()
    key = load_key(settings)
    anchors = list(anchor or [])
    if records is None and checkpoint_file(settings).exists():
        anchors.append(checkpoint_file(settings))
    anchored = [
        c
        for path in anchors
        for c in read_checkpoints(path.read_text(encoding="utf-8").splitlines())
    ]
    show_progress = sys.stderr.isatty()

    def progress(verified: int) -> None:
        if show_progress:
            typer.echo(f"\rverified {verified}", nl=False, err=True)

    async def run() -> Verification:
        if records is not None:
            return verify_export(records, anchored, key, progress)
        async with _live_log(settings) as log:
            return await verify_log(log, anchored, key, progress)

    result = asyncio.run(run())
    if result.problem is not None:
        typer.secho(f"BROKEN at {result.problem}", fg=typer.colors.RED)
        typer.echo(f"{result.verified} record(s) verified before it")
        raise typer.Exit(1)
    signed = f", {result.checkpoints} signed checkpoint(s)" if result.checkpoints else ""
    typer.echo(f"OK: {result.verified} record(s) chained{signed}")


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
        from gateway.audit.export import export_records

        if records is not None:
            for record in export_records(records):
                show(record)
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
    from gateway.audit.checkpoints import checkpoint_file
    from gateway.audit.export import ExportFormat, export_log

    if fmt not in tuple(ExportFormat):
        typer.secho("--format must be jsonl or csv", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    settings = load_settings()

    async def run() -> int:
        async with _live_log(settings) as log:
            return await export_log(
                log, out, ExportFormat(fmt), anchor_files=[checkpoint_file(settings)]
            )

    written = asyncio.run(run())
    typer.echo(f"{written} record(s) written to {out}")
