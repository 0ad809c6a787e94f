"""The registry, read: find, discover and show the agents of your tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query

from gateway.fronts.http.deps import Runtime
from gateway.fronts.http.models import AgentSearchAnswer
from gateway.fronts.http.shapes import error_responses
from gateway.registry.base import AgentFilter, AgentRecord
from gateway.registry.discovery import DiscoveryAnswer

__all__ = ["router"]

router = APIRouter(tags=["registry"])

REGISTRY_ERRORS = error_responses(401, 403, 404, 422, 500, 502, 503)


@router.get(
    "/v1/agents",
    summary="Find agents in your tenant before creating one",
    response_model=AgentSearchAnswer,
    responses=REGISTRY_ERRORS,
)
async def search_agents(
    gw: Runtime,
    authorization: Annotated[str | None, Header()] = None,
    capability: Annotated[str | None, Query(max_length=64)] = None,
    name: Annotated[str | None, Query(max_length=63)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AgentSearchAnswer:
    principal = await gw.reads.authenticate(authorization)
    agents = await gw.reads.search_agents(principal, capability=capability, name=name, limit=limit)
    suggestion = None
    if not agents and capability:
        suggestion = f"no agent in your tenant has '{capability}'; consider requesting one"
    return AgentSearchAnswer(agents=agents, suggestion=suggestion)


# Registered before /v1/agents/{name}: "search" is a reserved agent name
# (gateway.contract.request.RESERVED_NAMES), so no agent is shadowed by this route.
@router.get(
    "/v1/agents/search",
    summary="Discovery before spawning: who offers a capability, else which template",
    response_model=DiscoveryAnswer,
    responses=REGISTRY_ERRORS,
)
async def discover_agents(
    gw: Runtime,
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
    principal = await gw.reads.authenticate(authorization)
    agents, advice = await gw.reads.discover(
        principal,
        capability=capability,
        where=AgentFilter(tool=tool, template=template, text=q),
        limit=limit,
    )
    return DiscoveryAnswer(agents=agents, suggestion=advice)


@router.get(
    "/v1/agents/{name}",
    summary="One agent of your tenant",
    response_model=AgentRecord,
    responses=REGISTRY_ERRORS,
)
async def get_agent(
    name: str, gw: Runtime, authorization: Annotated[str | None, Header()] = None
) -> AgentRecord:
    principal = await gw.reads.authenticate(authorization)
    return await gw.reads.get_agent(principal, name)


@router.post(
    "/v1/agents/{name}/activity",
    summary="Report that an agent of your tenant was active (keeps it from retirement)",
    response_model=AgentRecord,
    responses=REGISTRY_ERRORS,
)
async def report_activity(
    name: str, gw: Runtime, authorization: Annotated[str | None, Header()] = None
) -> AgentRecord:
    """For registries and agents that call back: sets ``last_activated_at`` to now, so
    the retirement sweep measures idleness from here (README, "Retirement and
    ephemeral agents"). Casbin ``agent`` / ``report`` in the caller's tenant."""
    principal = await gw.reads.authenticate(authorization)
    return await gw.lifecycle.activity(principal, name)
