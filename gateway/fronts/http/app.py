"""The HTTP front. Route handlers only translate HTTP to service calls and back.

``create_app(settings)`` builds everything; nothing happens at import time, so
tests build apps with other settings and production builds exactly one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.admission.service import AdmissionService, Answer
from gateway.approvals.queue import ApprovalRecord
from gateway.approvals.service import ApprovalService
from gateway.audit.shipping import Shipper
from gateway.contract.body import decode_json, read_limited
from gateway.contract.request import AgentKind, AgentRequest, MalformedBody, SmeRequest
from gateway.errors import DependencyError, FieldProblem, InvalidRequest, SpawngateError
from gateway.fronts.http.shapes import (
    REQUEST_ID_HEADER,
    DecisionAnswer,
    ReadinessAnswer,
    RequestIdMiddleware,
    error_responses,
)
from gateway.quotas.reconcile import Reconciler
from gateway.registry.base import AgentFilter, AgentRecord
from gateway.registry.discovery import DiscoveryAnswer
from gateway.runtime import Gateway
from gateway.settings import Settings

__all__ = ["create_app"]

logger = logging.getLogger("spawngate.api")


class ApproverNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


def _request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


def _json(answer: Answer, request_id: str | None) -> JSONResponse:
    body = answer.body
    if request_id is not None and isinstance(body.get("error"), dict):
        body = {**body, "error": {**body["error"], "request_id": request_id}}
    return JSONResponse(body, status_code=answer.status_code, headers=answer.headers)


def _error_response(exc: SpawngateError, request_id: str | None) -> JSONResponse:
    body = exc.to_body()
    if request_id is not None:
        body["request_id"] = request_id
    return JSONResponse({"error": body}, status_code=exc.status, headers=exc.headers())


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SpawngateError)
    async def _spawngate_error(request: Request, exc: SpawngateError) -> JSONResponse:
        if isinstance(exc, DependencyError):
            # The answer names the dependency by role; the cause stays here.
            logger.warning(
                "request %s: %s failed: %s (cause: %r)",
                _request_id(request),
                exc.dependency,
                exc.reason,
                exc.__cause__,
            )
        return _error_response(exc, _request_id(request))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            FieldProblem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()
        ]
        fields = ", ".join(p["field"] for p in problems)
        return _error_response(
            InvalidRequest(f"invalid parameters: {fields}", problems=problems, stage=None),
            _request_id(request),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The framework's own answers (unknown path, wrong method, a body it could not
        # parse) in the one error shape; an unparsable body is a 422 like any other.
        if exc.status_code == 400:
            return _error_response(
                InvalidRequest(
                    f"invalid body: {exc.detail}",
                    problems=[FieldProblem("body", str(exc.detail))],
                    stage=None,
                ),
                _request_id(request),
            )
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = {"code": code, "reason": str(exc.detail), "request_id": _request_id(request)}
        return JSONResponse({"error": body}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = _request_id(request)
        logger.exception("request %s: unhandled error", request_id)
        return JSONResponse(
            {
                "error": {
                    "code": "internal_error",
                    "reason": "internal error; see the gateway log",
                    "request_id": request_id,
                }
            },
            status_code=500,
            headers={REQUEST_ID_HEADER: request_id} if request_id else None,
        )


async def _read_body(request: Request, limit: int) -> object:
    """The parsed body, or a ``MalformedBody`` that validation refuses (and records)."""
    raw = await read_limited(
        request.stream(), declared=request.headers.get("content-length"), limit=limit
    )
    if isinstance(raw, MalformedBody):
        return raw
    return decode_json(raw)


#: What admission answers refuse with: the decision, with its ``error``.
ADMISSION_ERRORS = error_responses(
    401, 403, 409, 413, 422, 429, 500, 502, 503, model=DecisionAnswer
)
#: Authenticated reads.
READ_ERRORS = error_responses(401, 403, 404, 422, 500, 503)
REGISTRY_ERRORS = error_responses(401, 403, 404, 422, 500, 502, 503)
#: Rounds of 0.2 s in which background tasks must end at shutdown (10 s in all).
_STOP_ROUNDS = 50


def _request_schema(model: type[AgentRequest] | type[SmeRequest]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the background tasks and wait until each has ended.

    A cancellation can be lost (a library that catches it, or a race inside a
    timeout), which would hang shutdown forever: whatever is still running is
    cancelled again, and after a bounded wait named in the log instead.
    """
    pending = set(tasks)
    for _ in range(_STOP_ROUNDS):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)
    for task in tasks:
        if task in pending:
            logger.error("background task %s did not stop: %s", task.get_name(), task.get_stack())
        elif not task.cancelled() and task.exception() is not None:
            logger.error("background task %s failed", task.get_name(), exc_info=task.exception())


def create_app(settings: Settings | None = None, *, gateway: Gateway | None = None) -> FastAPI:
    """Build the app. Pass ``gateway`` to share one (and its Redis) between apps in tests."""
    owned = gateway is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gw = gateway or Gateway.build(settings or Settings())
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
        if owned:
            # Always once at start (half-done approvals of a gateway that died),
            # then on a schedule unless the sweep is off.
            background.append(
                asyncio.create_task(gw.approvals_service.sweep(gw.settings.approval_sweep_seconds))
            )
        if owned and gw.settings.reconcile_seconds > 0:
            # Once now (counters leaked by a crash before this start), then on a schedule.
            reconciler = Reconciler.for_gateway(gw)
            background.append(asyncio.create_task(reconciler.run(gw.settings.reconcile_seconds)))
        try:
            yield
        finally:
            await _stop(background)
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
    app.add_middleware(RequestIdMiddleware)

    def service(request: Request) -> AdmissionService:
        gw: Gateway = request.app.state.gateway
        return gw.service

    async def create(
        kind: AgentKind, request: Request, authorization: str | None, key: str | None
    ) -> JSONResponse:
        gw: Gateway = request.app.state.gateway
        body = await _read_body(request, gw.settings.max_body_bytes)
        answer = await service(request).submit(
            kind, body, authorization=authorization, idempotency_key=key
        )
        return _json(answer, _request_id(request))

    @app.post(
        "/v1/create_agent",
        tags=["admission"],
        summary="Ask to create an agent (tool create_agent)",
        openapi_extra=_request_schema(AgentRequest),
        responses={
            201: {"description": "created"},
            202: {"description": "needs approval"},
            **ADMISSION_ERRORS,
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
        responses={
            201: {"description": "created"},
            202: {"description": "needs approval"},
            **ADMISSION_ERRORS,
        },
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

    @app.get(
        "/v1/requests/{request_id}",
        tags=["admission"],
        summary="Status of a queued request",
        responses={200: {"model": ApprovalRecord}, **READ_ERRORS},
    )
    async def request_status(
        request_id: str,
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        wait: Annotated[
            float, Query(ge=0, le=60, description="Seconds to wait for a final state")
        ] = 0,
    ) -> dict[str, Any]:
        """The request's state; its creator also gets ``agent_api_key`` once, when an
        approved agent that may spawn agents was created (never the approver)."""
        principal = await service(request).authenticate(authorization)
        record, key = await approvals(request).collect(principal, request_id, wait=wait)
        body = record.model_dump(mode="json")
        if key is not None:
            body["agent_api_key"] = key
        return body

    @app.get(
        "/v1/approvals",
        tags=["approvals"],
        summary="Pending requests of your tenant (approvers)",
        responses=READ_ERRORS,
    )
    async def list_approvals(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> list[ApprovalRecord]:
        principal = await service(request).authenticate(authorization)
        return await approvals(request).list_pending(principal)

    @app.get(
        "/v1/approvals/{request_id}",
        tags=["approvals"],
        summary="One request (approvers)",
        responses=READ_ERRORS,
    )
    async def show_approval(
        request_id: str, request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> ApprovalRecord:
        principal = await service(request).authenticate(authorization)
        return await approvals(request).show(principal, request_id)

    @app.post(
        "/v1/approvals/{request_id}/approve",
        tags=["approvals"],
        summary="Approve (then re-check and create)",
        responses=error_responses(401, 403, 404, 409, 422, 429, 500, 502, 503),
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

    @app.post(
        "/v1/approvals/{request_id}/deny",
        tags=["approvals"],
        summary="Deny",
        responses=error_responses(401, 403, 404, 409, 422, 500, 503),
    )
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
        "/v1/decisions",
        tags=["audit"],
        summary="Decision log records of your tenant (auditors)",
        responses=READ_ERRORS,
    )
    async def decisions(
        request: Request,
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
        svc = service(request)
        principal = await svc.authenticate(authorization)
        found, next_cursor = await svc.decisions(
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

    @app.get(
        "/v1/agents",
        tags=["registry"],
        summary="Find agents in your tenant before creating one",
        responses=REGISTRY_ERRORS,
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

    # Registered before /v1/agents/{name}: "search" is a reserved agent name
    # (gateway.contract.request.RESERVED_NAMES), so no agent is shadowed by this route.
    @app.get(
        "/v1/agents/search",
        tags=["registry"],
        summary="Discovery before spawning: who offers a capability, else which template",
        responses={200: {"model": DiscoveryAnswer}, **REGISTRY_ERRORS},
    )
    async def discover_agents(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        capability: Annotated[str | None, Query(max_length=64)] = None,
        tool: Annotated[str | None, Query(max_length=64)] = None,
        template: Annotated[str | None, Query(max_length=64)] = None,
        q: Annotated[
            str | None,
            Query(max_length=200, description="Free text over name, role and capabilities"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> DiscoveryAnswer:
        """Active agents of your tenant matching every criterion given; the suggestion
        names the agent to ask, or the allowed template that offers the capability."""
        svc = service(request)
        principal = await svc.authenticate(authorization)
        agents, advice = await svc.discover(
            principal,
            capability=capability,
            where=AgentFilter(tool=tool, template=template, text=q),
            limit=limit,
        )
        return DiscoveryAnswer(agents=agents, suggestion=advice)

    @app.get(
        "/v1/agents/{name}",
        tags=["registry"],
        summary="One agent of your tenant",
        responses=REGISTRY_ERRORS,
    )
    async def get_agent(
        name: str, request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> AgentRecord:
        svc = service(request)
        principal = await svc.authenticate(authorization)
        return await svc.get_agent(principal, name)

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness, the policy revision, the last reload",
        responses=error_responses(500),
    )
    async def healthz(request: Request) -> dict[str, Any]:
        return {"status": "ok", **service(request).policy_status()}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Ready only when Redis and policy answer",
        responses={
            200: {"model": ReadinessAnswer},
            **error_responses(503, model=ReadinessAnswer),
            **error_responses(500),
        },
    )
    async def readyz(request: Request) -> JSONResponse:
        checks = await service(request).readiness()
        ready = all(checks.values())
        body: dict[str, Any] = {
            "ready": ready,
            "checks": checks,
            "policy_revision": service(request).policy_revision,
        }
        if not ready:
            failing = ", ".join(sorted(name for name, ok in checks.items() if not ok))
            body["error"] = {
                "code": "not_ready",
                "reason": f"not ready: {failing}",
                "request_id": _request_id(request),
            }
        return JSONResponse(body, status_code=200 if ready else 503)

    return app
