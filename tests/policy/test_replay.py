"""Replay: recorded decisions re-decided under a candidate revision."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.audit.log import AuditRecord, RecordType
from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.files import load_policy_files
from gateway.policy.tooling.replay import PARALLEL_FROM, Candidate, recorded_verdict, replay
from gateway.runtime import Gateway
from gateway.settings import PROJECT_ROOT, Settings
from tests.conftest import bearer, client_for
from tests.support.narrow import num, obj
from tests.support.policy_copies import candidate_with_ceiling


def candidate(tmp_path: Path, ceiling: int) -> Path:
    return candidate_with_ceiling(tmp_path, ceiling)


def engine_for(policies: Path) -> EmbeddedEngine:
    return EmbeddedEngine(load_policy_files(policies))


@pytest.fixture
async def real_record(gateway: Gateway) -> AuditRecord:
    """One genuine decision record, as the gateway writes it."""
    async with client_for(gateway) as c:
        r = await c.post(
            "/v1/create_agent",
            json={"name": "seed-agent", "role": "summarises"},
            headers=bearer("orchestrator"),
        )
        assert r.status_code == 201
    return next(r for r in await gateway.audit.read() if r.type is RecordType.DECISION)


def clone(
    record: AuditRecord, i: int, cost: float, *, policy_status: str, danger: bool = True
) -> AuditRecord:
    assert record.policy_input is not None
    document: dict[str, Any] = json.loads(json.dumps(record.policy_input))
    document["request"]["name"] = f"agent-{i}"
    document["effective"]["estimated_cost_per_day"] = cost
    if not danger:
        document.pop("danger", None)
    stages = [
        {"stage": "policy", "status": policy_status, "reasons": [], "duration_ms": 0, "facts": {}},
        {
            "stage": "danger",
            "status": "pass" if danger else "skipped",
            "reasons": [],
            "duration_ms": 0,
            "facts": {},
        },
    ]
    return record.model_copy(
        update={
            "decision_id": f"dec_{i:05d}",
            "policy_input": document,
            "result": {**record.result, "stages": stages},
        }
    )


def live_status(cost: float) -> str:
    # What the shipped policies decide for a clean request at this cost.
    if cost > 100:
        return "deny"
    return "review" if cost > 10 else "pass"


@pytest.fixture
def log(real_record: AuditRecord) -> list[AuditRecord]:
    costs = [float(1 + i % 20) for i in range(10_000)]
    return [
        clone(real_record, i, cost, policy_status=live_status(cost)) for i, cost in enumerate(costs)
    ]


async def test_replaying_under_the_live_policy_changes_nothing(log: list[AuditRecord]) -> None:
    report = await replay(log[:400], engine_for(PROJECT_ROOT / "policies"))
    assert report.replayed == 400 and report.changes == {}


async def test_known_edit_over_ten_thousand_decisions(
    tmp_path: Path, log: list[AuditRecord]
) -> None:
    # Lowering the ceiling from 100 to 15 turns every reviewed request costing 16-20 into a denial.
    expected = sum(
        1
        for r in log
        if r.policy_input and num(obj(r.policy_input["effective"])["estimated_cost_per_day"]) > 15
    )
    report = await replay(log, engine_for(candidate(tmp_path, 15)))
    assert report.records == report.replayed == 10_000
    assert report.changes == {"review -> deny": expected} and expected == 2_500
    assert report.unchanged == 7_500 and report.rescored == 0
    assert all(
        recorded_verdict(r) == "review"
        for r in log
        if r.decision_id in report.examples["review -> deny"]
    )
    assert report.records_per_second > 0


async def test_worker_processes_give_the_same_report_in_the_same_order(
    tmp_path: Path, log: list[AuditRecord], real_record: AuditRecord
) -> None:
    policies = candidate(tmp_path, 15)
    # Some without a danger score, so the workers' own analyzers score them too.
    records = log[:PARALLEL_FROM] + [
        clone(real_record, 20_000 + i, 5.0, policy_status="deny", danger=False) for i in range(5)
    ]
    alone = await replay(records, engine_for(policies))
    spread = await replay(
        records,
        engine_for(policies),
        jobs=2,
        candidate=Candidate(policies, PROJECT_ROOT / "templates"),
    )
    assert alone.changes == {"deny -> allow": 5, "review -> deny": PARALLEL_FROM // 4}
    assert alone.rescored == 5
    fields = ("records", "replayed", "skipped", "rescored", "unchanged", "changes", "examples")
    assert [getattr(spread, f) for f in fields] == [getattr(alone, f) for f in fields]
    with pytest.raises(ValueError, match="candidate"):
        await replay(records, engine_for(policies), jobs=2)


async def test_raising_a_limit_rescores_what_policy_used_to_deny(
    tmp_path: Path, real_record: AuditRecord
) -> None:
    denied = [clone(real_record, i, 150.0, policy_status="deny", danger=False) for i in range(5)]
    report = await replay(denied, engine_for(candidate(tmp_path, 200)))
    # Now within the ceiling but above the tenant's limit: a human decides.
    assert report.changes == {"deny -> review": 5} and report.rescored == 5


async def test_tenant_and_time_filters(tmp_path: Path, log: list[AuditRecord]) -> None:
    report = await replay(log[:50], engine_for(candidate(tmp_path, 15)), tenant="globex")
    assert report.records == 0
    future = "2999-01-01T00:00:00"
    assert (await replay(log[:50], engine_for(candidate(tmp_path, 15)), since=future)).records == 0


async def test_cli_replays_the_redis_log_as_json(
    tmp_path: Path, gateway: Gateway, redis_url: str, settings: Settings
) -> None:
    async with client_for(gateway) as c:
        for i, cost in enumerate([5, 12, 18]):
            body = {"name": f"cost-{i}", "estimated_cost_per_day": cost}
            await c.post("/v1/create_agent", json=body, headers=bearer("orchestrator"))
    env = {**os.environ, "REDIS_URL": redis_url, "SPAWNGATE_REDIS_PREFIX": settings.redis_prefix}
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "gateway",
            "policy",
            "replay",
            "--policies",
            str(candidate(tmp_path, 15)),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["replayed"] == 3 and report["changes"] == {"review -> deny": 1}
    assert report["recorded_revisions"] == [gateway.policy.current.revision]


def test_cli_refuses_a_broken_candidate(tmp_path: Path) -> None:
    broken = candidate(tmp_path, 15)
    (broken / "spawngate" / "cost" / "cost.rego").write_text(
        "package spawngate.cost\nbroken if {\n"
    )
    records = tmp_path / "records.jsonl"
    records.write_text("")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "policy",
            "replay",
            "--policies",
            str(broken),
            "--records",
            str(records),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2 and "spawngate/cost/cost.rego" in result.stderr
