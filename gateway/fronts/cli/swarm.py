"""``spawngate swarm report``: the swarm's daily table (the ADR's), for operators.

Read straight from Redis like ``spawngate audit``: whoever runs it holds the
gateway's data directory or REDIS_URL, so no API key is asked for. Without
``--tenant`` every tenant of the configuration is reported.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.errors import SpawngateError
from gateway.fronts.cli.common import load_settings

if TYPE_CHECKING:
    from gateway.costs.swarm import SwarmReport

__all__ = ["swarm_app"]

swarm_app = typer.Typer(help="Swarm figures: agents and cost per day.", no_args_is_help=True)

_HEADER = (
    f"{'day':10s} {'spawned':>7s} {'retired':>7s} {'total':>5s} "
    f"{'est $/day':>10s} {'actual $':>10s} {'tokens':>10s}  top spenders"
)


def _table(report: SwarmReport) -> list[str]:
    lines = [
        f"tenant {report.tenant}: {report.active_estimated_cost:g} $/day estimated for the "
        f"active agents (limit {report.max_cost_per_day:g} $/day)",
        _HEADER,
    ]
    for d in report.days:
        top = ", ".join(f"{s.name} {s.cost:g}" for s in d.top_spenders) or "-"
        lines.append(
            f"{d.day.isoformat():10s} {d.spawned:>7d} {d.retired:>7d} {d.total:>5d} "
            f"{d.estimated_cost:>10.2f} {d.actual_cost:>10.2f} {d.tokens:>10d}  {top}"
        )
    return lines


async def _reports(tenants: list[str] | None, days: int, until: date | None) -> list[SwarmReport]:
    from gateway.runtime import Gateway

    gateway = Gateway.build(load_settings())
    try:
        chosen = tenants or sorted(gateway.config.tenants)
        return [await gateway.costs.figures(t, days=days, until=until) for t in chosen]
    finally:
        await gateway.stop()


@swarm_app.command("report")
def swarm_report(
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", help="Repeatable; default: every tenant.")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days up to --until.")] = 7,
    until: Annotated[
        str | None, typer.Option(help="Last ISO day (UTC), e.g. 2026-05-01; default today.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON report per line.")] = False,
) -> None:
    """Per ISO day: agents spawned, retired, total; estimated and actual cost; top spenders."""
    try:
        last = date.fromisoformat(until) if until else None
    except ValueError as exc:
        typer.secho(f"--until: not an ISO day: {until!r}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    try:
        reports = asyncio.run(_reports(tenant, days, last))
    except SpawngateError as exc:
        typer.secho(f"{exc.code}: {exc.reason}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    for index, report in enumerate(reports):
        if as_json:
            typer.echo(json.dumps(report.model_dump(mode="json"), sort_keys=True))
            continue
        if index:
            typer.echo("")
        for line in _table(report):
            typer.echo(line)
