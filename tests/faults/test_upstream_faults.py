"""A registry or policy engine that answers late, wrongly or not at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.settings import PROJECT_ROOT
from tests.faults.conftest import FaultWorld
from tests.faults.harness import FaultyRegistry, run_load, scale
from tests.support.opa_standin import OpaStandIn


@pytest.fixture
async def registry() -> AsyncIterator[FaultyRegistry]:
    standin = FaultyRegistry()
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
async def opa() -> AsyncIterator[OpaStandIn]:
    standin = OpaStandIn(PROJECT_ROOT / "policies")
    await standin.start()
    yield standin
    await standin.stop()


def _registry_env(url: str) -> dict[str, str]:
    return {
        "SPAWNGATE_REGISTRY": "http",
        "SPAWNGATE_REGISTRY_URL": url,
        "SPAWNGATE_REGISTRY_TIMEOUT_SECONDS": "1",
    }


#: A registry that answers after the gateway's 1 s timeout (2 s; registering before or after
#: that answer), or answers 200 with a non-JSON body (having registered or not).
REGISTRY_FAULTS = ("slow", "slow-after", "garbage", "garbage-stored")
#: `{}`, `{"result": {}}`, `{"result": null}`, non-JSON, too late (5 s > 1 s), HTTP 500.
OPA_FAULTS = ("undefined", "empty-result", "null-result", "not-json", "html", "slow", "error")


async def test_trust_fault_registry_slow_or_garbage(
    world: FaultWorld, registry: FaultyRegistry
) -> None:
    """Whatever the registry does, the caller's answer, the log and the registry agree."""
    world.http_agents = registry.agents
    gw = await world.gateway(**_registry_env(registry.url))
    calls = []
    for mode in REGISTRY_FAULTS:
        registry.mode = mode
        calls += await run_load(gw.url, [f"reg-{mode}-{i}" for i in range(scale(4, 40))])
    # Let late registrations land before looking at the registry.
    registry.mode = "ok"
    await asyncio.sleep(registry.delay + 0.5)
    after = await world.settle(gw, "reg")
    problems = await world.violations(
        calls + after, transport_errors_ok=False, require=[c.name for c in after]
    )
    assert not problems, world.report(problems)


async def test_trust_fault_opa_bad_answers_deny(world: FaultWorld, opa: OpaStandIn) -> None:
    """Every caller gets a 503 that names the policy engine (not its address), nothing is
    created, and each attempt is in the log."""
    gw = await world.gateway(
        SPAWNGATE_POLICY_ENGINE="opa",
        SPAWNGATE_OPA_URL=f"http://127.0.0.1:{opa.port}",
        SPAWNGATE_OPA_TIMEOUT_SECONDS="1",
    )
    calls = []
    problems = []
    address = f"127.0.0.1:{opa.port}"
    for mode in OPA_FAULTS:
        opa.mode = mode
        faulty = await run_load(gw.url, [f"opa-{mode}-{i}" for i in range(scale(3, 20))])
        calls += faulty
        for call in faulty:
            text = str(call.body)
            error = (call.body or {}).get("error", call.body)
            if call.status != 503:
                problems.append(
                    f"'{call.name}': OPA {mode} answered {call.status}, not 503: {error}"
                )
            if "policy engine" not in text:
                problems.append(f"'{call.name}': error does not name the policy engine: {error}")
            if address in text or str(opa.port) in text:
                problems.append(f"'{call.name}': error leaks the policy engine's address: {error}")
    opa.mode = "ok"
    after = await world.settle(gw, "opa")
    problems += await world.violations(
        calls + after, transport_errors_ok=False, require=[c.name for c in after]
    )
    assert not problems, world.report(problems)
