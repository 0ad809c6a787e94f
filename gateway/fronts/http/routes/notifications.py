"""Operations: swarm-notification webhooks given up after every retry (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query

from gateway.fronts.http.deps import Runtime
from gateway.fronts.http.shapes import error_responses
from gateway.notifications.letters import DeadLetter

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get(
    "/v1/notifications/dead-letters",
    summary="Webhook deliveries given up after every retry, newest first (admins)",
    response_model=list[DeadLetter],
    responses=error_responses(401, 403, 422, 500, 503),
)
async def dead_letters(
    gw: Runtime,
    authorization: Annotated[str | None, Header()] = None,
    tenant: Annotated[str | None, Query(description="Default: your own")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetter]:
    principal = await gw.reads.authenticate(authorization)
    return await gw.reads.dead_letters(principal, tenant=tenant, limit=limit)
