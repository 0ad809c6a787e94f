"""``spawngate mcp --stdio``: the MCP server for a host that starts it as a subprocess.

The HTTP transport needs no command: ``spawngate serve`` serves it at ``/mcp``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Annotated

import typer

from gateway.errors import SpawngateError
from gateway.fronts.cli.common import load_settings

__all__ = ["mcp"]


def mcp(
    stdio: Annotated[
        bool, typer.Option("--stdio", help="Speak MCP on stdin/stdout (the only transport here).")
    ] = False,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="SPAWNGATE_API_KEY",
            show_envvar=True,
            help="The caller's API key (prefer the environment: a host's config keeps it there).",
        ),
    ] = None,
) -> None:
    """Serve the MCP tools (create_agent, create_sme, search_agents, request_status,
    list_templates) to one caller. Over HTTP, `spawngate serve` answers at /mcp."""
    from gateway.fronts.mcp.stdio import serve_stdio

    if not stdio:
        typer.secho(
            "choose a transport: --stdio (HTTP is served by `spawngate serve` at /mcp)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(2)
    if not key:
        typer.secho("set SPAWNGATE_API_KEY to the caller's API key", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    settings = load_settings()
    # Stdout is the MCP channel: every log line goes to stderr.
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s %(message)s"
    )
    try:
        asyncio.run(serve_stdio(settings, key))
    except SpawngateError as exc:
        typer.secho(f"{exc.code}: {exc.reason}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
