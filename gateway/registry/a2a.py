"""A2A discovery: the Agent Card of a created agent, built with the a2a-sdk's own types.

spawngate serves one card per agent at ``/a2a/{tenant}/{name}/.well-known/agent-card.json``
(``card_path``), so an orchestrator can discover an agent it just had created and
register it as an A2A endpoint without a restart. The card says where the agent is
reached, not spawngate: its one interface is ``<a2a_base_url>/<tenant>/<name>``
(JSON-RPC binding, protocol 1.0). The default base is kagent's controller A2A route
(``http://kagent-controller.kagent:8083/api/a2a``); set ``SPAWNGATE_A2A_BASE_URL`` to
wherever the registry's agents really answer.

Skills come from the agent's capabilities, one each (an agent with none gets one
skill named after its template); the description from its role or instructions.
"""

from __future__ import annotations

from typing import Any

from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentSkill

from gateway.registry.base import AgentRecord

__all__ = ["CARD_PATH", "build_card", "card_json", "card_path", "card_url"]

#: The route (FastAPI path syntax) of a card on the gateway.
CARD_PATH = "/a2a/{tenant}/{name}/.well-known/agent-card.json"
PROTOCOL_VERSION = "1.0"
_MODES = ["text/plain", "application/json"]


def card_path(tenant: str, name: str) -> str:
    return CARD_PATH.format(tenant=tenant, name=name)


def card_url(tenant: str, name: str, public_url: str | None) -> str:
    """Absolute when the gateway's public URL is known, else the path on this gateway."""
    path = card_path(tenant, name)
    return f"{public_url.rstrip('/')}{path}" if public_url else path


def _description(record: AgentRecord) -> str:
    text = record.role or record.instructions or record.expertise
    return text or f"{record.kind.value} agent from template {record.template}"


def _skills(record: AgentRecord) -> list[AgentSkill]:
    names = list(record.capabilities) or [record.template]
    return [
        AgentSkill(
            id=name,
            name=name.replace("_", " "),
            description=f"{name} ({_description(record)})",
            tags=list(dict.fromkeys([name, record.template, record.kind.value])),
            input_modes=_MODES,
            output_modes=_MODES,
        )
        for name in names
    ]


def build_card(record: AgentRecord, base_url: str) -> AgentCard:
    return AgentCard(
        name=record.name,
        description=_description(record),
        supported_interfaces=[
            AgentInterface(
                url=f"{base_url.rstrip('/')}/{record.tenant}/{record.name}",
                protocol_binding="JSONRPC",
                protocol_version=PROTOCOL_VERSION,
            )
        ],
        # The decision that made it: a new decision (a new agent of that name) is a new version.
        version=record.decision_id,
        capabilities=AgentCapabilities(streaming=False, push_notifications=False),
        default_input_modes=_MODES,
        default_output_modes=_MODES,
        skills=_skills(record),
    )


def card_json(record: AgentRecord, base_url: str) -> dict[str, Any]:
    """The card as served: the SDK's own JSON form (with its 0.3 compatibility fields)."""
    return agent_card_to_dict(build_card(record, base_url))
