"""Admission: ask to create an agent or a specialist, and poll a queued request.

The admission service builds the whole answer (status, body, headers), the same
for every front; these routes only read the body and send the answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from gateway.admission.answer import AdmissionAnswer
from gateway.contract.body import decode_json, read_limited
from gateway.contract.request import AgentKind, AgentRequest, MalformedBody, SmeRequest
from gateway.fronts.http.deps import Runtime
from gateway.fronts.http.models import RequestStatus
from gateway.fronts.http.shapes import DecisionAnswer, error_responses, request_id_of

__all__ = ["router"]

router = APIRouter(tags=["admission"])

#: What admission answers refuse with: the decision, with its ``error``.
ADMISSION_ERRORS = error_responses(
    401, 403, 409, 413, 422, 429, 500, 502, 503, model=DecisionAnswer
)
#: 201 is the route's own status; a request that needs a human is queued.
_QUEUED: dict[int | str, dict[str, Any]] = {
    202: {"model": DecisionAnswer, "description": "needs approval"}
}


def _request_schema(model: type[AgentRequest] | type[SmeRequest]) -> dict[str, Any]:
    # The body is read by hand (size limit, strict JSON), so FastAPI cannot see it.
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


async def _read_body(request: Request, limit: int) -> object:
    """The parsed body, or a ``MalformedBody`` that validation refuses (and records)."""
    raw = await read_limited(
        request.stream(), declared=request.headers.get("content-length"), limit=limit
    )
    if isinstance(raw, MalformedBody):
        return raw
    return decode_json(raw)


def _json(answer: AdmissionAnswer, request_id: str | None) -> JSONResponse:
    body = answer.body
    if request_id is not None and isinstance(body.get("error"), dict):
        body = {**body, "error": {**body["error"], "request_id": request_id}}
    return JSONResponse(body, status_code=answer.status_code, headers=answer.headers)


async def _create(
    gw: Runtime, kind: AgentKind, request: Request, authorization: str | None, key: str | None
) -> JSONResponse:
    body = await _read_body(request, gw.settings.max_body_bytes)
    answer = await gw.admission.admit(kind, body, authorization=authorization, idempotency_key=key)
    return _json(answer, request_id_of(request))


@router.post(
    "/v1/create_agent",
    summary="Ask to create an agent (tool create_agent)",
    openapi_extra=_request_schema(AgentRequest),
    status_code=201,
    response_model=DecisionAnswer,
    response_description="created",
    responses={**_QUEUED, **ADMISSION_ERRORS},
)
async def create_agent(
    gw: Runtime,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    return await _create(gw, AgentKind.AGENT, request, authorization, idempotency_key)


@router.post(
    "/v1/create_sme",
    summary="Ask to create a specialist agent (tool create_sme)",
    openapi_extra=_request_schema(SmeRequest),
    status_code=201,
    response_model=DecisionAnswer,
    response_description="created",
    responses={**_QUEUED, **ADMISSION_ERRORS},
)
async def create_sme(
    gw: Runtime,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    return await _create(gw, AgentKind.SME, request, authorization, idempotency_key)


@router.get(
    "/v1/requests/{request_id}",
    summary="Status of a queued request",
    response_model=RequestStatus,
    # agent_api_key is sent only when there is one, never as null.
    response_model_exclude_unset=True,
    responses=error_responses(401, 403, 404, 422, 500, 503),
)
async def request_status(
    request_id: str,
    gw: Runtime,
    authorization: Annotated[str | None, Header()] = None,
    wait: Annotated[float, Query(ge=0, le=60, description="Seconds to wait for a final state")] = 0,
) -> dict[str, Any]:
    """The request's state; its creator also gets ``agent_api_key`` once, when an
    approved agent that may spawn agents was created (never the approver)."""
    principal = await gw.reads.authenticate(authorization)
    record, key = await gw.approvals_service.collect(principal, request_id, wait=wait)
    # Every field of the record is given (so sent, nulls included); the key only if any.
    body = record.model_dump(mode="json")
    if key is not None:
        body["agent_api_key"] = key
    return body
