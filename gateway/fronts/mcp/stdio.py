"""MCP over stdio: one caller, whose key the host puts in ``SPAWNGATE_API_KEY``.

The host starts ``spawngate mcp --stdio`` as a subprocess per connection. The
process builds its own ``Gateway`` (sharing Redis with every other replica),
checks the key once before serving (an unknown key stops it with a message on
stderr, rather than failing every call), and passes the same ``Bearer`` value to
admission on every call, as the HTTP front does. Stdout carries only MCP.
"""

from __future__ import annotations

from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.stdio import stdio_server

from gateway.fronts.mcp.server import build_server
from gateway.runtime import Gateway
from gateway.settings import Settings

__all__ = ["serve_stdio"]


async def serve_stdio(settings: Settings, api_key: str) -> None:
    """Serve MCP on stdin/stdout until the host closes it; raises ``SpawngateError``
    (``AuthenticationFailed`` for an unknown key) before serving anything."""
    authorization = f"Bearer {api_key}"
    gw = Gateway.build(settings)
    try:
        await gw.start()
        await gw.reads.authenticate(authorization)

        def caller(_: ServerRequestContext[Any, Any]) -> tuple[Gateway, str | None, str | None]:
            return gw, authorization, None

        server = build_server(caller)
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        await gw.stop()
