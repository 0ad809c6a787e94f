"""Logs: the decision log, filtered and paged on the server, one record's stages,
chain verification, and export of the filtered view.

Reads go through ``gw.reads.decisions`` (Casbin decision/read in the tenant
asked for, page by page with a cursor). Tenant, principal, outcome and time
range are filtered by the log reader; stage and free text over each page read.
"""

from __future__ import annotations

import io
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.audit.checkpoints import load_key
from gateway.audit.export import ExportFormat, ExportWriter
from gateway.audit.record import AuditRecord
from gateway.audit.verify import verify_log
from gateway.errors import InvalidRequest, PermissionDenied, SpawngateError
from gateway.fronts.console.sessions import Session
from gateway.fronts.console.web import (
    PREFIX,
    failure,
    gateway_of,
    page,
    signed_in,
    to_signin,
    visible_tenants,
)
from gateway.policy.casbin import Obj

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

PAGE = 25
#: Log reads one page may take when stage or text filters drop records.
_READS_PER_PAGE = 8
#: Records an export holds at most (the CLI's `spawngate audit export` has no limit).
EXPORT_LIMIT = 10_000
_FILTERS = ("tenant", "principal", "outcome", "stage", "since", "until", "text")


def _filters(request: Request) -> dict[str, str]:
    q = request.query_params
    return {name: q.get(name, "").strip() for name in _FILTERS}


def stages_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The stage results a record carries (a decision record lists every stage)."""
    result = record.get("result") or {}
    stages = result.get("stages")
    return [s for s in stages if isinstance(s, dict)] if isinstance(stages, list) else []


def _mentions_stage(record: dict[str, Any], stage: str) -> bool:
    result = record.get("result") or {}
    raw = result.get("reasons")
    reasons: list[Any] = raw if isinstance(raw, list) else []
    named = {str(r.get("stage")) for r in reasons if isinstance(r, dict)}
    named |= {
        str(s.get("stage")) for s in stages_of(record) if s.get("status") not in ("pass", None)
    }
    return stage in named or result.get("stage") == stage


def _keep(record: dict[str, Any], f: dict[str, str]) -> bool:
    if f["stage"] and not _mentions_stage(record, f["stage"]):
        return False
    return not (f["text"] and f["text"].lower() not in json.dumps(record).lower())


async def read_page(
    request: Request, session: Session, f: dict[str, str], cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    gw = gateway_of(request)
    if f["outcome"] and f["outcome"] not in ("allow", "review", "deny"):
        raise InvalidRequest("outcome must be allow, review or deny", code="invalid_outcome")
    found: list[dict[str, Any]] = []
    for _ in range(_READS_PER_PAGE):
        records, cursor = await gw.reads.decisions(
            session.principal,
            tenant=f["tenant"] or None,
            creator=f["principal"] or None,
            verdict=f["outcome"] or None,
            decision_id=None,
            since=f["since"] or None,
            until=f["until"] or None,
            limit=limit - len(found),
            cursor=cursor,
        )
        found.extend(r for r in records if _keep(r, f))
        if cursor is None or len(found) >= limit:
            break
    return found, cursor


@router.get(f"{PREFIX}/logs")
async def logs(request: Request, cursor: str | None = None) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    f = _filters(request)
    gw = gateway_of(request)
    try:
        records, next_cursor = await read_page(request, session, f, cursor or None, PAGE)
        checkpoints = await gw.audit.checkpoints()
    except SpawngateError as exc:
        return failure(request, session, exc)
    query = "&".join(f"{k}={v}" for k, v in f.items() if v)
    return page(
        request,
        "logs.html",
        session,
        current="logs",
        records=records,
        filters=f,
        query=query,
        next_cursor=next_cursor,
        tenants=visible_tenants(gw, session, Obj.DECISION),
        checkpoint=checkpoints[-1] if checkpoints else None,
    )


@router.get(f"{PREFIX}/logs/verify")
async def verify(request: Request) -> Response:
    """Walk the whole chain (on request: it reads every record)."""
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    gw = gateway_of(request)
    if not visible_tenants(gw, session, Obj.DECISION):
        return failure(request, session, _not_auditor(session))
    try:
        result = await verify_log(gw.audit, [], load_key(gw.settings))
    except SpawngateError as exc:
        return failure(request, session, exc)
    return page(request, "verify.html", session, current="logs", result=result)


def _not_auditor(session: Session) -> SpawngateError:
    return PermissionDenied(
        f"'{session.principal.id}' may not read decisions in any tenant", code="not_an_auditor"
    )


@router.get(f"{PREFIX}/logs/export")
async def export(request: Request, format: str = "jsonl") -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    f = _filters(request)
    try:
        fmt = ExportFormat(format)
        records: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(records) < EXPORT_LIMIT:
            found, cursor = await read_page(request, session, f, cursor, 1000)
            records.extend(found)
            if cursor is None:
                break
    except ValueError:
        return failure(
            request, session, InvalidRequest("format must be jsonl or csv", code="bad_format")
        )
    except SpawngateError as exc:
        return failure(request, session, exc)
    out = io.StringIO(newline="")
    writer = ExportWriter(out, fmt)
    # Oldest first, as the log and `spawngate audit export` write them.
    for record in reversed(records[:EXPORT_LIMIT]):
        writer.record(AuditRecord.model_validate(record))
    writer.finish()
    media = "application/x-ndjson" if fmt is ExportFormat.JSONL else "text/csv"
    return Response(
        out.getvalue(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="decisions.{fmt.value}"'},
    )


@router.get(f"{PREFIX}/logs/{{decision_id}}")
async def record(request: Request, decision_id: str, tenant: str | None = None) -> Response:
    """Every record of one decision id (decision, outcome, approval ...), each stage shown."""
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    gw = gateway_of(request)
    try:
        records, _ = await gw.reads.decisions(
            session.principal,
            tenant=tenant or None,
            creator=None,
            verdict=None,
            decision_id=decision_id,
            since=None,
            until=None,
            limit=50,
        )
    except SpawngateError as exc:
        return failure(request, session, exc)
    return page(
        request,
        "record.html",
        session,
        current="logs",
        decision_id=decision_id,
        records=[{**r, "stages": stages_of(r)} for r in reversed(records)],
        pretty=[json.dumps(r, indent=2, sort_keys=True) for r in reversed(records)],
    )
