"""The one input document every policy sees (policies/README.md documents it).

Built once per request by the policy stage from typed facts, recorded with
the decision (``policy_input``) so that ``policy replay`` can evaluate the same
document under another revision, and cut down for the danger query, which
sees the proposed agent and its tenant but not the request texts again (they
are what was scored; a smaller input is a measurably cheaper query).

The shapes are ``TypedDict``s: the document *is* the JSON the engines get,
embedded or in OPA, with no conversion on the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

from gateway.config import TenantSettings
from gateway.contract.request import AgentKind, CreateRequest
from gateway.identity.authenticator import Principal
from gateway.policy.blueprints import Blueprint, EffectiveAgent

__all__ = [
    "DANGER_INPUT_KEYS",
    "DangerFacts",
    "PolicyInput",
    "SwarmFacts",
    "admission_input",
    "danger_input",
]


class CreatorFacts(TypedDict):
    id: str
    tenant: str
    kind: str
    tools: list[str]
    parent: str | None
    root: str
    depth: int


class TenantFacts(TypedDict):
    id: str
    approval_mode: str
    danger_threshold: float
    max_cost_per_day: float
    create_inactive: bool
    lineage: dict[str, Any]
    dedup: str
    require_justification: bool


class TemplateFacts(TypedDict):
    name: str
    exists: bool
    tenants: list[str]
    pre_approved: bool
    allow_spawning: bool
    capability_modules: list[str]


class EffectiveFacts(TypedDict):
    tools: list[str]
    tool_sources: dict[str, list[str]]
    capabilities: list[str]
    provider: str
    model: str
    estimated_cost_per_day: float
    depth: int


class UsageFacts(TypedDict):
    tenant_active: int
    tenant_day: int
    agent_day: int
    root_descendants: int


class SwarmFacts(TypedDict):
    #: Active agents of the tenant that already offer every requested capability.
    covering_agents: list[str]
    #: Estimated $/day of the tenant's active agents before this creation
    #: (gateway.costs; policies/spawngate/approval SG-APPROVAL-004 adds this agent's).
    active_cost_per_day: float


class DangerFacts(TypedDict):
    score: float
    categories: list[str]
    reviewer_unavailable: bool


class PolicyInput(TypedDict):
    kind: str
    request: dict[str, Any]
    creator: CreatorFacts
    tenant: TenantFacts
    template: TemplateFacts
    catalog: list[str]
    effective: EffectiveFacts
    usage: UsageFacts
    swarm: SwarmFacts
    #: Only in a recorded input: what the danger query saw of the score.
    danger: NotRequired[DangerFacts]


class DangerInput(TypedDict):
    kind: str
    creator: CreatorFacts
    tenant: TenantFacts
    template: TemplateFacts
    effective: EffectiveFacts
    danger: DangerFacts


#: What data.spawngate.main.danger sees besides input.danger.
DANGER_INPUT_KEYS = ("kind", "creator", "tenant", "template", "effective")


def admission_input(
    *,
    kind: AgentKind,
    request: CreateRequest,
    principal: Principal,
    settings: TenantSettings,
    effective: EffectiveAgent,
    blueprint: Blueprint | None,
    counts: Mapping[str, int],
    catalog: list[str],
    swarm: SwarmFacts,
) -> PolicyInput:
    return {
        "kind": kind.value,
        "request": request.model_dump(mode="json", exclude_none=True),
        "creator": {
            "id": principal.id,
            "tenant": principal.tenant,
            "kind": principal.kind.value,
            "tools": list(principal.tools),
            "parent": principal.parent,
            "root": principal.root,
            "depth": principal.depth,
        },
        "tenant": {
            "id": principal.tenant,
            "approval_mode": settings.approval_mode.value,
            "danger_threshold": settings.danger_threshold,
            "max_cost_per_day": settings.max_cost_per_day,
            "create_inactive": settings.create_inactive,
            "lineage": settings.lineage.model_dump(),
            "dedup": settings.dedup.value,
            "require_justification": settings.require_justification,
        },
        "template": {
            "name": effective.template,
            "exists": blueprint is not None,
            "tenants": list(blueprint.tenants) if blueprint else [],
            "pre_approved": blueprint.pre_approved if blueprint else False,
            "allow_spawning": blueprint.allow_spawning if blueprint else False,
            "capability_modules": sorted(blueprint.capability_modules) if blueprint else [],
        },
        "catalog": catalog,
        "effective": {
            "tools": list(effective.tools),
            "tool_sources": effective.tool_sources(),
            "capabilities": list(effective.capabilities),
            "provider": effective.provider,
            "model": effective.model,
            "estimated_cost_per_day": effective.estimated_cost_per_day,
            "depth": effective.depth,
        },
        "usage": {
            "tenant_active": counts.get("tenant max_active_agents", 0),
            "tenant_day": counts.get("tenant per_day", 0),
            "agent_day": counts.get("agent per_day", 0),
            "root_descendants": counts.get("lineage max_descendants_per_root", 0),
        },
        "swarm": swarm,
    }


def danger_input(document: Mapping[str, Any], danger: Mapping[str, Any]) -> dict[str, Any]:
    """The danger query's document, cut from an admission input (live or recorded)."""
    cut: dict[str, Any] = {key: document[key] for key in DANGER_INPUT_KEYS if key in document}
    cut["danger"] = danger
    return cut
