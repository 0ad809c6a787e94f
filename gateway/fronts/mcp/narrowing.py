"""What one caller may name: the templates, tools and capabilities its tool schemas list.

An agent that reads a tool schema proposes what the schema offers, so each
principal sees, as enums, only what policy would let it use:

* templates: the blueprints its tenant may use (a blueprint's own ``tenants``,
  then ``data.spawngate.templates.tenants``, as policies/spawngate/templates reads them);
* capabilities: those its tenant may request (``data.spawngate.capabilities``)
  that one of those templates offers as a module (SG-CAP-001..003);
* tools: those it holds itself (it cannot grant others, SG-TOOLS-001), without
  the agent-creating tools unless a usable template may pass them on (SG-TOOLS-002);
* the creation tools themselves: only the kinds Casbin lets it create (and, for an
  agent the gateway created, whose tool it holds: SG-TOOLS-003).

This is advice read from the same files the rules read, never a decision: a
call outside the schema still goes through admission and is denied there with
its reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.contract.request import SPAWNING_TOOLS, AgentKind
from gateway.identity.authenticator import Principal
from gateway.policy.casbin import Action, Obj
from gateway.policy.snapshot import PolicySnapshot
from gateway.registry.discovery import tenant_listing

__all__ = ["Allowed", "allowed_for"]


@dataclass(frozen=True, slots=True)
class Allowed:
    """What one principal may name in a creation request, sorted."""

    templates: tuple[str, ...]
    capabilities: tuple[str, ...]
    tools: tuple[str, ...]
    #: The creation kinds whose tool the principal is shown.
    kinds: frozenset[AgentKind]


def _tenant_capabilities(data: Mapping[str, Any], tenant: str) -> set[str]:
    listed = tenant_listing(data, "capabilities", tenant)
    if listed is not None:
        return listed
    default = data.get("spawngate", {}).get("capabilities", {}).get("default_allowed", [])
    return {str(x) for x in default}


def _may_create(snapshot: PolicySnapshot, principal: Principal, kind: AgentKind) -> bool:
    obj = Obj.SME if kind is AgentKind.SME else Obj.AGENT
    if not snapshot.authorizer.check(
        principal.subject, principal.tenant, obj, Action.CREATE
    ).allowed:
        return False
    # An agent the gateway created needs the tool of the kind (SG-TOOLS-003).
    return principal.depth == 0 or f"create_{kind.value}" in principal.tools


def allowed_for(snapshot: PolicySnapshot, principal: Principal) -> Allowed:
    tenant = principal.tenant
    listed = tenant_listing(snapshot.data, "templates", tenant)
    blueprints = []
    for name in snapshot.catalog.names():
        blueprint = snapshot.catalog.get(name)
        if blueprint is None or (blueprint.tenants and tenant not in blueprint.tenants):
            continue
        if listed is not None and name not in listed:
            continue
        blueprints.append(blueprint)
    offered = {cap for b in blueprints for cap in b.capability_modules}
    capabilities = offered & _tenant_capabilities(snapshot.data, tenant)
    tools = set(principal.tools)
    if not any(b.allow_spawning for b in blueprints):
        tools -= SPAWNING_TOOLS
    kinds = frozenset(k for k in AgentKind if _may_create(snapshot, principal, k))
    return Allowed(
        templates=tuple(b.name for b in blueprints),
        capabilities=tuple(sorted(capabilities)),
        tools=tuple(sorted(tools)),
        kinds=kinds,
    )
