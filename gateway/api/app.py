"""The HTTP front. Route handlers only translate HTTP to service calls and back.

``create_app(settings)`` builds everything; nothing happens at import time, so
tests build apps with other settings and production builds exactly one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.approval_service import ApprovalService
from gateway.approvals import ApprovalRecord
from gateway.errors import FieldProblem, InvalidRequest, SpawngateError
from gateway.registry.base import AgentRecord
from gateway.request import AgentKind, AgentRequest, MalformedBody, SmeRequest
from gateway.service import AdmissionService, Answer
from gateway.settings import Settings
from gateway.shipping import Shipper
from gateway.wiring import Gateway

__all__ = ["create_app"]

logger = logging.getLogger("spawngate.api")

#: Bodies above this size are refused before parsing.
MAX_BODY_BYTES = 256 * 1024


class ApproverNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


def _json(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status_code, headers=answer.headers)


def _error_response(exc: SpawngateError) -> JSONResponse:
    return JSONResponse({"error": exc.to_body()}, status_code=exc.status, headers=exc.headers())


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SpawngateError)
    async def _spawngate_error(_: Request, exc: SpawngateError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            FieldProblem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()
        ]
        fields = ", ".join(p["field"] for p in problems)
        return _error_response(
            InvalidRequest(f"invalid parameters: {fields}", problems=problems, stage=None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return JSONResponse(
            {"error": {"code": "internal_error", "reason": "internal error; see the gateway log"}},
            status_code=500,
        )


async def _read_body(request: Request) -> object:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return MalformedBody(f"body of {len(raw)} bytes exceeds the limit of {MAX_BODY_BYTES}")
    if not raw:
        return MalformedBody("the body is empty; send a JSON object")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return MalformedBody(str(exc))


def _request_schema(model: type[AgentRequest] | type[SmeRequest]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def create_app(settings: Settings | None = None, *, gateway: Gateway | None = None) -> FastAPI:
    """Build the app. Pass ``gateway`` to share one (and its Redis) between apps in tests."""
    owned = gateway is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gw = gateway or Gateway.start(settings or Settings())
        app.state.gateway = gw
        background = []
        if owned and gw.settings.policy_reload_seconds > 0:
            background.append(
                asyncio.create_task(gw.policy.watch(gw.settings.policy_reload_seconds))
            )
        shipper = None
        if owned and gw.settings.decision_log_sink_url:
            shipper = Shipper(gw.store, gw.settings.decision_log_sink_url)
            background.append(
                asyncio.create_task(shipper.run(gw.settings.decision_log_ship_seconds))
            )
        if owned and gw.settings.approval_sweep_seconds > 0:
            background.append(
                asyncio.create_task(gw.approvals_service.sweep(gw.settings.approval_sweep_seconds))
            )
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if shipper is not None:
                await shipper.aclose()
            if owned:
                await gw.aclose()
                gw.store.shutdown_embedded()

    app = FastAPI(
        title="spawngate",
        version="0.1.0",
        summary="Policy-as-code governance gateway for agents that create agents",
        lifespan=lifespan,
    )
    if gateway is not None:
        app.state.gateway = gateway
    _install_error_handlers(app)

    def service(request: Request) -> AdmissionService:
        gw: Gateway = request.app.state.gateway
        return gw.service

    async def create(
        kind: AgentKind, request: Request, authorization: str | None, key: str | None
    ) -> JSONResponse:
        body = await _read_body(request)
        answer = await service(request).submit(
            kind, body, authorization=authorization, idempotency_key=key
        )
        return _json(answer)

    @app.post(
        "/v1/create_agent",
        tags=["admission"],
        summary="Ask to create an agent (tool create_agent)",
        openapi_extra=_request_schema(AgentRequest),
        responses={
            201: {"description": "created"},
            202: {"description": "needs approval"},
            403: {"description": "denied, with every reason"},
        },
    )
    async def create_agent(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        return await create(AgentKind.AGENT, request, authorization, idempotency_key)

    @app.post(
        "/v1/create_sme",
        tags=["admission"],
        summary="Ask to create a specialist agent (tool create_sme)",
        openapi_extra=_request_schema(SmeRequest),
    )
    async def create_sme(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        return await create(AgentKind.SME, request, authorization, idempotency_key)

    def approvals(request: Request) -> ApprovalService:
        gw: Gateway = request.app.state.gateway
        return gw.approvals_service

    @app.get("/v1/requests/{request_id}", tags=["admission"], summary="Status of a queued request")
    async def request_status(
        request_id: str,
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        wait: Annotated[
            float, Query(ge=0, le=60, description="Seconds to wait for a final state")
        ] = 0,
    ) -> ApprovalRecord:
        principal = await service(request).authenticate(authorization)
        return await approvals(request).status(principal, request_id, wait=wait)

    @app.get(
        "/v1/approvals", tags=["approvals"], summary="Pending requests of your tenant (approvers)"
    )
    async def list_approvals(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> list[ApprovalRecord]:
        principal = await service(request).authenticate(authorization)
        return await approvals(request).list_pending(principal)

    @app.get("/v1/approvals/{request_id}", tags=["approvals"], summary="One request (approvers)")
    async def show_approval(
        request_id: str, request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> ApprovalRecord:
        principal = await service(request).authenticate(authorization)
        return await approvals(request).show(principal, request_id)

    @app.post(
        "/v1/approvals/{request_id}/approve",
        tags=["approvals"],
        summary="Approve (then re-check and create)",
    )
    async def approve(
        request_id: str,
        request: Request,
        decision: ApproverNote | None = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await service(request).authenticate(authorization)
        record, answer = await approvals(request).approve(
            principal, request_id, decision.note if decision else None
        )
        return {"request": record.model_dump(mode="json"), "decision": answer}

    @app.post("/v1/approvals/{request_id}/deny", tags=["approvals"], summary="Deny")
    async def deny(
        request_id: str,
        request: Request,
        decision: ApproverNote | None = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> ApprovalRecord:
        principal = await service(request).authenticate(authorization)
        return await approvals(request).deny(
            principal, request_id, decision.note if decision else None
        )

    @app.get(
        "/v1/decisions", tags=["audit"], summary="Decision log records of your tenant (auditors)"
    )
    async def decisions(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        tenant: Annotated[str | None, Query(description="Default: your own")] = None,
        creator: Annotated[str | None, Query()] = None,
        verdict: Annotated[str | None, Query(pattern="^(allow|review|deny)$")] = None,
        decision_id: Annotated[str | None, Query()] = None,
        since: Annotated[str | None, Query()] = None,
        until: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        svc = service(request)
        principal = await svc.authenticate(authorization)
        return await svc.decisions(
            principal,
            tenant=tenant,
            creator=creator,
            verdict=verdict,
            decision_id=decision_id,
            since=since,
            until=until,
            limit=limit,
        )

    @app.get(
        "/v1/agents", tags=["registry"], summary="Find agents in your tenant before creating one"
    )
    async def search_agents(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        capability: Annotated[str | None, Query(max_length=64)] = None,
        name: Annotated[str | None, Query(max_length=63)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        svc = service(request)
        principal = await svc.authenticate(authorization)
        agents = await svc.search_agents(principal, capability=capability, name=name, limit=limit)
        suggestion = None
        if not agents and capability:
            suggestion = f"no agent in your tenant has '{capability}'; consider requesting one"
        return {"agents": [a.model_dump(mode="json") for a in agents], "suggestion": suggestion}

    @app.get("/v1/agents/{name}", tags=["registry"], summary="One agent of your tenant")
    async def get_agent(
        name: str, request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> AgentRecord:
        svc = service(request)
        principal = await svc.authenticate(authorization)
        return await svc.get_agent(principal, name)

    @app.get(
        "/healthz", tags=["operations"], summary="Liveness, the policy revision, the last reload"
    )
    async def healthz(request: Request) -> dict[str, Any]:
        return {"status": "ok", **service(request).policy_status()}

    @app.get("/readyz", tags=["operations"], summary="Ready only when Redis and policy answer")
    async def readyz(request: Request) -> JSONResponse:
        checks = await service(request).readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"ready": ready, "checks": checks, "policy_revision": service(request).policy_revision},
            status_code=200 if ready else 503,
        )

    return app
