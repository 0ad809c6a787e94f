"""Who is calling: bearer API keys mapped to principals.

The tenant of a request always comes from here, never from the request body.
Two kinds of key exist:

* static principals from the operator configuration (orchestrators, human
  approvers and auditors), stored as SHA-256 hashes in the config file;
* keys the gateway issued to agents it created, which may themselves create
  agents. Those live in Redis (shared by every replica) with the agent's
  lineage: its parent, its root orchestrator and its depth.

Keys are random 256-bit tokens, so a plain SHA-256 is a sound way to store
them: there is nothing to brute-force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import secrets

from pydantic import BaseModel, ConfigDict

from gateway.config import GatewayConfig, PrincipalKind
from gateway.errors import AuthenticationFailed
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["SPAWNED_AGENT_SUBJECT", "Authenticator", "Principal", "hash_key", "new_api_key"]

#: The Casbin subject of agents created through the gateway: they hold no
#: per-agent lines in ``policies/casbin/policy.csv`` (those are reviewed in git),
#: so they act under this role in their own tenant.
SPAWNED_AGENT_SUBJECT = "role:spawned-agent"
KEY_PREFIX = "sg_"


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    tenant: str
    kind: PrincipalKind
    tools: tuple[str, ...]
    #: The subject Casbin checks: the principal id, or the spawned-agent role.
    subject: str
    #: Lineage. A static orchestrator is its own root at depth 0.
    parent: str | None = None
    root: str
    depth: int = 0


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _bearer(header: str | None) -> str:
    if not header:
        raise AuthenticationFailed(
            "missing credentials: send 'Authorization: Bearer <api key>'", stage="authenticate"
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed(
            "malformed Authorization header: expected 'Bearer <api key>'", stage="authenticate"
        )
    return token


class Authenticator:
    def __init__(self, config: GatewayConfig, store: RedisStore) -> None:
        self._store = store
        self._static: dict[str, Principal] = {
            p.api_key_sha256: Principal(
                id=p.id,
                tenant=p.tenant,
                kind=p.kind,
                tools=tuple(sorted(p.tools)),
                subject=p.id,
                root=p.id,
            )
            for p in config.principals
        }
        self._by_id: dict[str, Principal] = {p.id: p for p in self._static.values()}

    def _issued_key(self, digest: str) -> str:
        return self._store.keys.principal(digest)

    async def authenticate(self, authorization: str | None) -> Principal:
        digest = hash_key(_bearer(authorization))
        found = self._static.get(digest)
        if found is not None:
            return found
        async with redis_errors(stage="authenticate"):
            raw = await self._store.client.get(self._issued_key(digest))
        if raw is None:
            raise AuthenticationFailed("unknown API key", stage="authenticate")
        return Principal.model_validate_json(raw)

    async def current(self, principal: Principal) -> Principal:
        """The principal as it is now: a configured one with its current tools.

        Raises ``AuthenticationFailed`` if it no longer exists in the configuration.
        Agents the gateway created keep the tools they were granted.
        """
        if principal.subject != SPAWNED_AGENT_SUBJECT:
            found = self._by_id.get(principal.id)
            if found is None:
                raise AuthenticationFailed(
                    f"principal '{principal.id}' no longer exists", stage="authenticate"
                )
            return found
        return principal

    async def issue(self, principal: Principal) -> str:
        """Create and store a key for an agent the gateway created; return it once."""
        key = new_api_key()
        async with redis_errors(stage="create"):
            await self._store.client.set(
                self._issued_key(hash_key(key)), principal.model_dump_json()
            )
        return key

    @staticmethod
    def spawned(
        *, agent_id: str, tenant: str, tools: tuple[str, ...], parent: Principal
    ) -> Principal:
        return Principal(
            id=agent_id,
            tenant=tenant,
            kind=PrincipalKind.AGENT,
            tools=tuple(sorted(tools)),
            subject=SPAWNED_AGENT_SUBJECT,
            parent=parent.id,
            root=parent.root,
            depth=parent.depth + 1,
        )
