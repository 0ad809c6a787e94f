"""The MCP front: spawngate's tools for agents, over stdio and streamable HTTP.

``server`` holds the tools (the same admission and reads as the HTTP API),
``narrowing`` and ``schemas`` what each caller is shown, ``http`` the ``/mcp``
endpoint on the gateway's app, ``stdio`` the ``spawngate mcp --stdio`` process.
"""

from __future__ import annotations

from gateway.fronts.mcp.http import MCP_PATH, McpHttp
from gateway.fronts.mcp.schemas import TOOL_NAMES
from gateway.fronts.mcp.server import build_server
from gateway.fronts.mcp.stdio import serve_stdio

__all__ = ["MCP_PATH", "TOOL_NAMES", "McpHttp", "build_server", "serve_stdio"]
