"""Approvals: approvers list, read, approve and deny the requests of their tenant."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header

from gateway.approvals.queue import ApprovalRecord
from gateway.fronts.http.deps import Runtime
from gateway.fronts.http.models import ApprovalOutcome, ApproverNote
from gateway.fronts.http.shapes import error_responses

__all__ = ["router"]

router = APIRouter(tags=["approvals"])

READ_ERRORS = error_responses(401, 403, 404, 422, 500, 503)


@router.get(
    "/v1/approvals",
    summary="Pending requests of your tenant (approvers)",
    response_model=list[ApprovalRecord],
    responses=READ_ERRORS,
)
async def list_approvals(
    gw: Runtime, authorization: Annotated[str | None, Header()] = None
) -> list[ApprovalRecord]:
    principal = await gw.reads.authenticate(authorization)
    return await gw.approvals_service.list_pending(principal)


@router.get(
    "/v1/approvals/{request_id}",
    summary="One request (approvers)",
    response_model=ApprovalRecord,
    responses=READ_ERRORS,
)
async def show_approval(
    request_id: str, gw: Runtime, authorization: Annotated[str | None, Header()] = None
) -> ApprovalRecord:
    principal = await gw.reads.authenticate(authorization)
    return await gw.approvals_service.show(principal, request_id)


@router.post(
    "/v1/approvals/{request_id}/approve",
    summary="Approve (then re-check and create)",
    response_model=ApprovalOutcome,
    # The decision is the admission answer as built: its absent fields stay absent.
    response_model_exclude_unset=True,
    responses=error_responses(401, 403, 404, 409, 422, 429, 500, 502, 503),
)
async def approve(
    request_id: str,
    gw: Runtime,
    decision: ApproverNote | None = None,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    principal = await gw.reads.authenticate(authorization)
    record, answer = await gw.approvals_service.approve(
        principal, request_id, decision.note if decision else None
    )
    # Every field of the record is given, so every one is sent (nulls included).
    return {"request": record.model_dump(mode="json"), "decision": answer}


@router.post(
    "/v1/approvals/{request_id}/deny",
    summary="Deny",
    response_model=ApprovalRecord,
    responses=error_responses(401, 403, 404, 409, 422, 500, 503),
)
async def deny(
    request_id: str,
    gw: Runtime,
    decision: ApproverNote | None = None,
    authorization: Annotated[str | None, Header()] = None,
) -> ApprovalRecord:
    principal = await gw.reads.authenticate(authorization)
    return await gw.approvals_service.deny(
        principal, request_id, decision.note if decision else None
    )
