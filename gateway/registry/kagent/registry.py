"""The kagent registry: allowed creations become kagent ``Agent`` resources.

Rendering (gateway.registry.kagent.manifest) and checking
(gateway.registry.kagent.validate) happen here, for both modes; where the
manifest goes is the target's business: a cluster (``cluster.py``, apply mode)
or a directory / git repository (``gitops.py``). A manifest that fails its
checks is refused before anything leaves (``invalid_manifest``).

Search and discovery read the Agent resources spawngate manages in the
tenant's namespace; retirement and ttl expiry delete them (only the one the
retired decision created); activity is an annotation. An agent's receipt
(``AgentRecord.receipt``) travels in the ``spawngate.dev/receipt`` annotation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from gateway.registry.base import AgentFilter, AgentRecord
from gateway.registry.kagent import validate
from gateway.registry.kagent.manifest import (
    ANNOTATIONS,
    ManifestOptions,
    record_of,
    render,
)
from gateway.registry.kagent.target import Manifest, Target

__all__ = ["KagentRegistry", "Policy"]


class Policy(Protocol):
    """The live policy, as gateway.registry.kagent.allowlist ``PolicyView`` reads it."""

    def revision(self) -> str: ...

    def refusal(self, tenant: str, template: str) -> str | None: ...


class KagentRegistry:
    name = "kagent"

    def __init__(
        self,
        target: Target,
        options: ManifestOptions,
        policy: Policy,
        *,
        tenants: tuple[str, ...] = (),
    ) -> None:
        self._target = target
        self._options = options
        self._policy = policy
        #: Tenants whose namespaces the expiry sweep looks in.
        self._tenants = tenants
        self.lists_every_agent = target.complete

    @property
    def mode(self) -> str:
        return self._target.mode

    def manifest(self, record: AgentRecord) -> Manifest:
        """The checked manifest of ``record``; raises ``InvalidRequest`` (invalid_manifest)."""
        manifest = render(
            record,
            self._options,
            # The record does not carry the revision that decided it: the live one is
            # the same but for a reload between decision and creation (the receipt,
            # signed at the decision, carries the decided one).
            policy_revision=self._policy.revision(),
            receipt=record.receipt,
        )
        validate.check(
            manifest, tenant=record.tenant, template=record.template, allowed=self._policy.refusal
        )
        return manifest

    async def create(self, record: AgentRecord) -> AgentRecord:
        await self._target.create(self.manifest(record))
        return record

    def _own(self, manifest: Manifest | None, tenant: str) -> AgentRecord | None:
        record = record_of(manifest) if manifest is not None else None
        return record if record is not None and record.tenant == tenant else None

    async def get(self, tenant: str, name: str) -> AgentRecord | None:
        found = await self._target.read(self._options.namespace(tenant), name)
        return self._own(found, tenant)

    async def exists(self, tenant: str, name: str) -> bool:
        # Any Agent of that name takes it, spawngate's or not: the namespace is shared.
        return await self._target.read(self._options.namespace(tenant), name) is not None

    async def _all(self, tenant: str) -> list[AgentRecord]:
        found = await self._target.listing(self._options.namespace(tenant), tenant)
        records = [r for r in (self._own(m, tenant) for m in found) if r is not None]
        return sorted(records, key=lambda r: r.name)

    async def search(
        self,
        tenant: str,
        *,
        capability: str | None,
        name_contains: str | None,
        limit: int,
        where: AgentFilter | None = None,
    ) -> list[AgentRecord]:
        records = [
            r
            for r in await self._all(tenant)
            if (capability is None or capability in r.capabilities)
            and (not name_contains or name_contains in r.name)
            and (where is None or where.matches(r))
        ]
        return records[:limit]

    async def abandon(self, record: AgentRecord) -> bool:
        """Delete the Agent only if ``record.decision_id`` created it. Unlike the built-in
        registry there is no tombstone: a create still in flight may land later, and then
        names a failed decision, which the reconciler removes."""
        namespace = self._options.namespace(record.tenant)
        return await self._target.remove(namespace, record.name, record.decision_id)

    async def retire(self, record: AgentRecord) -> bool:
        namespace = self._options.namespace(record.tenant)
        return await self._target.remove(namespace, record.name, record.decision_id)

    async def touch(self, tenant: str, name: str, at: datetime) -> AgentRecord | None:
        current = await self.get(tenant, name)
        if current is None:
            return None
        if current.last_activated_at is not None and current.last_activated_at >= at:
            return current  # activity never moves back
        stamp = {ANNOTATIONS["activity"]: at.astimezone(UTC).isoformat()}
        updated = await self._target.annotate(self._options.namespace(tenant), name, stamp)
        return self._own(updated, tenant)

    async def expiring(self, until: datetime, limit: int) -> list[tuple[str, str]]:
        due: list[tuple[datetime, str, str]] = []
        for tenant in self._tenants:
            for r in await self._all(tenant):
                if r.expires_at is not None and r.expires_at <= until:
                    due.append((r.expires_at, r.tenant, r.name))
        return [(t, n) for _, t, n in sorted(due)[:limit]]

    async def aclose(self) -> None:
        await self._target.aclose()
