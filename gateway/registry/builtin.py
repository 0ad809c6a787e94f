"""The built-in registry: agents kept in Redis, so the embedded default needs nothing else."""

from __future__ import annotations

from gateway.errors import Conflict
from gateway.registry.base import AgentRecord
from gateway.store import RedisStore, redis_errors

__all__ = ["BuiltinRegistry"]

# KEYS: record key, names index, capability index keys...
# ARGV: record json, name, capabilities...
# Register only if the name is free, and index it in the same atomic step, so
# that of N concurrent requests for one name exactly one is created.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[2])
end
return 1
"""


class BuiltinRegistry:
    name = "builtin"

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._create = store.client.register_script(_CREATE)

    def _agent_key(self, tenant: str, name: str) -> str:
        return self._store.key("reg", tenant, "agent", name)

    def _names_key(self, tenant: str) -> str:
        return self._store.key("reg", tenant, "names")

    def _cap_key(self, tenant: str, capability: str) -> str:
        return self._store.key("reg", tenant, "cap", capability)

    async def create(self, record: AgentRecord) -> AgentRecord:
        keys = [
            self._agent_key(record.tenant, record.name),
            self._names_key(record.tenant),
            *(self._cap_key(record.tenant, c) for c in record.capabilities),
        ]
        async with redis_errors(stage="create"):
            created = await self._create(
                keys=keys, args=[record.model_dump_json(), record.name, *record.capabilities]
            )
        if int(created) != 1:
            raise Conflict(
                f"an agent named '{record.name}' already exists in tenant '{record.tenant}'",
                code="duplicate_agent",
                stage="create",
            )
        return record

    async def get(self, tenant: str, name: str) -> AgentRecord | None:
        async with redis_errors():
            raw = await self._store.client.get(self._agent_key(tenant, name))
        return None if raw is None else AgentRecord.model_validate_json(raw)

    async def exists(self, tenant: str, name: str) -> bool:
        async with redis_errors():
            return bool(await self._store.client.exists(self._agent_key(tenant, name)))

    async def search(
        self, tenant: str, *, capability: str | None, name_contains: str | None, limit: int
    ) -> list[AgentRecord]:
        index = self._cap_key(tenant, capability) if capability else self._names_key(tenant)
        async with redis_errors():
            names = sorted(str(n) for n in await self._store.client.smembers(index))
            if name_contains:
                names = [n for n in names if name_contains in n]
            names = names[:limit]
            if not names:
                return []
            raws = await self._store.client.mget([self._agent_key(tenant, n) for n in names])
        return [AgentRecord.model_validate_json(r) for r in raws if r is not None]

    async def aclose(self) -> None:
        return None
