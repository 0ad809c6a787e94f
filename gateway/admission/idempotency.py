"""``Idempotency-Key``: a retried request returns its first outcome, never a second agent.

The first request with a key claims it atomically (``SET NX``) as *pending*;
its final answer replaces the claim. A retry with the same key and the same
body gets the stored answer; with a different body it is refused (the key is
being reused for another request); while the first is still in flight it gets
a 409 and should retry shortly. Answers that invite a retry (429 and 5xx) are
not stored: the claim is dropped so the retry is decided afresh.

An answer that carried a new agent's API key is stored without it: a key is
handed out once, and Redis never holds it in plaintext. A retry gets the same
answer with ``agent_api_key_delivered: true`` instead of the key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from gateway.errors import Conflict, InvalidRequest
from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["IdempotencyStore", "StoredAnswer", "body_fingerprint"]

_KEY_PATTERN_MAX = 200


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]
    headers: dict[str, str]


def body_fingerprint(kind: str, body: object) -> str:
    canonical = json.dumps([kind, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str) -> str:
    if not key or len(key) > _KEY_PATTERN_MAX or not key.isprintable():
        raise InvalidRequest(
            "Idempotency-Key must be 1-200 printable characters",
            code="invalid_idempotency_key",
            stage="authenticate",
        )
    return key


def _without_key(body: dict[str, Any]) -> dict[str, Any]:
    if "agent_api_key" not in body:
        return body
    stored = {k: v for k, v in body.items() if k != "agent_api_key"}
    stored["agent_api_key_delivered"] = True
    return stored


class IdempotencyStore:
    def __init__(self, store: RedisStore, *, ttl_seconds: int) -> None:
        self._store = store
        self._ttl = ttl_seconds

    def _key(self, tenant: str, principal: str, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self._store.keys.idempotency(tenant, principal, digest)

    async def claim(
        self, tenant: str, principal: str, key: str, fingerprint: str
    ) -> StoredAnswer | None:
        """Claim the key; return None if claimed, or the stored answer of the first request."""
        redis_key = self._key(tenant, principal, validate_key(key))
        pending = json.dumps({"state": "pending", "fingerprint": fingerprint})
        async with redis_errors(stage="authenticate"):
            claimed = await self._store.client.set(redis_key, pending, nx=True, ex=self._ttl)
            if claimed:
                return None
            raw = await self._store.client.get(redis_key)
        if raw is None:  # expired between the two calls: treat as a fresh claim next time
            raise Conflict(
                "the earlier request with this Idempotency-Key just expired; retry",
                code="idempotency_retry",
                stage="authenticate",
            )
        stored = json.loads(raw)
        if stored.get("fingerprint") != fingerprint:
            raise InvalidRequest(
                "this Idempotency-Key was already used for a different request body",
                code="idempotency_key_reused",
                stage="authenticate",
            )
        if stored.get("state") == "pending":
            raise Conflict(
                "a request with this Idempotency-Key is still being decided; retry shortly",
                code="idempotency_in_progress",
                stage="authenticate",
            )
        return StoredAnswer(
            status_code=int(stored["status_code"]),
            body=stored["body"],
            headers=dict(stored.get("headers", {})),
        )

    async def complete(
        self, tenant: str, principal: str, key: str, fingerprint: str, answer: StoredAnswer
    ) -> None:
        redis_key = self._key(tenant, principal, key)
        async with redis_errors():
            if answer.status_code == 429 or answer.status_code >= 500:
                await self._store.client.delete(redis_key)
                return
            await self._store.client.set(
                redis_key,
                json.dumps(
                    {
                        "state": "done",
                        "fingerprint": fingerprint,
                        "status_code": answer.status_code,
                        "body": _without_key(answer.body),
                        "headers": answer.headers,
                    }
                ),
                ex=self._ttl,
            )
