"""What route handlers receive besides the request: the running ``Gateway``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.runtime import Gateway

__all__ = ["Runtime"]


async def _gateway(request: Request) -> Gateway:
    # async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool,
    # one thread hop per request for an attribute read (measured under wrk).
    gw: Gateway = request.app.state.gateway
    return gw


#: The app's gateway (set by ``create_app``'s lifespan, or given to ``create_app``).
Runtime = Annotated[Gateway, Depends(_gateway)]
