"""``spawngate approvals``: approvers list, show, approve and deny queued requests."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from gateway.errors import SpawngateError
from gateway.fronts.cli.common import load_settings

__all__ = ["approvals_app"]

approvals_app = typer.Typer(help="For approvers: decide queued requests.", no_args_is_help=True)
KeyOption = Annotated[
    str, typer.Option("--key", envvar="SPAWNGATE_API_KEY", help="Your (approver's) API key.")
]


def _with_approvals(key: str, action: Any) -> Any:
    """Run one approval action through the same service the HTTP API uses."""
    from gateway.runtime import Gateway

    settings = load_settings()

    async def run() -> Any:
        gateway = Gateway.build(settings)
        try:
            principal = await gateway.reads.authenticate(f"Bearer {key}")
            return await action(gateway.approvals_service, principal)
        finally:
            await gateway.stop()

    try:
        return asyncio.run(run())
    except SpawngateError as exc:
        typer.secho(f"{exc.code}: {exc.reason}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc


@approvals_app.command("list")
def approvals_list(key: KeyOption) -> None:
    """Pending requests of your tenant."""
    records = _with_approvals(key, lambda svc, who: svc.list_pending(who))
    for r in records:
        reasons = "; ".join(x.code for x in r.reasons)
        typer.echo(
            f"{r.id}  {r.kind:5s} {r.request.get('name')!s:24s} by {r.creator:20s} "
            f"danger {r.danger_score if r.danger_score is not None else '-'}  [{reasons}]  "
            f"expires {r.expires_at.isoformat()[:19]}"
        )
        # The proposer's own reason (seed 003), for the approver to weigh.
        if r.request.get("justification"):
            typer.echo(f"    justification: {r.request['justification']}")
    typer.echo(f"{len(records)} pending")


@approvals_app.command("show")
def approvals_show(request_id: Annotated[str, typer.Argument()], key: KeyOption) -> None:
    """One request, with its reasons and danger findings (JSON)."""
    record = _with_approvals(key, lambda svc, who: svc.show(who, request_id))
    typer.echo(record.model_dump_json(indent=2))


@approvals_app.command("approve")
def approvals_approve(
    request_id: Annotated[str, typer.Argument()],
    key: KeyOption,
    note: Annotated[str | None, typer.Option(help="Why; kept in the decision log.")] = None,
) -> None:
    """Approve: every check runs again under current policy, then the agent is created."""
    record, _ = _with_approvals(key, lambda svc, who: svc.approve(who, request_id, note))
    typer.echo(
        f"{record.id}: {record.state.value}" + (f" ({record.agent_id})" if record.agent_id else "")
    )
    for reason in record.outcome_reasons:
        typer.echo(f"  {reason.code}: {reason.message}")
    raise typer.Exit(0 if record.state.value in ("created", "retired") else 1)


@approvals_app.command("deny")
def approvals_deny(
    request_id: Annotated[str, typer.Argument()],
    key: KeyOption,
    note: Annotated[str | None, typer.Option(help="Why; kept in the decision log.")] = None,
) -> None:
    """Deny a request (final)."""
    record = _with_approvals(key, lambda svc, who: svc.deny(who, request_id, note))
    typer.echo(f"{record.id}: {record.state.value}")
