"""The HTTP front: the app factory. Routes (``routes/``) only translate HTTP to
service calls and back; errors become answers in ``errors``.

``create_app(settings)`` builds everything; nothing happens at import time, so
tests build apps with other settings and production builds exactly one. The
app's lifespan builds a ``gateway.runtime.Gateway``, starts it (its background
tasks) and stops it (tasks, then connections), as every front does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway.fronts.console import install as install_console
from gateway.fronts.http.errors import install_error_handlers
from gateway.fronts.http.routes import (
    admission,
    agents,
    approvals,
    costs,
    decisions,
    health,
    metrics,
    notifications,
    wellknown,
)
from gateway.fronts.http.shapes import JsonBodyMiddleware, RequestIdMiddleware
from gateway.fronts.mcp.http import McpHttp
from gateway.runtime import Gateway
from gateway.settings import Settings

__all__ = ["create_app"]

#: The order matters only where paths overlap (see ``routes.agents``).
ROUTERS = (
    admission,
    approvals,
    decisions,
    agents,
    costs,
    health,
    metrics,
    notifications,
    wellknown,
)


def create_app(settings: Settings | None = None, *, gateway: Gateway | None = None) -> FastAPI:
    """Build the app. Pass ``gateway`` to share one (and its Redis) between apps in
    tests: its owner starts and stops it, the app's lifespan leaves it alone."""

    # MCP over streamable HTTP (gateway/fronts/mcp): its sessions live in the app's lifespan.
    mcp = McpHttp()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if gateway is not None:
            async with mcp.running():
                yield
            return
        gw = Gateway.build(settings or Settings())
        app.state.gateway = gw
        try:
            await gw.start()
            async with mcp.running():
                yield
        finally:
            await gw.stop()

    app = FastAPI(
        title="spawngate",
        version="0.1.0",
        summary="Policy-as-code governance gateway for agents that create agents",
        lifespan=lifespan,
    )
    if gateway is not None:
        app.state.gateway = gateway
    install_error_handlers(app)
    app.add_middleware(JsonBodyMiddleware)
    app.add_middleware(RequestIdMiddleware)
    for routes in ROUTERS:
        app.include_router(routes.router)
    app.router.routes.append(mcp.route())
    # The web console (gateway/fronts/console): its pages stay out of the OpenAPI document.
    install_console(app)
    return app
