"""Hot reload: atomic swaps under load, broken revisions refused, the watcher."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from pathlib import Path

import httpx

from gateway.audit.log import RecordType
from gateway.runtime import Gateway
from gateway.settings import PROJECT_ROOT
from tests.conftest import ROOMY_CONFIG, MakeSettings, bearer, client_for, write_config
from tests.support.narrow import objs


def copy_tree(tmp_path: Path) -> tuple[Path, Path]:
    policies, templates = tmp_path / "policies", tmp_path / "templates"
    shutil.copytree(PROJECT_ROOT / "policies", policies)
    shutil.copytree(PROJECT_ROOT / "templates", templates)
    return policies, templates


def set_ceiling(policies: Path, value: int) -> None:
    data = policies / "spawngate" / "cost" / "data.yaml"
    text = data.read_text()
    start = text.index("hard_max_cost_per_day:")
    data.write_text(text[:start] + f"hard_max_cost_per_day: {value}\n")


async def test_reload_under_load_never_mixes_revisions(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    policies, templates = copy_tree(tmp_path)
    settings = make_settings(
        policies_dir=policies,
        templates_dir=templates,
        config_file=write_config(tmp_path, ROOMY_CONFIG),
    )
    gw = Gateway.build(settings)
    before = gw.policy.current.revision
    try:
        async with client_for(gw) as c:
            # 32 in flight at a time, as a client pool would send them.
            in_flight = asyncio.Semaphore(32)

            finished = 0
            twenty_done = asyncio.Event()

            async def create(i: int) -> httpx.Response:
                nonlocal finished
                body = {"name": f"w-{i}", "estimated_cost_per_day": 5}
                async with in_flight:
                    response = await c.post(
                        "/v1/create_agent", json=body, headers=bearer("orchestrator")
                    )
                finished += 1
                if finished >= 20:
                    twenty_done.set()
                return response

            first = [asyncio.create_task(create(i)) for i in range(150)]
            # Let some decisions finish under the old revision before changing it.
            await twenty_done.wait()
            set_ceiling(policies, 4)  # cost 5 is allowed before, refused after
            reloading = asyncio.create_task(gw.policy.reload())
            second = [asyncio.create_task(create(150 + i)) for i in range(150)]
            assert await reloading is True
            third = [asyncio.create_task(create(300 + i)) for i in range(50)]
            responses = await asyncio.gather(*first, *second, *third)
        after = gw.policy.current.revision
        assert after != before
        assert {r.status_code for r in responses} <= {201, 403}
        decisions = [r for r in await gw.audit.read() if r.type is RecordType.DECISION]
        assert len(decisions) == 350
        by_revision: Counter[str] = Counter()
        for record in decisions:
            revision = record.bundles["spawngate"]["revision"]
            by_revision[revision] += 1
            codes = {reason["code"] for reason in objs(record.result["reasons"])}
            if revision == before:
                assert record.result["outcome"] == "allowed" and not codes, record.decision_id
            else:
                assert revision == after
                assert record.result["outcome"] == "denied" and codes == {"SG-COST-001"}, (
                    record.decision_id
                )
        # The 50 requests that started after the swap were all decided by the new revision.
        assert by_revision[after] >= 50 and by_revision[before] >= 1
    finally:
        await gw.stop()


async def test_broken_revision_is_refused_and_the_old_one_keeps_deciding(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    policies, templates = copy_tree(tmp_path)
    gw = Gateway.build(make_settings(policies_dir=policies, templates_dir=templates))
    before = gw.policy.current.revision
    try:
        rego = policies / "spawngate" / "cost" / "cost.rego"
        rego.write_text(rego.read_text() + "\nbroken if {\n\tinput.a ==\n}\n")
        assert await gw.policy.reload() is False
        assert gw.policy.current.revision == before
        async with client_for(gw) as c:
            health = (await c.get("/healthz")).json()
            assert health["policy_revision"] == before
            assert "spawngate/cost/cost.rego:" in health["policy_reload_error"]
            r = await c.post(
                "/v1/create_agent", json={"name": "still-ok"}, headers=bearer("orchestrator")
            )
            assert r.status_code == 201 and r.json()["policy_revision"] == before
        # Fixing the file clears the error and brings in a new revision.
        rego.write_text(rego.read_text().replace("\nbroken if {\n\tinput.a ==\n}\n", "\n"))
        set_ceiling(policies, 50)
        assert await gw.policy.reload() is True
        assert gw.policy.last_error is None and gw.policy.current.revision != before
    finally:
        await gw.stop()


async def test_watcher_picks_up_a_changed_file(tmp_path: Path, make_settings: MakeSettings) -> None:
    policies, templates = copy_tree(tmp_path)
    gw = Gateway.build(make_settings(policies_dir=policies, templates_dir=templates))
    before = gw.policy.current.revision
    watcher = asyncio.create_task(gw.policy.watch(0.05))
    try:
        set_ceiling(policies, 42)
        for _ in range(400):
            if gw.policy.current.revision != before:
                break
            await asyncio.sleep(0.05)
        assert gw.policy.current.revision != before and gw.policy.reloads == 1
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await gw.stop()
