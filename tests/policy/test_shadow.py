"""Shadow mode: a candidate revision decided beside the live one, never enforced."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from gateway.audit.log import RecordType
from gateway.runtime import Gateway
from tests.conftest import MakeSettings, bearer, client_for
from tests.support.policy_copies import candidate_with_ceiling


def candidate(tmp_path: Path, ceiling: int) -> Path:
    return candidate_with_ceiling(tmp_path, ceiling)


async def test_shadow_differences_are_recorded_and_never_enforced(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    gw = Gateway.build(make_settings(shadow_policies_dir=candidate(tmp_path, 15)))
    try:
        assert gw.policy.shadow is not None
        async with client_for(gw) as c:
            cheap = await c.post(
                "/v1/create_agent",
                json={"name": "cheap", "estimated_cost_per_day": 5},
                headers=bearer("orchestrator"),
            )
            costly = await c.post(
                "/v1/create_agent",
                json={"name": "costly", "estimated_cost_per_day": 20},
                headers=bearer("orchestrator"),
            )
            health = (await c.get("/healthz")).json()
        # Live decides: allowed, and queued for a human; the shadow's deny is not enforced.
        assert cheap.status_code == 201 and costly.status_code == 202
        assert (
            health["shadow_revision"] == gw.policy.shadow.revision
            and health["shadow_error"] is None
        )
        records = {
            r.input["name"]: r for r in await gw.audit.read() if r.type is RecordType.DECISION
        }
        assert records["cheap"].shadow is None
        assert records["costly"].shadow == {
            "revision": gw.policy.shadow.revision,
            "verdict": "deny",
            "live_verdict": "review",
            "rules": ["SG-APPROVAL-004", "SG-COST-001"],
            "danger_scored": False,
        }
    finally:
        await gw.stop()


async def test_broken_shadow_is_switched_off_not_fatal(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    broken = candidate(tmp_path, 15)
    (broken / "spawngate" / "cost" / "cost.rego").write_text(
        "package spawngate.cost\nbroken if {\n"
    )
    gw = Gateway.build(make_settings(shadow_policies_dir=broken))
    try:
        assert gw.policy.shadow is None and "cost.rego" in (gw.policy.shadow_error or "")
        async with client_for(gw) as c:
            r = await c.post(
                "/v1/create_agent", json={"name": "fine"}, headers=bearer("orchestrator")
            )
            assert r.status_code == 201
            assert "cost.rego" in (await c.get("/healthz")).json()["shadow_error"]
    finally:
        await gw.stop()


async def test_shadow_report_summarises_differences(
    tmp_path: Path, make_settings: MakeSettings, redis_url: str
) -> None:
    settings = make_settings(shadow_policies_dir=candidate(tmp_path, 15))
    gw = Gateway.build(settings)
    try:
        async with client_for(gw) as c:
            for i, cost in enumerate([5, 12, 18, 19]):
                body = {"name": f"a-{i}", "estimated_cost_per_day": cost}
                await c.post("/v1/create_agent", json=body, headers=bearer("orchestrator"))
    finally:
        await gw.stop()
    env = {
        "REDIS_URL": redis_url,
        "SPAWNGATE_REDIS_PREFIX": settings.redis_prefix,
        "SPAWNGATE_DATA_DIR": str(settings.data_dir),
    }
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gateway", "policy", "shadow-report", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["decisions"] == 4 and summary["differing"] == 2
    assert summary["changes"] == {"review -> deny": 2}
