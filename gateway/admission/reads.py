"""The read side beside admission: decisions for auditors, agents for callers.

Each read is authorised by the same Casbin model as admission (per tenant:
an auditor of its own tenant, or a role granted in every tenant, "*").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.audit.log import AuditLog
from gateway.audit.query import parse_cursor
from gateway.errors import NotFound, PermissionDenied
from gateway.identity.authenticator import Authenticator, Principal
from gateway.notifications.letters import DeadLetter, dead_letters
from gateway.policy.casbin import Action, Obj
from gateway.policy.snapshot import PolicyHolder
from gateway.registry.base import AgentFilter, AgentRecord, Registry, is_active
from gateway.registry.discovery import COVER_SCAN_LIMIT, allowed_templates_offering, suggestion
from gateway.storage.redis import RedisStore

__all__ = ["Reads"]


class Reads:
    def __init__(
        self,
        *,
        authenticator: Authenticator,
        policy: PolicyHolder,
        audit: AuditLog,
        registry: Registry,
        store: RedisStore,
    ) -> None:
        self._store = store
        self._auth = authenticator
        self._policy = policy
        self._audit = audit
        self._registry = registry

    async def authenticate(self, authorization: str | None) -> Principal:
        return await self._auth.authenticate(authorization)

    async def decisions(
        self,
        principal: Principal,
        *,
        tenant: str | None = None,
        creator: str | None,
        verdict: str | None,
        decision_id: str | None,
        since: str | None,
        until: str | None,
        limit: int,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Decision-log records of one tenant (the caller's by default), newest first,
        one bounded page at a time: the records and the cursor of the next page
        (None at the start of the log)."""
        tenant = tenant or principal.tenant
        allowed = self._policy.current.authorizer.check(
            principal.subject, tenant, Obj.DECISION, Action.READ
        )
        if not allowed.allowed:
            raise PermissionDenied(
                f"'{principal.id}' may not read decisions in tenant '{tenant}'",
                code="not_an_auditor",
            )
        selected, next_cursor = await self._audit.newest(
            after=parse_cursor(cursor) if cursor is not None else None,
            limit=limit,
            tenant=tenant,
            creator=creator,
            verdict=verdict,
            decision_id=decision_id,
            since=since,
            until=until,
        )
        return [record.as_json() for record in selected], next_cursor

    async def dead_letters(
        self, principal: Principal, *, tenant: str | None, limit: int
    ) -> list[DeadLetter]:
        """Webhook deliveries given up after every retry, of one tenant (admins)."""
        tenant = tenant or principal.tenant
        allowed = self._policy.current.authorizer.check(
            principal.subject, tenant, Obj.NOTIFICATION, Action.READ
        )
        if not allowed.allowed:
            raise PermissionDenied(
                f"'{principal.id}' may not read notification dead letters in tenant '{tenant}'",
                code="not_an_admin",
            )
        return await dead_letters(self._store, tenant=tenant, limit=limit)

    async def get_agent(self, principal: Principal, name: str) -> AgentRecord:
        record = await self._registry.get(principal.tenant, name)
        if record is None:
            raise NotFound(f"no agent '{name}' in tenant '{principal.tenant}'")
        return record

    async def search_agents(
        self, principal: Principal, *, capability: str | None, name: str | None, limit: int
    ) -> list[AgentRecord]:
        return await self._registry.search(
            principal.tenant, capability=capability, name_contains=name, limit=limit
        )

    async def discover(
        self,
        principal: Principal,
        *,
        capability: str | None,
        where: AgentFilter,
        limit: int,
    ) -> tuple[list[AgentRecord], str]:
        """Active agents of the caller's tenant that match, and what to do next
        (gateway.registry.discovery). Casbin decides who may search (agent/read)."""
        allowed = self._policy.current.authorizer.check(
            principal.subject, principal.tenant, Obj.AGENT, Action.READ
        )
        if not allowed.allowed:
            raise PermissionDenied(
                f"'{principal.id}' may not search agents in tenant '{principal.tenant}'",
                code="not_authorized",
            )
        now = datetime.now(UTC)
        found = await self._registry.search(
            principal.tenant,
            capability=capability,
            name_contains=None,
            limit=COVER_SCAN_LIMIT,
            where=where,
        )
        agents = [a for a in found if is_active(a, now)][:limit]
        templates: list[str] = []
        if not agents and capability:
            snapshot = self._policy.current
            templates = allowed_templates_offering(
                snapshot.catalog, snapshot.data, principal.tenant, capability
            )
        return agents, suggestion(agents, capability, templates)
