"""What the gateway forwards to an agent registry, and the registry interface."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from gateway.contract.request import AgentKind

__all__ = [
    "INDETERMINATE",
    "ROLLED_BACK",
    "Abandoning",
    "AgentFilter",
    "AgentRecord",
    "Registry",
    "Retiring",
    "is_active",
]

#: Error codes of a creation whose answer was lost, once the gateway tried to
#: abandon it: the agent is surely not there, or may be (the reconciler removes it).
ROLLED_BACK = "creation_rolled_back"
INDETERMINATE = "creation_indeterminate"


class AgentRecord(BaseModel):
    """A created agent, as registered. ``id`` is ``<tenant>/<name>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    tenant: str
    name: str
    kind: AgentKind
    template: str
    role: str | None
    instructions: str | None
    system_prompt: str
    tools: tuple[str, ...]
    capabilities: tuple[str, ...]
    provider: str
    model: str
    auto_reply: bool | None
    next_agent: str
    expertise: str | None = None
    knowledge_sources: tuple[str, ...] = ()
    estimated_cost_per_day: float
    ttl_seconds: int | None = None
    expires_at: datetime | None = None
    #: False when the tenant creates agents inactive, for a human to switch on.
    active: bool
    created_by: str
    parent: str
    root: str
    depth: int
    created_at: datetime
    decision_id: str
    #: When the agent was last active (``POST /v1/agents/{name}/activity``, or as an
    #: HTTP registry reports it); None if never. The retirement sweep measures
    #: idleness from it, or from ``created_at`` (gateway.lifecycle).
    last_activated_at: datetime | None = None
    #: The signed admission receipt of this creation (gateway.receipts); None for an
    #: agent registered before receipts, or around the gateway.
    receipt: str | None = None


def is_active(record: AgentRecord, now: datetime) -> bool:
    """Active and not past its ttl: an agent that can be asked (discovery, dedup)."""
    return record.active and (record.expires_at is None or record.expires_at > now)


class AgentFilter(BaseModel):
    """Search criteria besides capability and name, all of which must hold (discovery)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The agent holds this tool.
    tool: str | None = None
    #: The agent was made from this blueprint.
    template: str | None = None
    #: Case-insensitive free text over name, role and capabilities.
    text: str | None = None

    @property
    def empty(self) -> bool:
        return self.tool is None and self.template is None and not self.text

    def matches(self, record: AgentRecord) -> bool:
        if self.tool is not None and self.tool not in record.tools:
            return False
        if self.template is not None and record.template != self.template:
            return False
        if self.text:
            needle = self.text.casefold()
            haystack = [record.name, record.role or "", *record.capabilities]
            return any(needle in part.casefold() for part in haystack)
        return True


class Registry(Protocol):
    name: str
    #: Whether ``search`` with a large ``limit`` returns every agent of a tenant. Only
    #: then may the reconciler lower quota counters to what the listing shows: a
    #: listing cut short would free slots that real agents hold.
    lists_every_agent: bool

    async def create(self, record: AgentRecord) -> AgentRecord:
        """Register the agent; raise Conflict if the name is taken, UpstreamFailed on failure."""
        ...

    async def get(self, tenant: str, name: str) -> AgentRecord | None: ...

    async def exists(self, tenant: str, name: str) -> bool: ...

    async def search(
        self,
        tenant: str,
        *,
        capability: str | None,
        name_contains: str | None,
        limit: int,
        where: AgentFilter | None = None,
    ) -> list[AgentRecord]:
        """Agents of the tenant, by name, at most ``limit``; ``where`` narrows them
        further before the limit applies."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Abandoning(Protocol):
    """A registry that can take back a creation of one decision (see gateway.registry.builtin)."""

    async def abandon(self, record: AgentRecord) -> bool:
        """Remove the agent only if ``record.decision_id`` created it, and refuse that
        creation if it arrives later; True if an agent was removed. Raises a
        DependencyError if the registry could not be reached."""
        ...


@runtime_checkable
class Retiring(Protocol):
    """A registry that keeps activity and can retire agents (gateway.lifecycle).

    The built-in registry is one; the HTTP registry's contract has neither, so
    with it the sweep only reads ``last_activated_at`` if the registry reports it
    and retires nothing (README, "Retirement and ephemeral agents")."""

    async def touch(self, tenant: str, name: str, at: datetime) -> AgentRecord | None:
        """Record that the agent was active at ``at`` (never moving back); the agent
        as it is now, or None if there is no such agent."""
        ...

    async def retire(self, record: AgentRecord) -> bool:
        """Remove the agent ``record.decision_id`` created; True for exactly one caller."""
        ...

    async def expiring(self, until: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, name) of agents whose ttl ends at or before ``until``, soonest first."""
        ...
