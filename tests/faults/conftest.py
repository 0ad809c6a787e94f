"""Fixtures of the fault suite: a real redis-server, real gateway processes, one checker.

Every test gets its own redis-server (so that killing it touches no other
test), its own key prefix and data directory, and the roomy tenant settings so
that quotas never decide the outcome of a fault run.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOMY_CONFIG, write_config
from tests.faults.harness import SOAK, Call, GatewayProcess, run_load
from tests.faults.invariants import (
    builtin_agents,
    check_answers,
    check_log_and_registry,
    export_log,
    verify_log,
)
from tests.support.redis_proc import RedisProcess


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The soak belongs to `make soak` (SPAWNGATE_SOAK=1): deselect it elsewhere, so
    that `make test` neither runs it nor reports it as a skipped test."""
    if SOAK:
        return
    soak = [item for item in items if item.get_closest_marker("soak") is not None]
    if soak:
        config.hook.pytest_deselected(items=soak)
        items[:] = [item for item in items if item.get_closest_marker("soak") is None]


_runs = itertools.count()


@dataclass
class FaultWorld:
    tmp: Path
    redis: RedisProcess
    env: dict[str, str]
    gateways: list[GatewayProcess] = field(default_factory=list)
    #: Agents of an HTTP registry stand-in, when the test uses one (else the built-in registry).
    http_agents: dict[str, Any] | None = None
    #: Set when a report is made: the run's logs and export are then kept for a human.
    keep: bool = False

    @property
    def prefix(self) -> str:
        return self.env["SPAWNGATE_REDIS_PREFIX"]

    async def gateway(self, **extra_env: str) -> GatewayProcess:
        gw = GatewayProcess(
            {**self.env, **extra_env}, self.tmp / f"gateway{len(self.gateways)}.log"
        )
        self.gateways.append(gw)
        gw.start()
        await gw.wait_ready()
        return gw

    def agents(self) -> dict[str, Any]:
        if self.http_agents is not None:
            return {a["name"]: a for a in self.http_agents.values()}
        with self.redis.client() as client:
            return builtin_agents(client, self.prefix)

    async def settle(self, gw: GatewayProcess, tag: str, count: int = 3) -> list[Call]:
        """After the fault: the gateway must serve again; a few creations also drain any spool."""
        assert await gw.wait_redis_ready(), f"gateway not ready after the fault:\n{gw.log_tail()}"
        return await run_load(gw.url, [f"{tag}-after-{i}" for i in range(count)], concurrency=1)

    async def violations(
        self, calls: list[Call], *, transport_errors_ok: bool, require: Iterable[str] = ()
    ) -> list[str]:
        records = await asyncio.to_thread(export_log, self.env, self.tmp / "export.jsonl")
        agents = self.agents()
        # Shown with -s or on failure: how much the run exercised.
        seen = Counter(c.status or c.error for c in calls)
        print(f"{len(calls)} calls {dict(seen)}; {len(records)} records; {len(agents)} agents")
        problems = check_log_and_registry(records, agents, [c.name for c in calls])
        problems += check_answers(calls, records, agents, transport_errors_ok=transport_errors_ok)
        problems += await asyncio.to_thread(verify_log, self.env)
        for name in require:
            call = next(c for c in calls if c.name == name)
            if call.status != 201:
                problems.append(f"after recovery '{name}' got {call.status} {call.body}")
        return problems

    def report(self, problems: list[str]) -> str:
        """A failure message: every violation, then where to look (kept after the test)."""
        self.keep = True
        shown = "\n  ".join(problems[:40])
        more = f"\n  ... and {len(problems) - 40} more" if len(problems) > 40 else ""
        logs = ", ".join(str(self.tmp / f"gateway{i}.log") for i in range(len(self.gateways)))
        return f"{len(problems)} invariant violation(s):\n  {shown}{more}\n(gateway logs: {logs})"


@pytest.fixture
def world() -> Iterator[FaultWorld]:
    # Not pytest's tmp_path: that is pruned by later runs, and a failure's logs must stay.
    tmp_path = Path(tempfile.mkdtemp(prefix="spawngate-fault-"))
    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    env = {
        "REDIS_URL": redis.url,
        "SPAWNGATE_REDIS_PREFIX": f"fault{next(_runs)}",
        "SPAWNGATE_DATA_DIR": str(tmp_path / "data"),
        "SPAWNGATE_CONFIG_FILE": str(write_config(tmp_path, ROOMY_CONFIG)),
        # Faults must show within seconds: short dependency timeouts, no background noise.
        "SPAWNGATE_REDIS_TIMEOUT_SECONDS": "1",
        "SPAWNGATE_POLICY_RELOAD_SECONDS": "0",
        "SPAWNGATE_APPROVAL_SWEEP_SECONDS": "0",
    }
    world = FaultWorld(tmp_path, redis, env)
    try:
        yield world
    finally:
        for gw in world.gateways:
            gw.stop()
        redis.stop()
        if not world.keep:
            shutil.rmtree(tmp_path, ignore_errors=True)
