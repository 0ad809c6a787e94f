"""Apply mode through the official client against a stand-in Kubernetes API server
(tests/support/k8s_standin.py: its limits are written at its top)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.errors import Conflict, InvalidRequest, UpstreamFailed
from gateway.policy.snapshot import PolicyHolder
from gateway.registry.base import INDETERMINATE, ROLLED_BACK
from gateway.registry.kagent.build import kagent_registry
from gateway.registry.kagent.registry import KagentRegistry
from gateway.settings import Settings
from tests.registry.kagent.conftest import record_for
from tests.support.k8s_standin import Fault, K8sStandIn, kubeconfig

pytestmark = pytest.mark.asyncio

OTHER = "dec_ffffffffffffffffffffffffffffffff"


@dataclass
class World:
    api: K8sStandIn
    registry: KagentRegistry


@pytest.fixture
async def world(tmp_path: Path, policy: PolicyHolder) -> AsyncIterator[World]:
    api = K8sStandIn()
    server = await api.start()
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig(server))
    settings = Settings(
        data_dir=tmp_path,
        registry="kagent",
        kagent_mode="apply",
        kagent_kubeconfig=path,
        registry_timeout_seconds=0.5,
    )
    registry = kagent_registry(settings, policy, tenants=("acme", "globex"))
    yield World(api, registry)
    await registry.aclose()
    await api.stop()


def calls(api: K8sStandIn) -> list[tuple[str, str]]:
    return [(method, query) for method, _, query, _ in api.requests]


async def test_create_is_dry_run_apply_then_create_with_field_manager(world: World) -> None:
    record = record_for("media-generator")
    assert await world.registry.create(record) == record
    assert calls(world.api) == [
        ("PATCH", "dryRun=All&fieldManager=spawngate&force=false"),
        ("POST", "fieldManager=spawngate"),
    ]
    assert world.api.requests[0][3] == "application/apply-patch+yaml"
    stored = world.api.objects[("acme", "diagram-agent")]
    assert stored["metadata"]["annotations"]["spawngate.dev/decision-id"] == record.decision_id
    assert await world.registry.get("acme", "diagram-agent") == record
    assert await world.registry.exists("acme", "diagram-agent")
    found = await world.registry.search(
        "acme", capability="diagram_generation", name_contains=None, limit=10
    )
    assert found == [record]
    assert await world.registry.get("globex", "diagram-agent") is None


async def test_same_decision_again_is_done_and_another_is_a_conflict(world: World) -> None:
    record = record_for("media-generator")
    await world.registry.create(record)
    assert await world.registry.create(record) == record
    with pytest.raises(Conflict) as caught:
        await world.registry.create(record_for("media-generator", decision=OTHER))
    assert (caught.value.code, caught.value.stage) == ("duplicate_agent", "create")
    stored = world.api.objects[("acme", "diagram-agent")]
    assert stored["metadata"]["annotations"]["spawngate.dev/decision-id"] == record.decision_id


async def test_name_held_by_another_manager_is_a_conflict(world: World) -> None:
    record = record_for("media-generator")
    await world.registry.create(record)
    world.api.objects[("acme", "diagram-agent")]["metadata"]["managers"] = ["kubectl"]
    with pytest.raises(Conflict):
        await world.registry.create(record_for("media-generator", decision=OTHER))
    assert [m for m, _ in calls(world.api)][-2:] == ["PATCH", "GET"]


async def test_server_422_is_an_invalid_manifest(world: World) -> None:
    world.api.faults[("PATCH", True)] = Fault(status=422)
    with pytest.raises(InvalidRequest) as caught:
        await world.registry.create(record_for("default"))
    assert (caught.value.code, caught.value.stage) == ("invalid_manifest", "create")
    assert world.api.objects == {}


@pytest.mark.parametrize("status", [403, 404, 500])
async def test_refused_dry_run_creates_nothing(world: World, status: int) -> None:
    world.api.faults[("PATCH", True)] = Fault(status=status)
    with pytest.raises(UpstreamFailed) as caught:
        await world.registry.create(record_for("default"))
    assert caught.value.reason == f"the cluster refused the agent (HTTP {status})"
    assert [m for m, _ in calls(world.api)] == ["PATCH"]
    assert world.api.objects == {}


async def test_create_answering_5xx_without_creating_is_rolled_back(world: World) -> None:
    world.api.faults[("POST", False)] = Fault(status=503)
    with pytest.raises(UpstreamFailed) as caught:
        await world.registry.create(record_for("default"))
    assert caught.value.code == ROLLED_BACK
    assert world.api.objects == {}


async def test_create_answering_5xx_after_creating_is_confirmed_by_a_read(world: World) -> None:
    world.api.faults[("POST", False)] = Fault(after=True)
    record = record_for("default")
    assert await world.registry.create(record) == record
    assert [m for m, _ in calls(world.api)] == ["PATCH", "POST", "GET"]


async def test_lost_answer_and_failed_read_is_indeterminate(world: World) -> None:
    world.api.faults[("POST", False)] = Fault(status=500)
    world.api.faults[("GET", False)] = Fault(status=500)
    with pytest.raises(UpstreamFailed) as caught:
        await world.registry.create(record_for("default"))
    assert caught.value.code == INDETERMINATE


async def test_timed_out_create_landing_late_is_taken_back_by_abandon(world: World) -> None:
    # The stand-in creates the agent only after the client gave up (0.5 s timeout).
    world.api.faults[("POST", False)] = Fault(delay=1.5)
    record = record_for("default")
    with pytest.raises(UpstreamFailed) as caught:
        await world.registry.create(record)
    assert caught.value.code == ROLLED_BACK
    for _ in range(100):
        if world.api.objects:
            break
        await asyncio.sleep(0.05)
    # The late agent names the failed decision: abandon (the reconciler's step) removes it.
    assert await world.registry.abandon(record) is True
    assert world.api.objects == {}


async def test_unreachable_cluster_fails_closed(world: World) -> None:
    await world.api.stop()
    with pytest.raises(UpstreamFailed) as caught:
        await world.registry.create(record_for("default"))
    assert caught.value.reason == "the cluster is unreachable"


async def test_listing_pages_through_every_agent(world: World) -> None:
    names = ["agent-a", "agent-b", "agent-c"]
    for i, name in enumerate(names):
        await world.registry.create(record_for("default", name=name, decision=f"dec_{i:032d}"))
    found = await world.registry.search("acme", capability=None, name_contains=None, limit=100)
    assert [r.name for r in found] == names  # three agents, two pages of at most two
    assert world.registry.lists_every_agent


async def test_retire_deletes_only_the_agent_of_that_decision(world: World) -> None:
    record = record_for("default")
    await world.registry.create(record)
    assert await world.registry.retire(record_for("default", decision=OTHER)) is False
    assert await world.registry.retire(record) is True
    assert world.api.objects == {}
    assert await world.registry.retire(record) is False


async def test_touch_and_ttl_expiry(world: World) -> None:
    record = record_for("default", ttl=60)
    await world.registry.create(record)
    at = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
    touched = await world.registry.touch("acme", record.name, at)
    assert touched is not None and touched.last_activated_at == at
    earlier = await world.registry.touch("acme", record.name, datetime(2026, 1, 1, tzinfo=UTC))
    assert earlier is not None and earlier.last_activated_at == at
    assert await world.registry.touch("acme", "nobody", at) is None
    assert record.expires_at is not None
    assert await world.registry.expiring(record.expires_at, 10) == [("acme", record.name)]
    assert await world.registry.expiring(at, 10) == []
