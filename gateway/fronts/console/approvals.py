"""Approvals: the queue of the user's tenant, one request, approve and deny with a note.

Every read and action goes through ``gw.approvals_service`` (Casbin approval/read
and approval/decide in the principal's own tenant, self-approval refused, one
transition out of ``pending``); a refusal is shown with the service's reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.approvals.queue import ApprovalRecord, ApprovalState
from gateway.errors import SpawngateError
from gateway.fronts.console.sessions import Session
from gateway.fronts.console.web import (
    PREFIX,
    checked_form,
    csrf_refused,
    failure,
    gateway_of,
    page,
    signed_in,
    to_signin,
)
from gateway.runtime import Gateway

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: Seconds between two refreshes of the queue (htmx polling).
REFRESH_SECONDS = 5


def _strings(value: Any) -> list[str]:
    return [str(x) for x in value] if isinstance(value, list) else []


def view(gw: Gateway, record: ApprovalRecord) -> dict[str, Any]:
    """What an approver needs to judge a request, from its record and the catalog."""
    request = record.request
    requested = sorted(set(_strings(request.get("tools"))))
    capabilities = _strings(request.get("capabilities"))
    template = str(request.get("template") or "default")
    blueprint = gw.catalog.get(template)
    # What the template stage decided when the request was queued; recomputed
    # from today's catalog only for records queued before that was kept.
    if record.tools is not None:
        from_template = set(record.tools.get("from_template", []))
        granted = from_template | set(record.tools.get("from_request", []))
    else:
        from_template = set(blueprint.tools_for(capabilities)) if blueprint else set()
        granted = from_template | set(requested)
    raw_cost = request.get("estimated_cost_per_day")
    cost = max(
        float(raw_cost) if isinstance(raw_cost, int | float) else 0.0,
        blueprint.estimated_cost_per_day if blueprint else 0.0,
    )
    principal = record.principal
    depth = principal.get("depth")
    return {
        "record": record,
        "name": request.get("name") or "",
        "template": template,
        "requested_tools": requested,
        "granted_tools": sorted(granted),
        "template_tools": sorted(from_template),
        "justification": request.get("justification") or "",
        "estimated_cost": cost,
        "lineage": {
            "creator": record.creator,
            "parent": principal.get("parent") or "-",
            "root": principal.get("root") or record.creator,
            "depth": (depth + 1) if isinstance(depth, int) else 1,
        },
        "findings": [f for f in record.danger_findings if isinstance(f, dict)],
        # Queued under another policy revision: approving re-checks under the current one.
        "stale": record.policy_revision != gw.policy_revision,
        "pending": record.state is ApprovalState.PENDING,
    }


async def _queue(request: Request, session: Session) -> list[dict[str, Any]]:
    gw = gateway_of(request)
    records = await gw.approvals_service.list_pending(session.principal)
    return [view(gw, r) for r in sorted(records, key=lambda r: r.created_at)]


@router.get(f"{PREFIX}/approvals")
async def approvals(request: Request) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    try:
        items = await _queue(request, session)
    except SpawngateError as exc:
        return failure(request, session, exc)
    return page(
        request,
        "approvals.html",
        session,
        items=items,
        refresh=REFRESH_SECONDS,
        current="approvals",
        revision=gateway_of(request).policy_revision,
    )


@router.get(f"{PREFIX}/approvals/queue")
async def queue_fragment(request: Request) -> Response:
    """The queue table alone, for htmx's polling."""
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    try:
        items = await _queue(request, session)
    except SpawngateError as exc:
        return failure(request, session, exc)
    return page(request, "approvals_queue.html", session, items=items, refresh=REFRESH_SECONDS)


async def _detail(
    request: Request, session: Session, request_id: str, *, status: int = 200, **extra: Any
) -> Response:
    gw = gateway_of(request)
    try:
        record = await gw.approvals_service.show(session.principal, request_id)
    except SpawngateError as exc:
        return failure(request, session, exc)
    return page(
        request,
        "approval.html",
        session,
        status=status,
        item=view(gw, record),
        current="approvals",
        **extra,
    )


@router.get(f"{PREFIX}/approvals/{{request_id}}")
async def approval(request: Request, request_id: str, done: str | None = None) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    return await _detail(request, session, request_id, done=done)


@router.post(f"{PREFIX}/approvals/{{request_id}}/{{action}}")
async def decide(request: Request, request_id: str, action: str) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    form = await checked_form(request, session)
    if form is None:
        return csrf_refused(request, session)
    if action not in ("approve", "deny"):
        return await _detail(request, session, request_id, status=404, error="unknown action")
    note = form.get("note", "").strip()
    if not note:
        return await _detail(
            request,
            session,
            request_id,
            status=422,
            error="A note is required: say why you approve or deny.",
        )
    service = gateway_of(request).approvals_service
    try:
        if action == "approve":
            await service.approve(session.principal, request_id, note)
        else:
            await service.deny(session.principal, request_id, note)
    except SpawngateError as exc:
        return await _detail(
            request,
            session,
            request_id,
            status=exc.status,
            error=f"{exc.reason} ({exc.code})",
        )
    return RedirectResponse(f"{PREFIX}/approvals/{request_id}?done={action}", status_code=303)
