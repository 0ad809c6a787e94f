"""The tamper-evident decision log: one valid chain across replicas, and every tampering caught."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.audit.log import AuditRecord, ChainHead, chain, verify_chain
from gateway.runtime import Gateway
from gateway.settings import Settings
from tests.conftest import ROOMY_CONFIG, MakeSettings, bearer, client_for, write_config

KEY = "checkpoint-test-key"


async def decide(gw: Gateway, bodies: list[dict[str, Any]]) -> None:
    in_flight = asyncio.Semaphore(32)
    async with client_for(gw) as c:

        async def one(body: dict[str, Any]) -> None:
            async with in_flight:
                await c.post("/v1/create_agent", json=body, headers=bearer("orchestrator"))

        await asyncio.gather(*(one(b) for b in bodies))


async def test_thousand_concurrent_decisions_from_two_replicas_form_one_chain(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    settings = make_settings(
        config_file=write_config(tmp_path, ROOMY_CONFIG),
        audit_checkpoint_key=KEY,
        audit_checkpoint_every=50,
    )
    replicas = [Gateway.build(settings), Gateway.build(settings)]
    try:
        bodies = [{"name": f"a-{i}"} if i % 4 == 0 else {"name": "Bad Name"} for i in range(1000)]
        await asyncio.gather(decide(replicas[0], bodies[:500]), decide(replicas[1], bodies[500:]))
        records = await replicas[0].audit.read()
        decisions = [r for r in records if r.type.value == "decision"]
        assert len(decisions) == 1000
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        checkpoints = await replicas[0].audit.checkpoints()
        verified, problem = verify_chain(records, checkpoints=checkpoints, key=KEY)
        assert problem is None and verified == len(records)
        assert len(checkpoints) >= len(records) // 50 - 1
    finally:
        for gw in replicas:
            await gw.stop()


@pytest.fixture
async def log(gateway: Gateway) -> list[AuditRecord]:
    await decide(
        gateway, [{"name": f"r-{i}"} for i in range(10)] + [{"name": "Bad"} for _ in range(10)]
    )
    records = await gateway.audit.read()
    assert verify_chain(records)[1] is None
    return records


def problem_at(records: list[AuditRecord], **kw: Any) -> tuple[int, str]:
    _, problem = verify_chain(records, **kw)
    assert problem is not None
    return problem.position, problem.reason


async def test_edit_is_detected_at_its_position(log: list[AuditRecord]) -> None:
    tampered = list(log)
    tampered[6] = tampered[6].model_copy(update={"principal": "someone-else"})
    assert problem_at(tampered) == (7, "content does not match its hash (edited)")


async def test_delete_is_detected_at_its_position(log: list[AuditRecord]) -> None:
    tampered = log[:6] + log[7:]
    position, reason = problem_at(tampered)
    assert position == 7 and "missing before it" in reason


async def test_reorder_is_detected(log: list[AuditRecord]) -> None:
    tampered = list(log)
    tampered[4], tampered[5] = tampered[5], tampered[4]
    assert problem_at(tampered)[0] == 5


async def test_insert_is_detected(log: list[AuditRecord]) -> None:
    forged = log[3].model_copy(update={"decision_id": "dec_forged"})
    tampered = [*log[:4], forged, *log[4:]]
    assert problem_at(tampered)[0] == 5


async def test_rechained_forgery_is_caught_by_signed_checkpoints(log: list[AuditRecord]) -> None:
    head = ChainHead(seq=len(log), hash=log[-1].hash or "")
    from gateway.audit.log import sign_checkpoint

    checkpoint = sign_checkpoint(head, KEY)
    # An attacker edits record 3 and recomputes every hash after it: the chain is
    # internally valid again, but no longer matches the signed checkpoint.
    edited = [r.model_copy(update={"seq": None, "prev_hash": None, "hash": None}) for r in log]
    edited[2] = edited[2].model_copy(update={"tenant": "globex"})
    rechained = chain(edited, ChainHead(seq=0, hash="0" * 64))
    assert verify_chain(rechained)[1] is None
    assert problem_at(rechained, checkpoints=[checkpoint], key=KEY)[1].startswith("chain differs")
    # A checkpoint signed with another key is refused.
    assert "signature" in problem_at(log, checkpoints=[sign_checkpoint(head, "wrong")], key=KEY)[1]


async def test_truncated_tail_is_detected_with_checkpoints(log: list[AuditRecord]) -> None:
    from gateway.audit.log import sign_checkpoint

    checkpoint = sign_checkpoint(ChainHead(seq=len(log), hash=log[-1].hash or ""), KEY)
    position, reason = problem_at(log[:-3], checkpoints=[checkpoint], key=KEY)
    assert position == len(log) - 2 and "truncated" in reason


async def test_cli_verify_export_and_query(
    tmp_path: Path, gateway: Gateway, redis_url: str, settings: Settings
) -> None:
    await decide(
        gateway,
        [{"name": f"q-{i}"} for i in range(4)] + [{"name": "vault-user", "tools": ["vault"]}],
    )
    # The gateway's data dir: its checkpoint key and file are what the CLI verifies against.
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "SPAWNGATE_REDIS_PREFIX": settings.redis_prefix,
        "SPAWNGATE_DATA_DIR": str(settings.data_dir),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", "audit", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )

    ok = await asyncio.to_thread(cli, "verify")
    assert ok.returncode == 0 and "OK: 9 record(s) chained" in ok.stdout, ok.stdout + ok.stderr
    export = tmp_path / "log.jsonl"
    assert (await asyncio.to_thread(cli, "export", "--out", str(export))).returncode == 0
    assert (await asyncio.to_thread(cli, "verify", "--records", str(export))).returncode == 0
    csv_out = tmp_path / "log.csv"
    assert (
        await asyncio.to_thread(cli, "export", "--out", str(csv_out), "--format", "csv")
    ).returncode == 0
    assert csv_out.read_text().splitlines()[0].startswith("seq,prev_hash,hash,type,decision_id")
    denied = await asyncio.to_thread(cli, "query", "--verdict", "deny", "--json")
    lines = [line for line in denied.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    denied_record = AuditRecord.model_validate_json(lines[0])
    assert (
        denied_record.principal == "acme-orchestrator"
        and denied_record.input["name"] == "vault-user"
    )

    # Tamper with the live log: rewrite it with one record edited.
    lines = export.read_text().splitlines()
    lines[2] = lines[2].replace("acme-orchestrator", "acme-analyst")
    stream = gateway.store.key("decisions")
    await gateway.store.client.delete(stream)
    for line in lines:
        await gateway.store.client.xadd(stream, {"record": line})
    broken = await asyncio.to_thread(cli, "verify")
    assert broken.returncode == 1 and "BROKEN at record 3" in broken.stdout
