"""``spawngate agents``: the agent lifecycle from the operator's side (gateway.lifecycle)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from gateway.errors import SpawngateError
from gateway.fronts.cli.common import load_settings

__all__ = ["agents_app"]

agents_app = typer.Typer(help="Retire idle agents (the retirement sweep).", no_args_is_help=True)


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO-8601 time: {value!r}", param_hint="--now") from exc
    # A time without a zone is read as UTC, the zone every record is kept in.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@agents_app.command()
def sweep(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Name the agents it would propose; change nothing.")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(help="The sweep's clock (ISO-8601, e.g. 2030-01-01T00:00:00Z); default now."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Propose every agent unused longer than its tenant's retire_after_days for retirement.

    Proposals go to the approval queue (`spawngate approvals list`), where an approver
    approves (the agent is retired) or denies (it stays). Exit 0.
    """
    from gateway.runtime import Gateway

    moment = _parse_now(now)
    settings = load_settings()

    async def run() -> dict[str, Any]:
        gateway = Gateway.build(settings)
        try:
            report = await gateway.lifecycle.sweep(now=moment, dry_run=dry_run)
            return report.as_json()
        finally:
            await gateway.stop()

    try:
        result = asyncio.run(run())
    except SpawngateError as exc:
        typer.secho(f"{exc.code}: {exc.reason}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    verb = "would propose" if dry_run else "proposed"
    for p in result["proposed"]:
        request = f" (request {p['request_id']})" if p["request_id"] else ""
        typer.echo(f"{verb}: {p['tenant']}/{p['agent']} idle {p['idle_days']} days{request}")
    for agent in result["already_proposed"]:
        typer.echo(f"already proposed: {agent}")
    for agent in result["protected"]:
        typer.echo(f"protected: {agent}")
    typer.echo(f"{len(result['proposed'])} agent(s) {verb} for retirement")
