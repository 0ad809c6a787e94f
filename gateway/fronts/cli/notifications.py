"""``spawngate notifications``: for operators, swarm webhook deliveries given up on."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from gateway.fronts.cli.common import load_settings

__all__ = ["notifications_app"]

notifications_app = typer.Typer(help="For operators: swarm notifications.", no_args_is_help=True)


@notifications_app.command("dead-letters")
def dead_letters_cmd(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Webhook deliveries given up after every retry (they stay in the tenant stream)."""
    from gateway.notifications.letters import dead_letters
    from gateway.runtime import Gateway

    async def run() -> None:
        gateway = Gateway.build(load_settings())
        try:
            letters = await dead_letters(gateway.store, tenant=tenant, limit=limit)
        finally:
            await gateway.stop()
        for letter in letters:
            if as_json:
                typer.echo(json.dumps(letter.model_dump(mode="json"), sort_keys=True))
            else:
                event = letter.body
                typer.echo(
                    f"{letter.id}  {letter.tenant:12s} {event.get('event')!s:8s} "
                    f"{event.get('id')}  -> {letter.url}  after {letter.attempts}: {letter.error}"
                )
        typer.echo(f"{len(letters)} dead letters", err=True)

    asyncio.run(run())
