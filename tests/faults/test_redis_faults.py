"""Redis dies or freezes under load: nothing is created behind a caller's back, nothing is lost."""

from __future__ import annotations

import asyncio

from tests.faults.conftest import FaultWorld
from tests.faults.harness import load_during, scale


async def test_trust_fault_redis_kill_and_restart(world: FaultWorld) -> None:
    """SIGKILL of redis-server mid-load, restarted 1.5 s later from its append-only file."""
    gw = await world.gateway()
    calls = []
    for r in range(scale(3, 10)):

        async def fault() -> None:
            await asyncio.sleep(0.5)
            world.redis.kill()
            await asyncio.sleep(1.5)
            await asyncio.to_thread(world.redis.start)
            await asyncio.sleep(0.5)

        calls += await load_during(gw.url, fault(), f"rk{r}")
    after = await world.settle(gw, "rk")
    problems = await world.violations(
        calls + after, transport_errors_ok=False, require=[c.name for c in after]
    )
    assert not problems, world.report(problems)


async def test_trust_fault_redis_freeze(world: FaultWorld) -> None:
    """SIGSTOP of redis-server for 3 s (beyond the 1 s Redis timeout), then SIGCONT.

    A frozen Redis still applies what it had received when it wakes up: a
    write the gateway gave up on may land anyway.
    """
    gw = await world.gateway()
    calls = []
    for r in range(scale(2, 8)):

        async def fault() -> None:
            await asyncio.sleep(0.5)
            world.redis.freeze()
            try:
                await asyncio.sleep(3.0)
            finally:
                world.redis.thaw()
            await asyncio.sleep(0.5)

        calls += await load_during(gw.url, fault(), f"rf{r}")
    after = await world.settle(gw, "rf")
    problems = await world.violations(
        calls + after, transport_errors_ok=False, require=[c.name for c in after]
    )
    assert not problems, world.report(problems)
