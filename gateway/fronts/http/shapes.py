"""The one error shape of the HTTP API, as documented in OpenAPI, and the request id.

Every 4xx and 5xx body has an ``error`` object: ``code``, ``reason``, the
``stage`` and failing ``dependency`` when there is one (named by role, never by
address), the field ``problems`` of a refused request, and a correlation id
(``request_id``, also sent as the ``X-Request-Id`` header; admission answers
carry their ``decision_id`` too). Details that would name internals (hosts,
sockets, URLs, upstream bodies) go to the gateway log under the same id.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "REQUEST_ID_HEADER",
    "DecisionAnswer",
    "ErrorBody",
    "ErrorDetail",
    "JsonBodyMiddleware",
    "ReadinessAnswer",
    "RequestIdMiddleware",
    "error_responses",
    "request_id_of",
]

REQUEST_ID_HEADER = "X-Request-Id"
#: A caller's own request id is kept only if it is short and plain (it is logged).
_CALLER_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class Problem(BaseModel):
    field: str = Field(description="JSON path of the value, e.g. 'tools.0'; 'body' for the whole")
    problem: str


class ErrorDetail(BaseModel):
    # Open: an error may carry details of its own (e.g. a quota's limit).
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Machine-readable, e.g. 'invalid_request', 'unauthenticated'")
    reason: str = Field(description="For humans; names a failing dependency only by its role")
    stage: str | None = Field(default=None, description="The pipeline stage that refused")
    dependency: str | None = Field(
        default=None, description="Role of the failing dependency: redis, registry, policy engine"
    )
    problems: list[Problem] | None = None
    limit: str | None = None
    retry_after: int | None = None
    request_id: str | None = Field(
        default=None, description="Correlation id; the gateway log has the details under it"
    )


class ErrorBody(BaseModel):
    """The body of every 4xx/5xx answer outside admission."""

    model_config = ConfigDict(extra="allow")

    error: ErrorDetail


class DecisionAnswer(BaseModel):
    """An admission answer (gateway.admission.answer); refusals carry ``error``.

    Fields are in the order the answer is built in, and optional: a field the
    answer leaves out is left out, not sent as null (routes that relay an
    answer serialise it with ``response_model_exclude_unset``).
    """

    model_config = ConfigDict(extra="allow")

    decision_id: str | None = None
    outcome: str | None = Field(
        default=None, description="created, pending_approval, denied or failed"
    )
    verdict: str | None = Field(default=None, description="allow, review or deny")
    kind: str | None = None
    reasons: list[dict[str, Any]] | None = None
    obligations: list[str] | None = None
    policy_revision: str | None = None
    stages: list[dict[str, Any]] | None = None
    danger_score: float | None = None
    request_id: str | None = Field(
        default=None, description="The queued request, to poll at /v1/requests/{request_id}"
    )
    agent: dict[str, Any] | None = Field(default=None, description="The created agent")
    receipt: str | None = Field(
        default=None,
        description="The signed admission receipt of a created agent (README, Receipts)",
    )
    a2a_card_url: str | None = Field(
        default=None, description="Where the created agent's A2A Agent Card is served"
    )
    tools: dict[str, Any] | None = Field(default=None, description="Where each tool came from")
    agent_api_key: str | None = Field(
        default=None, description="Once, for a created agent that may spawn agents"
    )
    error: ErrorDetail | None = None


class ReadinessAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")

    ready: bool
    checks: dict[str, bool]
    policy_revision: str | None = None
    error: ErrorDetail | None = None


_DESCRIPTIONS = {
    401: "no API key, or a key nobody holds",
    403: "denied (by policy, a role, or Casbin), with every reason",
    404: "not found",
    405: "method not allowed",
    409: "conflict (duplicate agent, idempotency key in flight, request already decided)",
    413: "the body is over the size limit",
    422: "the request is invalid; every problem is named",
    429: "a quota or rate limit; see Retry-After",
    500: "a bug in the gateway; denied and logged",
    502: "the registry failed",
    503: "a dependency (redis, the policy engine, the scorer) is unavailable; denied",
}


def error_responses(
    *codes: int, model: type[BaseModel] = ErrorBody
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the error statuses a route can answer."""
    return {code: {"model": model, "description": _DESCRIPTIONS[code]} for code in codes}


class RequestIdMiddleware:
    """Give every request a correlation id (the caller's, if plain) and echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _CALLER_ID.match(given) else "req_" + uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


def request_id_of(request: Request) -> str | None:
    """The correlation id ``RequestIdMiddleware`` gave this request."""
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


#: Content types a JSON API body is often sent with by mistake: none at all, or
#: curl's default for ``-d`` (the admission routes already read any body as JSON).
_NOT_DECLARED = {b"", b"application/x-www-form-urlencoded"}


class JsonBodyMiddleware:
    """Read every ``/v1`` request body as JSON, whatever (or whether) it was labelled.

    The admission routes decode the raw body themselves; the other JSON routes
    (approve, deny, usage, activity) are FastAPI body models, which ignore a body
    not labelled ``application/json`` and answer a puzzling 422. Relabelling the
    two usual mistakes keeps one rule for the whole API: the body is strict JSON,
    and a body that is not gets a 422 naming the problem. Other declared types
    (a form upload, XML) are left alone and refused as they are.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-type"]
            declared = dict(scope.get("headers") or []).get(b"content-type", b"")
            if declared.split(b";")[0].strip().lower() in _NOT_DECLARED:
                scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)
