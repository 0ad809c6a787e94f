"""The decision log, read by auditors of a tenant.

The page is serialised here, once, rather than validated against the response
model and serialised again (which cost several times the reading of the page):
the records come straight from the log's models, and the bytes are those
FastAPI's ``JSONResponse`` would send (orjson writes them; ``json.dumps`` where
a number would be written differently).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Response

from gateway.audit.record import AuditRecord, plain_numbers
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
) -> Response:
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
    headers = {"X-Next-Cursor": next_cursor} if next_cursor is not None else None
    return Response(_page(found), media_type="application/json", headers=headers)


def _page(records: list[dict[str, Any]]) -> bytes:
    try:
        fast = orjson.dumps(records)
    except TypeError:  # an integer beyond 64 bits: json writes it
        fast = None
    if fast is not None and plain_numbers(fast):
        return fast
    return json.dumps(records, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
