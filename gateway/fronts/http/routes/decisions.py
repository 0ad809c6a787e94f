"""The decision log, read by auditors of a tenant."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from gateway.audit.record import AuditRecord
from gateway.fronts.http.deps import Runtime
from gateway.fronts.http.shapes import error_responses

__all__ = ["router"]

router = APIRouter(tags=["audit"])


@router.get(
    "/v1/decisions",
    summary="Decision log records of your tenant (auditors)",
    response_model=list[AuditRecord],
    responses=error_responses(401, 403, 404, 422, 500, 503),
)
async def decisions(
    gw: Runtime,
    response: Response,
    authorization: Annotated[str | None, Header()] = None,
    tenant: Annotated[str | None, Query(description="Default: your own")] = None,
    creator: Annotated[str | None, Query()] = None,
    verdict: Annotated[str | None, Query(pattern="^(allow|review|deny)$")] = None,
    decision_id: Annotated[str | None, Query()] = None,
    since: Annotated[str | None, Query()] = None,
    until: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        str | None,
        Query(
            max_length=41,
            description="The X-Next-Cursor header of the previous page",
        ),
    ] = None,
) -> list[dict[str, Any]]:
    """Newest first. Each call reads a bounded part of the log; while more may
    follow, the answer has an ``X-Next-Cursor`` header to pass as ``cursor``."""
    principal = await gw.reads.authenticate(authorization)
    found, next_cursor = await gw.reads.decisions(
        principal,
        tenant=tenant,
        creator=creator,
        verdict=verdict,
        decision_id=decision_id,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    if next_cursor is not None:
        response.headers["X-Next-Cursor"] = next_cursor
    return found
