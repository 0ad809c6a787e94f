"""``spawngate registry``: the registry against the decision log (gateway.registry.drift).

``audit`` lists drift by kind (``no_decision``, ``bad_receipt``, ``missing_agent``,
``tools_differ``) as a table or, with ``--json``, one JSON object. Receipts are
checked with ``--key`` (a public key file) or this host's signing key. Exit 0 when
there is no drift, 1 when there is, 2 when the audit could not run. Each run adds
what it found to ``spawngate_registry_drift_items_total{kind}`` (in this process's
metrics: scraped only with ``PROMETHEUS_MULTIPROC_DIR`` shared with the server).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from gateway.errors import SpawngateError
from gateway.fronts.cli.common import load_settings
from gateway.receipts.keys import read_public_key
from gateway.registry.drift import KINDS, DriftReport

__all__ = ["registry_app"]

registry_app = typer.Typer(
    help="Audit the agent registry against the decision log.", no_args_is_help=True
)


async def _run(key_file: Path | None) -> DriftReport:
    from gateway.runtime import Gateway

    gw = Gateway.build(load_settings())
    try:
        return await gw.audit_drift(read_public_key(key_file) if key_file is not None else None)
    finally:
        await gw.stop()


@registry_app.command()
def audit(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Public key file for receipts (PEM, JWK); default: local key."),
    ] = None,
) -> None:
    """Compare the registry with the decision log. Exit 0 no drift, 1 drift, 2 failed."""
    try:
        report = asyncio.run(_run(key))
    except (SpawngateError, OSError) as exc:
        typer.secho(f"registry audit failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(report.result(), indent=2))
    else:
        counts = report.counts()
        typer.echo(
            f"{report.agents} agent(s), {report.decisions} decision(s); drift: "
            + ", ".join(f"{counts[k]} {k}" for k in KINDS)
        )
        if report.items:
            rows = [("KIND", "TENANT", "AGENT", "DECISION", "DETAIL")] + [
                (i.kind, i.tenant, i.agent_id, i.decision_id, i.detail) for i in report.items
            ]
            widths = [max(len(r[c]) for r in rows) for c in range(4)]
            for row in rows:
                cells = [row[c].ljust(widths[c]) for c in range(4)]
                typer.echo("  ".join([*cells, row[4]]))
    raise typer.Exit(1 if report.items else 0)
