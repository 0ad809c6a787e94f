"""Operations: liveness with the deciding policy revision, and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.fronts.http.deps import Runtime
from gateway.fronts.http.models import HealthAnswer
from gateway.fronts.http.shapes import ReadinessAnswer, error_responses, request_id_of

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    summary="Liveness, the policy revision, the last reload",
    response_model=HealthAnswer,
    responses=error_responses(500),
)
async def healthz(gw: Runtime) -> HealthAnswer:
    return HealthAnswer(status="ok", **gw.policy_status())


@router.get(
    "/readyz",
    summary="Ready only when Redis and policy answer",
    response_model=ReadinessAnswer,
    responses={**error_responses(503, model=ReadinessAnswer), **error_responses(500)},
)
async def readyz(gw: Runtime, request: Request) -> JSONResponse:
    # Sent as built: 503 with the same shape plus ``error`` when a check fails.
    checks = await gw.readiness()
    ready = all(checks.values())
    body: dict[str, Any] = {
        "ready": ready,
        "checks": checks,
        "policy_revision": gw.policy_revision,
    }
    if not ready:
        failing = ", ".join(sorted(name for name, ok in checks.items() if not ok))
        body["error"] = {
            "code": "not_ready",
            "reason": f"not ready: {failing}",
            "request_id": request_id_of(request),
        }
    return JSONResponse(body, status_code=200 if ready else 503)
