"""Discovery before spawning (seed 003): who already offers a capability, and what to suggest.

Two uses. ``covering_agents`` is a fact for policy: the active agents of the
tenant that offer *every* capability a proposal requests (a proposal with no
capabilities is never covered); policies/spawngate/dedup decides what that
means (SG-DEDUP-001). ``suggestion`` is advice for ``GET /v1/agents/search``:
the agent to ask, else a template the tenant may use that offers the
capability. The advice reads the same policy data the rules read (template and
capability allowlists); it never decides anything: the proposal is still
judged by the admission policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from gateway.policy.blueprints import TemplateCatalog
from gateway.registry.base import AgentRecord, Registry, is_active

__all__ = [
    "COVER_SCAN_LIMIT",
    "DiscoveryAnswer",
    "allowed_templates_offering",
    "covering_agents",
    "suggestion",
    "tenant_listing",
]

#: Agents read per dedup check: the registry's index narrows them to holders of
#: one requested capability first, so this bounds one tenant's pile of near-twins.
COVER_SCAN_LIMIT = 500


class DiscoveryAnswer(BaseModel):
    """``GET /v1/agents/search``: the matching active agents and what to do next."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agents: list[AgentRecord]
    #: "Try asking @<agent>", or "Consider proposing a new agent with template: <t>",
    #: or why nothing fits.
    suggestion: str


async def covering_agents(
    registry: Registry, tenant: str, capabilities: Sequence[str], *, now: datetime | None = None
) -> list[str]:
    """Names of active agents of the tenant offering every requested capability, sorted."""
    wanted = set(capabilities)
    if not wanted:
        return []
    now = now or datetime.now(UTC)
    found = await registry.search(
        tenant, capability=sorted(wanted)[0], name_contains=None, limit=COVER_SCAN_LIMIT
    )
    return sorted(a.name for a in found if is_active(a, now) and wanted <= set(a.capabilities))


def tenant_listing(data: Mapping[str, Any], concern: str, tenant: str) -> set[str] | None:
    """The tenant's own list in policy data ``spawngate.<concern>.tenants``; None if it has none."""
    section = data.get("spawngate", {}).get(concern, {})
    listed = section.get("tenants", {}).get(tenant) if isinstance(section, Mapping) else None
    return {str(x) for x in listed} if isinstance(listed, list) else None


def allowed_templates_offering(
    catalog: TemplateCatalog, data: Mapping[str, Any], tenant: str, capability: str
) -> list[str]:
    """Templates the tenant may use (policies/spawngate/templates) with a module for
    the capability, if the tenant may request it at all (policies/spawngate/capabilities)."""
    caps = tenant_listing(data, "capabilities", tenant)
    if caps is None:
        default = data.get("spawngate", {}).get("capabilities", {}).get("default_allowed", [])
        caps = {str(x) for x in default}
    if capability not in caps:
        return []
    allowed = tenant_listing(data, "templates", tenant)
    names = []
    for name in catalog.names():
        blueprint = catalog.get(name)
        if blueprint is None or capability not in blueprint.capability_modules:
            continue
        if blueprint.tenants and tenant not in blueprint.tenants:
            continue
        if allowed is not None and name not in allowed:
            continue
        names.append(name)
    return sorted(names)


def suggestion(
    agents: Sequence[AgentRecord], capability: str | None, templates: Sequence[str]
) -> str:
    """What to do next: ask an agent found, else propose from a template, else nothing fits."""
    if agents:
        return f"Try asking @{agents[0].name}"
    if capability and templates:
        return f"Consider proposing a new agent with template: {templates[0]}"
    if capability:
        return (
            f"No active agent offers '{capability}' and no template allowed in your "
            "tenant offers it; ask a human"
        )
    return "No active agent matches; search by capability for a template to propose from"
