"""The long run (`make soak`): every fault, mixed at random, many rounds, one final check."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.faults.conftest import FaultWorld
from tests.faults.harness import Call, load_during
from tests.faults.test_gateway_kill import SEED

# Deselected (not skipped) outside `make soak`: see tests/faults/conftest.py.
pytestmark = pytest.mark.soak


@pytest.mark.timeout(1800)
async def test_trust_fault_soak_mixed(world: FaultWorld) -> None:
    rng = random.Random(SEED)
    gw = await world.gateway()
    calls: list[Call] = []
    for r in range(40):
        kind = rng.choice(["redis_kill", "redis_freeze", "gateway_kill"])
        delay = rng.uniform(0.2, 1.5)

        async def fault(kind: str = kind, delay: float = delay) -> None:
            await asyncio.sleep(delay)
            if kind == "gateway_kill":
                gw.kill9()
            elif kind == "redis_kill":
                world.redis.kill()
                await asyncio.sleep(rng.uniform(0.5, 2.0))
                await asyncio.to_thread(world.redis.start)
            else:
                world.redis.freeze()
                try:
                    await asyncio.sleep(rng.uniform(1.0, 4.0))
                finally:
                    world.redis.thaw()
            await asyncio.sleep(0.3)

        calls += await load_during(gw.url, fault(), f"s{r}")
        if kind == "gateway_kill":
            gw.start()
            await gw.wait_ready()
    after = await world.settle(gw, "soak")
    problems = await world.violations(
        calls + after, transport_errors_ok=True, require=[c.name for c in after]
    )
    assert not problems, f"seed {SEED}: " + world.report(problems)
