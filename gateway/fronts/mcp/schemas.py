"""The five tools as MCP describes them, with input schemas narrowed per caller.

The creation tools' arguments are the HTTP body's fields: their schemas are the
request contract's own JSON schemas (``gateway.contract.request``), with
``template``, ``tools`` and ``capabilities`` replaced by enums of what the
caller may use (``narrowing``). Their output is the admission answer of the
HTTP API (``DecisionAnswer``).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from mcp import types

from gateway.contract.request import AgentKind, AgentRequest, SmeRequest
from gateway.fronts.http.models import RequestStatus
from gateway.fronts.http.shapes import DecisionAnswer
from gateway.fronts.mcp.narrowing import Allowed
from gateway.registry.discovery import DiscoveryAnswer

__all__ = ["CREATION_TOOLS", "TOOL_NAMES", "tools_for"]

#: Tool name -> the kind it asks admission for.
CREATION_TOOLS = {"create_agent": AgentKind.AGENT, "create_sme": AgentKind.SME}
TOOL_NAMES = ("create_agent", "create_sme", "search_agents", "request_status", "list_templates")

_CREATION_TEXT = {
    AgentKind.AGENT: "Ask spawngate to create an agent. Policy decides: the answer's outcome is "
    "created (with the agent), pending_approval (poll request_status with its request_id) or "
    "denied (every reason, each with a fix).",
    AgentKind.SME: "Ask spawngate to create a specialist agent (expertise required). Policy "
    "decides, as for create_agent.",
}


@cache
def _contract_schema(kind: AgentKind) -> dict[str, Any]:
    model = SmeRequest if kind is AgentKind.SME else AgentRequest
    return model.model_json_schema()


def _list_of(values: tuple[str, ...], what: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "uniqueItems": True, "description": what}
    if values:
        schema["items"] = {"type": "string", "enum": list(values)}
    else:
        # Nothing this caller may name: an empty enum is not valid JSON Schema everywhere.
        schema["items"] = {"type": "string"}
        schema["maxItems"] = 0
    return schema


def _creation_schema(kind: AgentKind, allowed: Allowed) -> dict[str, Any]:
    schema = copy.deepcopy(_contract_schema(kind))
    schema.pop("title", None)
    properties = schema["properties"]
    properties["template"] = {
        "type": "string",
        "enum": list(allowed.templates),
        "description": "Blueprint to start from (list_templates); omitted: the default one",
    }
    properties["tools"] = _list_of(allowed.tools, "Tools to grant beyond the template's")
    properties["capabilities"] = _list_of(
        allowed.capabilities, "Capability modules of the template to enable"
    )
    return schema


def _output_schema(model: type[Any]) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema()
    return schema


_SEARCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "capability": {"type": "string", "maxLength": 64},
        "tool": {"type": "string", "maxLength": 64},
        "template": {"type": "string", "maxLength": 64},
        "text": {
            "type": "string",
            "maxLength": 200,
            "description": "Free text over name, role and capabilities",
        },
        "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    },
}
_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "request_id": {"type": "string", "description": "The request_id of a pending answer"},
        "wait": {
            "type": "number",
            "minimum": 0,
            "maximum": 60,
            "default": 0,
            "description": "Seconds to wait for a final state (approved, denied, expired)",
        },
    },
    "required": ["request_id"],
}
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}


def tools_for(allowed: Allowed) -> list[types.Tool]:
    """The tools one caller sees: creation tools only for the kinds it may create."""
    tools = [
        types.Tool(
            name=name,
            description=_CREATION_TEXT[kind],
            input_schema=_creation_schema(kind, allowed),
            output_schema=_output_schema(DecisionAnswer),
        )
        for name, kind in CREATION_TOOLS.items()
        if kind in allowed.kinds
    ]
    tools += [
        types.Tool(
            name="search_agents",
            description="Discovery before spawning: active agents of your tenant by capability, "
            "tool, template or text, and a suggestion (an agent to ask, or a template).",
            input_schema=_SEARCH_SCHEMA,
            output_schema=_output_schema(DiscoveryAnswer),
        ),
        types.Tool(
            name="request_status",
            description="The state of a request queued for approval; optionally wait for it.",
            input_schema=_STATUS_SCHEMA,
            output_schema=_output_schema(RequestStatus),
        ),
        types.Tool(
            name="list_templates",
            description="The agent templates you may create from, with their capability modules.",
            input_schema=_EMPTY_SCHEMA,
        ),
    ]
    return tools
