"""The MCP server: five tools over the same services as the HTTP API, deciding nothing.

Built on the SDK's low-level ``Server`` (not ``MCPServer``): the tool list is
computed per caller (``narrowing``), which a decorator-registered, fixed list
cannot express. The transport says who calls (``Caller``): the HTTP front reads
the request's ``Authorization`` header, stdio the key it was started with.

What a caller gets back, by MCP's conventions:

* an admission answer (created, pending_approval, denied, failed) is a tool
  *result*: the answer as ``structuredContent`` (the HTTP body, unchanged) and a
  short text. A denial or failure sets ``isError``, so a host shows the call as
  failed while the model still reads every reason and its fix;
* a read refused or failing in the gateway (unknown key, not authorized, not
  found, a dependency down) is a result with ``isError`` and ``{"error": ...}``
  in the API's error shape;
* a call the protocol cannot carry (an unknown tool, arguments of the wrong
  type for a read tool) is a JSON-RPC error (``INVALID_PARAMS``). Creation
  arguments are never refused here: admission validates and records them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, INVALID_REQUEST
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import SpawngateError
from gateway.fronts.mcp.narrowing import allowed_for
from gateway.fronts.mcp.schemas import CREATION_TOOLS, tools_for
from gateway.registry.base import AgentFilter
from gateway.runtime import Gateway

__all__ = ["Caller", "build_server"]

logger = logging.getLogger("spawngate.mcp")

#: Who calls, per request: the running gateway, the Authorization header value
#: (``Bearer <key>``) and an idempotency key, if the transport carries one.
Caller = Callable[[ServerRequestContext[Any, Any]], tuple[Gateway, str | None, str | None]]


_M = TypeVar("_M", bound=BaseModel)


class _Search(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capability: str | None = Field(default=None, max_length=64)
    tool: str | None = Field(default=None, max_length=64)
    template: str | None = Field(default=None, max_length=64)
    text: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=500)


class _Status(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=200)
    wait: float = Field(default=0, ge=0, le=60)


class _Nothing(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _arguments(model: type[_M], arguments: dict[str, Any] | None) -> _M:
    try:
        return model.model_validate(arguments or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise MCPError(INVALID_PARAMS, f"invalid arguments: {problems}") from exc


def _result(body: dict[str, Any], text: str, *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=body,
        is_error=error,
    )


def _answer_text(body: dict[str, Any]) -> str:
    outcome = body.get("outcome", "failed")
    lines = [f"{outcome} (decision {body.get('decision_id')})"]
    if isinstance(body.get("agent"), dict):
        lines.append(f"agent: {body['agent'].get('id')}")
    if body.get("request_id"):
        lines.append(f"request_id: {body['request_id']} (poll request_status)")
    for reason in body.get("reasons") or []:
        fix = f" (fix: {reason['fix']})" if reason.get("fix") else ""
        lines.append(f"- {reason.get('code')}: {reason.get('message')}{fix}")
    if isinstance(body.get("error"), dict) and not body.get("reasons"):
        lines.append(f"- {body['error'].get('code')}: {body['error'].get('reason')}")
    return "\n".join(lines)


def _error(exc: SpawngateError) -> types.CallToolResult:
    return _result({"error": exc.to_body()}, f"{exc.code}: {exc.reason}", error=True)


class _Tools:
    def __init__(self, caller: Caller) -> None:
        self._caller = caller

    async def list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        gw, authorization, _ = self._caller(ctx)
        try:
            principal = await gw.reads.authenticate(authorization)
        except SpawngateError as exc:
            # The HTTP transport refuses a bad key before MCP; stdio checks it at start.
            raise MCPError(INVALID_REQUEST, f"{exc.code}: {exc.reason}") from exc
        return types.ListToolsResult(tools=tools_for(allowed_for(gw.policy.current, principal)))

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        gw, authorization, idempotency_key = self._caller(ctx)
        kind = CREATION_TOOLS.get(params.name)
        if kind is not None:
            # The body as the HTTP API would have parsed it; admission validates it.
            body: object = params.arguments if params.arguments is not None else {}
            answer = await gw.admission.admit(
                kind, body, authorization=authorization, idempotency_key=idempotency_key
            )
            failed = answer.body.get("outcome") not in ("created", "pending_approval")
            return _result(answer.body, _answer_text(answer.body), error=failed)
        read = self._reads.get(params.name)
        if read is None:
            raise MCPError(INVALID_PARAMS, f"unknown tool '{params.name}'")
        try:
            return await read(self, gw, authorization, params.arguments)
        except SpawngateError as exc:
            return _error(exc)

    async def _search(
        self, gw: Gateway, authorization: str | None, arguments: dict[str, Any] | None
    ) -> types.CallToolResult:
        args = _arguments(_Search, arguments)
        principal = await gw.reads.authenticate(authorization)
        agents, advice = await gw.reads.discover(
            principal,
            capability=args.capability,
            where=AgentFilter(tool=args.tool, template=args.template, text=args.text),
            limit=args.limit,
        )
        body = {"agents": [a.model_dump(mode="json") for a in agents], "suggestion": advice}
        names = ", ".join(a.name for a in agents) or "none"
        return _result(body, f"agents: {names}\n{advice}")

    async def _status(
        self, gw: Gateway, authorization: str | None, arguments: dict[str, Any] | None
    ) -> types.CallToolResult:
        args = _arguments(_Status, arguments)
        principal = await gw.reads.authenticate(authorization)
        record, key = await gw.approvals_service.collect(principal, args.request_id, wait=args.wait)
        body = record.model_dump(mode="json")
        if key is not None:
            body["agent_api_key"] = key
        return _result(body, f"request {args.request_id}: {record.state.value}")

    async def _templates(
        self, gw: Gateway, authorization: str | None, arguments: dict[str, Any] | None
    ) -> types.CallToolResult:
        _arguments(_Nothing, arguments)
        principal = await gw.reads.authenticate(authorization)
        snapshot = gw.policy.current
        templates = []
        for name in allowed_for(snapshot, principal).templates:
            blueprint = snapshot.catalog.get(name)
            if blueprint is None:
                continue
            templates.append(
                {
                    "name": name,
                    "description": blueprint.description,
                    "pre_approved": blueprint.pre_approved,
                    "default_tools": list(blueprint.default_tools),
                    "capability_modules": {
                        cap: {"description": m.description, "tools": list(m.tools)}
                        for cap, m in blueprint.capability_modules.items()
                    },
                    "allow_spawning": blueprint.allow_spawning,
                }
            )
        return _result({"templates": templates}, json.dumps([t["name"] for t in templates]))

    _reads: ClassVar[
        dict[
            str,
            Callable[
                [_Tools, Gateway, str | None, dict[str, Any] | None],
                Awaitable[types.CallToolResult],
            ],
        ]
    ] = {
        "search_agents": _search,
        "request_status": _status,
        "list_templates": _templates,
    }


def build_server(caller: Caller) -> Server[Any]:
    """An MCP server whose every call asks ``caller`` who calls and which gateway answers."""
    tools = _Tools(caller)
    return Server(
        "spawngate",
        version="0.1.0",
        instructions="Ask spawngate before creating an agent: search_agents first (an agent "
        "may already offer the capability), list_templates, then create_agent or create_sme; "
        "a pending answer is followed with request_status.",
        on_list_tools=tools.list_tools,
        on_call_tool=tools.call_tool,
    )
