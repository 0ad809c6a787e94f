"""MCP over streamable HTTP at ``/mcp`` on the gateway's own app, with the API's keys.

Every request must carry ``Authorization: Bearer <key>``; a missing or unknown
key is answered 401 in the API's error shape before MCP sees the request. Each
tool call then passes that same header to admission, which authenticates again
(as for ``POST /v1/create_agent``), so an MCP session id grants nothing by
itself.

The transport is stateless (a fresh MCP connection per HTTP request, no
session table): a key is checked on every request, and ``serve --workers N``
replicas need no shared session state.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.errors import DependencyError, SpawngateError
from gateway.fronts.http.errors import error_response
from gateway.fronts.http.shapes import request_id_of
from gateway.fronts.mcp.server import build_server
from gateway.runtime import Gateway

__all__ = ["MCP_PATH", "McpHttp"]

logger = logging.getLogger("spawngate.mcp")

MCP_PATH = "/mcp"


def _gateway_of(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


def _caller(ctx: ServerRequestContext[Any, Any]) -> tuple[Gateway, str | None, str | None]:
    request = ctx.request
    if not isinstance(request, Request):  # the HTTP transports always attach it
        raise RuntimeError("an MCP request over HTTP without its HTTP request")
    headers = request.headers
    return _gateway_of(request), headers.get("authorization"), headers.get("idempotency-key")


class McpHttp:
    """The ``/mcp`` endpoint of one app: its route and the lifespan of its sessions."""

    def __init__(self) -> None:
        self._manager = StreamableHTTPSessionManager(app=build_server(_caller), stateless=True)
        self._running = False

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Enter in the app's lifespan: the SDK serves requests in this task group."""
        async with self._manager.run():
            self._running = True
            try:
                yield
            finally:
                self._running = False

    def route(self) -> Route:
        # A Route, not a Mount: a Mount would redirect "/mcp" to "/mcp/".
        return Route(MCP_PATH, endpoint=self, include_in_schema=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if not self._running:
            # An app served without its lifespan (an in-process test client).
            unavailable = DependencyError("the MCP endpoint is not running", dependency="mcp")
            await error_response(unavailable, request_id_of(request))(scope, receive, send)
            return
        try:
            await _gateway_of(request).reads.authenticate(request.headers.get("authorization"))
        except SpawngateError as exc:
            await error_response(exc, request_id_of(request))(scope, receive, send)
            return
        await self._manager.handle_request(scope, receive, send)
