"""Tenant settings changed at run time (the web console), kept in Redis.

The configuration file stays the base that git reviews; this is a layer over it,
one JSON object of partial settings per tenant (``Keys.settings_overrides``), that
every replica applies (``GatewayConfig.apply_overrides``) at start and on the
policy-reload cadence. Exported as a YAML patch, it can be moved into git and
cleared.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.storage.redis import RedisStore, redis_errors

__all__ = ["SettingsOverrides"]


class SettingsOverrides:
    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._key = store.keys.settings_overrides()

    async def load(self) -> dict[str, dict[str, Any]]:
        """Every tenant's override (tenant -> partial settings)."""
        async with redis_errors():
            raw = await self._store.client.hgetall(self._key)
        out: dict[str, dict[str, Any]] = {}
        for tenant, text in raw.items():
            value = json.loads(text)
            if isinstance(value, dict):
                out[str(tenant)] = value
        return out

    async def save(self, tenant: str, patch: dict[str, Any]) -> None:
        """Replace the tenant's override; an empty one removes it."""
        async with redis_errors():
            if patch:
                await self._store.client.hset(self._key, tenant, json.dumps(patch, sort_keys=True))
            else:
                await self._store.client.hdel(self._key, tenant)
