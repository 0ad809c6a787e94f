"""Request and response models of the HTTP API that are not records of a package below.

Records that already are the answer (``ApprovalRecord``, ``AgentRecord``,
``AuditRecord``, ``DiscoveryAnswer``) are used as they are; the models here
wrap or extend them. The error shape and the admission answer are in
``shapes``. Field names and presence are the API's: routes that must leave a
field out rather than send ``null`` say ``response_model_exclude_unset``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.approvals.queue import ApprovalRecord
from gateway.fronts.http.shapes import DecisionAnswer
from gateway.registry.base import AgentRecord

__all__ = [
    "AgentSearchAnswer",
    "ApprovalOutcome",
    "ApproverNote",
    "HealthAnswer",
    "RequestStatus",
]


class ApproverNote(BaseModel):
    """The optional body of approve and deny."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


class RequestStatus(ApprovalRecord):
    """``GET /v1/requests/{id}``: the queued request, and once, the created agent's key."""

    agent_api_key: str | None = Field(
        default=None,
        description="Only to the creator, once, when the approved agent may spawn agents",
    )


class ApprovalOutcome(BaseModel):
    """What approving answers: the request's final record and the admission decision."""

    request: ApprovalRecord
    decision: DecisionAnswer


class AgentSearchAnswer(BaseModel):
    """``GET /v1/agents``: matching agents, and a hint when none has the capability."""

    agents: list[AgentRecord]
    suggestion: str | None


class HealthAnswer(BaseModel):
    """``GET /healthz``: alive, and which policy revision decides."""

    status: str
    policy_revision: str
    policy_loaded_at: str = Field(description="ISO 8601 time the deciding revision was loaded")
    policy_reloads: int
    policy_reload_error: str | None = Field(description="Why the last reload was refused")
    shadow_revision: str | None
    shadow_error: str | None
