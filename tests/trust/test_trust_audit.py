"""Issue 9, decision-log items: isolated writes (1), a total canonical form (2),
checkpoints that survive Redis (3) and paged reads (4)."""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.audit.log import AuditRecord, ChainHead, RecordType, chain, verify_chain
from gateway.audit.shipping import Shipper
from gateway.errors import SpawngateError
from gateway.runtime import Gateway
from gateway.settings import Settings
from tests.conftest import ROOMY_CONFIG, MakeSettings, bearer, client_for, write_config
from tests.support.narrow import bound_port, entries

KEY = "trust-audit-key"


def record(n: int, **input_: Any) -> AuditRecord:
    return AuditRecord(
        type=RecordType.DECISION,
        decision_id=f"dec_{n}",
        timestamp=datetime.now(UTC),
        path="spawngate/create_agent",
        tenant="acme",
        principal="acme-orchestrator",
        input={"name": f"n-{n}", **input_},
        result={"verdict": "deny"},
        bundles={"spawngate": {"revision": "test"}},
    )


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url.get_secret_value() if settings.redis_url else "",
        "SPAWNGATE_REDIS_PREFIX": settings.redis_prefix,
        "SPAWNGATE_DATA_DIR": str(settings.data_dir),
    }
    if settings.audit_checkpoint_key is not None:
        env["SPAWNGATE_AUDIT_CHECKPOINT_KEY"] = settings.audit_checkpoint_key.get_secret_value()
    return subprocess.run(
        [sys.executable, "-m", "gateway", "audit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


async def verified_from_redis(gw: Gateway) -> int:
    records = await gw.audit.read()
    count, problem = verify_chain(records)
    assert problem is None, problem
    return count


# -- item 1: one bad record never fails the batch ------------------------------


async def test_trust_1_lone_surrogate_record_does_not_poison_concurrent_appends(
    gateway: Gateway,
) -> None:
    good = [record(i) for i in range(60)]
    poisoned = record(999, **{"\ud800": "\udfff-x"})
    appends = [gateway.audit.append(r) for r in good[:30]]
    appends += [gateway.audit.append(poisoned)]
    appends += [gateway.audit.append(r) for r in good[30:]]
    results = await asyncio.wait_for(asyncio.gather(*appends, return_exceptions=True), 20)
    assert all(isinstance(r, str) for r in results[:30] + results[31:]), results
    assert await verified_from_redis(gateway) >= 60


async def test_trust_1_unserialisable_record_fails_only_its_own_append(gateway: Gateway) -> None:
    # A record that skipped validation and cannot be serialised at all.
    broken = AuditRecord.model_construct(**{**record(7).__dict__, "input": {"x": object()}})
    appends = [gateway.audit.append(record(i)) for i in range(20)]
    appends.insert(10, gateway.audit.append(broken))
    results = await asyncio.wait_for(asyncio.gather(*appends, return_exceptions=True), 20)
    failure = results.pop(10)
    assert isinstance(failure, SpawngateError) and failure.status >= 500, failure
    assert all(isinstance(r, str) for r in results), results
    assert await verified_from_redis(gateway) == 20


async def test_trust_1_poisoned_body_among_concurrent_requests(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    gw = Gateway.build(make_settings(config_file=write_config(tmp_path, ROOMY_CONFIG)))
    try:
        async with client_for(gw) as c:

            async def good(i: int) -> int:
                r = await c.post(
                    "/v1/create_agent", json={"name": f"ok-{i}"}, headers=bearer("orchestrator")
                )
                return r.status_code

            async def bad() -> int:
                r = await c.post(
                    "/v1/create_agent",
                    content=b'{"\\ud800": 1, "name": "x"}',
                    headers={**bearer("orchestrator"), "content-type": "application/json"},
                )
                return r.status_code

            calls = [good(i) for i in range(30)] + [bad()] + [good(i) for i in range(30, 60)]
            codes = await asyncio.wait_for(asyncio.gather(*calls), 60)
        assert codes[:30] + codes[31:] == [201] * 60, codes
        assert codes[30] >= 400  # refused at the door, or its record refused alone
        assert await verified_from_redis(gw) >= 60
    finally:
        await gw.stop()


# -- item 2: the canonical form is total -----------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.builds(lambda: 10**5000)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
)
json_keys = st.text(st.characters(codec=None, exclude_categories=()), max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_keys, inner, max_size=4),
    max_leaves=20,
)


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.dictionaries(json_keys, json_values, max_size=5), min_size=1, max_size=4))
def test_trust_2_every_acceptable_value_round_trips_and_verifies(
    inputs: list[dict[str, Any]],
) -> None:
    records = [
        AuditRecord(
            type=RecordType.DECISION,
            decision_id=f"dec_{i}",
            timestamp=datetime.now(UTC),
            path="spawngate/create_agent",
            tenant="acme",
            principal=None,
            input=value,
            result={"verdict": "deny"},
            bundles={"spawngate": {"revision": "r"}},
            policy_input={"request": value},
            metrics={"timer_pipeline_ms": math.nan},
        )
        for i, value in enumerate(inputs)
    ]
    chained = chain(records, ChainHead(seq=0, hash="0" * 64))
    # The store form as Redis holds it (UTF-8 bytes), parsed back.
    stored = [r.model_dump_json().encode("utf-8") for r in chained]
    parsed = [AuditRecord.model_validate_json(raw) for raw in stored]
    verified, problem = verify_chain(parsed)
    assert problem is None and verified == len(records), problem


async def test_trust_2_non_finite_numbers_written_to_the_log_verify(
    gateway: Gateway, settings: Settings
) -> None:
    for n, value in enumerate([math.nan, math.inf, -math.inf, float("1e400"), 10**5000]):
        await gateway.audit.append(record(n, value=value, nested={"v": [value]}))
    assert await verified_from_redis(gateway) == 5
    done = await asyncio.to_thread(cli, settings, "verify")
    assert done.returncode == 0 and "OK: 5 record(s)" in done.stdout, done.stdout + done.stderr


# -- item 3: checkpoints outside Redis --------------------------------------------


async def fill(gw: Gateway, count: int, start: int = 0) -> None:
    for first in range(start, start + count, 50):
        await asyncio.gather(
            *(gw.audit.append(record(i)) for i in range(first, min(first + 50, start + count)))
        )


async def test_trust_3_checkpoints_are_signed_with_a_generated_key_and_filed(
    gateway: Gateway, settings: Settings
) -> None:
    await fill(gateway, 250)
    key_file = settings.data_dir / "audit-checkpoint.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    anchor = settings.data_dir / f"audit-checkpoints-{settings.redis_prefix}.jsonl"
    lines = [json.loads(x) for x in anchor.read_text().splitlines()]
    assert [c["seq"] for c in lines][:2] == [100, 200] and all(c["hmac"] for c in lines)


async def test_trust_3_deleted_checkpoints_and_truncated_tail_are_detected(
    gateway: Gateway, settings: Settings, tmp_path: Path
) -> None:
    await fill(gateway, 230)
    anchor = settings.data_dir / f"audit-checkpoints-{settings.redis_prefix}.jsonl"
    copy = tmp_path / "anchor.jsonl"
    copy.write_bytes(anchor.read_bytes())
    store = gateway.store.client
    await store.delete(gateway.store.key("decisions", "checkpoints"))
    newest = entries(await store.xrevrange(gateway.store.key("decisions"), count=40))
    await store.xdel(gateway.store.key("decisions"), *[e[0] for e in newest])
    anchor.unlink()  # The attacker also removed the local file; the auditor kept a copy.
    anchored = await asyncio.to_thread(cli, settings, "verify", "--anchor", str(copy))
    assert anchored.returncode == 1 and "truncated" in anchored.stdout, anchored.stdout


async def test_trust_3_rechained_log_is_detected_by_the_anchor(
    gateway: Gateway, settings: Settings, tmp_path: Path
) -> None:
    await fill(gateway, 120)
    anchor = settings.data_dir / f"audit-checkpoints-{settings.redis_prefix}.jsonl"
    records = await gateway.audit.read()
    edited = [r.model_copy(update={"seq": None, "prev_hash": None, "hash": None}) for r in records]
    edited[5] = edited[5].model_copy(update={"tenant": "globex"})
    # Reorder too: swap two records, then re-chain everything.
    edited[7], edited[8] = edited[8], edited[7]
    stream = gateway.store.key("decisions")
    await gateway.store.client.delete(stream, gateway.store.key("decisions", "checkpoints"))
    for r in chain(edited, ChainHead(seq=0, hash="0" * 64)):
        await gateway.store.client.xadd(stream, {"record": r.model_dump_json()})
    done = await asyncio.to_thread(cli, settings, "verify", "--anchor", str(anchor))
    assert done.returncode == 1 and "checkpoint" in done.stdout, done.stdout


async def test_trust_3_export_carries_signed_checkpoints(
    gateway: Gateway, settings: Settings, tmp_path: Path
) -> None:
    await fill(gateway, 210)
    out = tmp_path / "log.jsonl"
    done = await asyncio.to_thread(cli, settings, "export", "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    checkpoints = [x["checkpoint"] for x in lines if "checkpoint" in x]
    assert [c["seq"] for c in checkpoints] == [100, 200] and all(c["hmac"] for c in checkpoints)
    queried = await asyncio.to_thread(cli, settings, "query", "--records", str(out), "--json")
    assert len(queried.stdout.splitlines()) == 210, queried.stderr
    ok = await asyncio.to_thread(cli, settings, "verify", "--records", str(out))
    assert ok.returncode == 0 and "2 signed checkpoint(s)" in ok.stdout, ok.stdout + ok.stderr
    # Cutting the export's tail (records 151..210) but not its checkpoint lines is caught.
    cut = tmp_path / "cut.jsonl"
    cut.write_text(
        "".join(
            line + "\n"
            for line in out.read_text().splitlines()
            if '"checkpoint"' in line[:20] or json.loads(line)["seq"] <= 150
        )
    )
    broken = await asyncio.to_thread(cli, settings, "verify", "--records", str(cut))
    assert broken.returncode == 1 and "truncated" in broken.stdout, broken.stdout


async def test_trust_3_tail_is_checkpointed_on_time(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(audit_checkpoint_every=1000, audit_checkpoint_seconds=0.2)
    gw = Gateway.build(settings)
    try:
        await fill(gw, 7)
        anchor = settings.data_dir / f"audit-checkpoints-{settings.redis_prefix}.jsonl"
        for _ in range(50):
            if anchor.exists() and any(
                json.loads(x)["seq"] == 7 for x in anchor.read_text().splitlines()
            ):
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the tail was never checkpointed")
    finally:
        await gw.stop()


async def test_trust_3_checkpoints_are_shipped_to_the_sink(gateway: Gateway) -> None:
    events: list[dict[str, Any]] = []

    async def upload(request: web.Request) -> web.Response:
        raw = await request.read()
        events.extend(json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/logs", upload)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = bound_port(site)
    shipper = Shipper(gateway.store, f"http://127.0.0.1:{port}/logs", batch=500)
    try:
        await fill(gateway, 120)
        for _ in range(5):
            if not await shipper.ship_once():
                break
        shipped = [
            e["spawngate"]["checkpoint"] for e in events if e["path"] == "spawngate/checkpoint"
        ]
        assert [c["seq"] for c in shipped] == [100] and shipped[0]["hmac"]
        assert sum(1 for e in events if e["spawngate"]["type"] == "decision") == 120
    finally:
        await shipper.aclose()
        await runner.cleanup()


# -- item 4: paged reads --------------------------------------------------------


async def xrange_calls(gw: Gateway) -> int:
    stats = await gw.store.client.info("commandstats")
    return int(stats.get("cmdstat_xrange", {}).get("calls", 0))


async def test_trust_4_verify_and_export_read_the_log_in_pages(
    gateway: Gateway, settings: Settings, tmp_path: Path
) -> None:
    await fill(gateway, 2600)
    before = await xrange_calls(gateway)
    done = await asyncio.to_thread(cli, settings, "verify")
    assert done.returncode == 0 and "OK: 2600 record(s)" in done.stdout, done.stdout
    assert await xrange_calls(gateway) - before >= 3
    before = await xrange_calls(gateway)
    out = tmp_path / "log.jsonl"
    assert (await asyncio.to_thread(cli, settings, "export", "--out", str(out))).returncode == 0
    assert await xrange_calls(gateway) - before >= 3
    assert sum(1 for x in out.read_text().splitlines() if '"checkpoint"' not in x[:20]) == 2600


async def test_trust_4_decisions_api_pages_with_a_cursor(gateway: Gateway) -> None:
    async with client_for(gateway) as c:
        for i in range(7):
            await c.post(
                "/v1/create_agent",
                json={"name": f"vault-{i}", "tools": ["vault"]},
                headers=bearer("orchestrator"),
            )
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(10):
            params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            r = await c.get("/v1/decisions", params=params, headers=bearer("bob"))
            assert r.status_code == 200, r.text
            page = r.json()
            assert len(page) <= 3
            seen += [d["decision_id"] for d in page]
            cursor = r.headers.get("x-next-cursor")
            if not cursor:
                break
        assert len(seen) == 7 and len(set(seen)) == 7
        bad = await c.get("/v1/decisions", params={"cursor": "nope"}, headers=bearer("bob"))
        assert bad.status_code == 422


@pytest.mark.parametrize(
    "cursor",
    [
        "38940002978827080868-85301",  # beyond Redis's 64-bit stream ids
        "18446744073709551616-0",
        "1-18446744073709551616",
        "-1-0",
        "1.5-0",
    ],
)
async def test_trust_4_cursor_redis_would_refuse_is_a_422_naming_it(
    gateway: Gateway, cursor: str
) -> None:
    async with client_for(gateway) as c:
        r = await c.get("/v1/decisions", params={"cursor": cursor}, headers=bearer("bob"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("cursor", ["0-0", "0-000000", "18446744073709551615-18446744073709551615"])
async def test_trust_4_cursor_at_either_end_of_the_id_space_is_an_empty_page(
    gateway: Gateway, cursor: str
) -> None:
    async with client_for(gateway) as c:
        await c.post("/v1/create_agent", json={"name": "edge"}, headers=bearer("orchestrator"))
        r = await c.get("/v1/decisions", params={"cursor": cursor}, headers=bearer("bob"))
    assert r.status_code == 200, r.text
    # Nothing lies before the first id; the last id is past everything written
    # (the creation's decision and outcome records).
    assert len(r.json()) == (0 if cursor.startswith("0-") else 2)
