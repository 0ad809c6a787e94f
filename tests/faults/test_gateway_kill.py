"""kill -9 of the gateway at random points under load, then restart."""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from tests.faults.conftest import FaultWorld
from tests.faults.harness import Call, GatewayProcess, cli, load_during, scale
from tests.faults.invariants import quota_leaks

#: Printed on failure so a run can be repeated: SPAWNGATE_FAULT_SEED=<n>.
SEED = int(os.environ.get("SPAWNGATE_FAULT_SEED", random.randrange(1_000_000)))


async def crash_rounds(world: FaultWorld, gw: GatewayProcess, rounds: int, tag: str) -> list[Call]:
    rng = random.Random(SEED)
    calls: list[Call] = []
    for r in range(rounds):

        async def fault(delay: float = rng.uniform(0.2, 1.2)) -> None:
            await asyncio.sleep(delay)
            gw.kill9()

        calls += await load_during(gw.url, fault(), f"{tag}{r}")
        gw.start()
        await gw.wait_ready()
    return calls


async def test_trust_fault_gateway_kill9_under_load(world: FaultWorld) -> None:
    gw = await world.gateway()
    calls = await crash_rounds(world, gw, scale(3, 20), "gk")
    after = await world.settle(gw, "gk")
    problems = await world.violations(
        calls + after, transport_errors_ok=True, require=[c.name for c in after]
    )
    assert not problems, f"seed {SEED}: " + world.report(problems)


async def test_trust_fault_gateway_kill9_no_leaked_quota_after_reconcile(
    world: FaultWorld,
) -> None:
    """After crashes, `spawngate reconcile` brings every counter back to the agents that exist."""
    # A reservation counts as in flight for this long; the crashed ones must age out first.
    lease = 3.0
    world.env["SPAWNGATE_RECONCILE_LEASE_SECONDS"] = str(lease)
    gw = await world.gateway()
    await crash_rounds(world, gw, scale(3, 20), "gq")
    await world.settle(gw, "gq")
    await asyncio.sleep(lease + 1)
    reconciled = await asyncio.to_thread(cli, world.env, "reconcile")
    output = reconciled.stdout + reconciled.stderr
    if "No such command" in output:
        pytest.fail("`spawngate reconcile` does not exist (issue 9 item 5): quota leaks unchecked")
    # Exit 1 means orphans were reported: the invariants of the other tests judge those.
    assert reconciled.returncode in (0, 1), output
    with world.redis.client() as client:
        problems = quota_leaks(client, world.prefix, world.agents())
    assert not problems, f"seed {SEED}: " + world.report([*problems, f"reconcile said: {output}"])
