"""Operations: Prometheus metrics (gateway.telemetry.metrics)."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.errors import NotFound, PermissionDenied
from gateway.fronts.http.deps import Runtime
from gateway.fronts.http.shapes import error_responses
from gateway.telemetry.metrics import CONTENT_TYPE

__all__ = ["router"]

router = APIRouter(tags=["operations"])


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client is not None else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        # The ASGI test client reports "testclient": not an address, not this host.
        return False


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE.split(";")[0]: {}}, "description": "The metrics"},
        **error_responses(403, 404, 500),
    },
)
async def metrics(gw: Runtime, request: Request) -> Response:
    access = gw.settings.metrics_access
    if access == "off":
        raise NotFound("metrics are turned off (SPAWNGATE_METRICS_ACCESS=off)")
    if access == "loopback" and not _loopback(request):
        raise PermissionDenied(
            "metrics are served to loopback clients only; "
            "set SPAWNGATE_METRICS_ACCESS=open to serve them to the network"
        )
    return Response(await gw.scrape(), media_type=CONTENT_TYPE)
