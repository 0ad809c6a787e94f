"""Console sessions: an API key exchanged once for a cookie, kept server-side in Redis.

The cookie holds a random token; Redis holds, under the token's SHA-256
(``Keys.console_session``), the principal the key authenticated as and the
session's CSRF token, with an expiry. The API key itself is never stored. Each
request checks again that a configured principal still exists; what it may do
is decided by Casbin on every call (the services), never remembered here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from gateway.config import GatewayConfig
from gateway.identity.authenticator import SPAWNED_AGENT_SUBJECT, Principal
from gateway.storage.redis import RedisStore, redis_errors

__all__ = [
    "COOKIE",
    "CSRF_COOKIE",
    "Session",
    "SessionStore",
    "new_token",
    "same_token",
]

#: The session cookie (HttpOnly, SameSite=Strict, Secure over TLS).
COOKIE = "sg_console"
#: The sign-in form's CSRF token before a session exists (double-submit cookie).
CSRF_COOKIE = "sg_console_csrf"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; a missing token never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class _Stored(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    principal: Principal
    csrf: str


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    principal: Principal
    csrf: str


class SessionStore:
    def __init__(self, store: RedisStore, config: GatewayConfig, *, seconds: int) -> None:
        self._store = store
        self._config = config
        #: ``Settings.console_session_seconds``: Redis forgets the session then.
        self.seconds = seconds

    def _key(self, token: str) -> str:
        return self._store.keys.console_session(hashlib.sha256(token.encode()).hexdigest())

    async def create(self, principal: Principal) -> Session:
        session = Session(token=new_token(), principal=principal, csrf=new_token())
        stored = _Stored(principal=principal, csrf=session.csrf)
        async with redis_errors():
            await self._store.client.set(
                self._key(session.token), stored.model_dump_json(), ex=self.seconds
            )
        return session

    async def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        async with redis_errors():
            raw = await self._store.client.get(self._key(token))
        if raw is None:
            return None
        stored = _Stored.model_validate_json(raw)
        if not self._still_configured(stored.principal):
            await self.delete(token)
            return None
        return Session(token=token, principal=stored.principal, csrf=stored.csrf)

    async def delete(self, token: str) -> None:
        async with redis_errors():
            await self._store.client.delete(self._key(token))

    def _still_configured(self, principal: Principal) -> bool:
        # A principal removed from the configuration loses its console session too.
        if principal.subject == SPAWNED_AGENT_SUBJECT:
            return True
        return any(p.id == principal.id for p in self._config.principals)
