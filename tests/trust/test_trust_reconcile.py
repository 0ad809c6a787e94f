"""Issue 9, items 5 and 8: the reconciler gives back leaked quota and reports orphans.

Everything goes through public interfaces: the HTTP API (in-process and a real
``spawngate serve`` killed with SIGKILL), the ``spawngate reconcile`` and
``spawngate audit verify`` commands, and the quota ledger, registry and audit
log APIs to leak a slot or plant a discrepancy the way a crash would.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.audit.log import AuditRecord
from gateway.quotas.ledger import QuotaLedger
from gateway.registry.base import AgentRecord
from gateway.runtime import Gateway
from gateway.settings import Settings
from tests.conftest import DEMO, ROOMY_CONFIG, MakeSettings, bearer, client_for, write_config
from tests.support.narrow import arr
from tests.support.records import outcome_record

WAIT_SECONDS = 30.0
#: Long enough for a CLI run to start while the leaked leases are still live.
LEASE_SECONDS = 6.0

TIGHT_CONFIG = """tenants:
  acme:
    enabled: true
    quotas:
      per_agent: {per_minute: 1000, per_hour: 1000, per_day: 1000}
      per_tenant: {per_minute: 1000, per_hour: 1000, per_day: 1000}
      max_active_agents: 4
    lineage: {max_depth: 3, max_descendants_per_root: 1000, root_spawns_per_minute: 1000}
  globex: {}
  initech: {}
"""


def _env(settings: Settings) -> dict[str, str]:
    assert settings.redis_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPAWNGATE_")}
    env.update(
        {
            "REDIS_URL": settings.redis_url.get_secret_value(),
            "SPAWNGATE_REDIS_PREFIX": settings.redis_prefix,
            "SPAWNGATE_DATA_DIR": str(settings.data_dir),
            "SPAWNGATE_CONFIG_FILE": str(settings.config_file),
            "SPAWNGATE_RECONCILE_LEASE_SECONDS": str(settings.reconcile_lease_seconds),
            "SPAWNGATE_RECONCILE_SECONDS": "0",
            "SPAWNGATE_POLICY_RELOAD_SECONDS": "0",
            "SPAWNGATE_HOST": "127.0.0.1",
        }
    )
    return env


def _cli(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env=_env(settings),
        timeout=WAIT_SECONDS * 2,
        check=False,
    )


def _held_keys(gw: Gateway, tenant: str, root: str) -> list[str]:
    key = gw.store.key
    return [
        key("q", f"tenant:{tenant}", "active"),
        key("q", f"root:{tenant}:{root}", "descendants"),
    ]


async def _held(gw: Gateway, tenant: str, root: str) -> tuple[int, int]:
    """(active agents counter, root descendants counter) as Redis holds them."""
    values = await gw.store.client.mget(_held_keys(gw, tenant, root))
    return int(values[0] or 0), int(values[1] or 0)


async def _reconcile_records(gw: Gateway) -> list[AuditRecord]:
    return [r for r in await gw.audit.read() if r.type.value == "reconcile"]


def _settings_with(make_settings: MakeSettings, tmp_path: Path, config: str) -> Settings:
    return make_settings(
        config_file=write_config(tmp_path, config),
        reconcile_lease_seconds=LEASE_SECONDS,
        reconcile_seconds=0,
        policy_reload_seconds=0,
    )


@pytest.mark.asyncio
async def test_trust_5_leaked_slot_is_given_back_and_recorded(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    settings = _settings_with(make_settings, tmp_path, TIGHT_CONFIG)
    gw = Gateway.build(settings)
    try:
        async with client_for(gw) as c:
            made = await c.post(
                "/v1/create_agent", json={"name": "kept"}, headers=bearer("orchestrator")
            )
            assert made.status_code == 201, made.text
            queued = await c.post(
                "/v1/create_agent",
                json={"name": "ops", "template": "devops", "capabilities": ["docker"]},
                headers=bearer("orchestrator"),
            )
            assert queued.status_code == 202, queued.text
            # A crash between reserve and create: two reservations never released.
            ledger = QuotaLedger(gw.store)
            counters = ledger.counters(
                tenant="acme",
                principal="acme-orchestrator",
                root="acme-orchestrator",
                settings=gw.config.tenant_settings("acme"),
            )
            for _ in range(2):
                await ledger.reserve(counters)
            leaked_at = time.monotonic()
            assert await _held(gw, "acme", "acme-orchestrator") == (4, 4)
            refused = await c.post(
                "/v1/create_agent", json={"name": "refused"}, headers=bearer("orchestrator")
            )
            assert refused.status_code == 429, refused.text

            # While the leaked reservations are fresh they may be requests in flight:
            # the reconciler must not take them back.
            early = _cli(["reconcile", "--json"], settings)
            assert early.returncode == 0, early.stdout + early.stderr
            assert time.monotonic() - leaked_at < LEASE_SECONDS, "the CLI was too slow to test"
            assert json.loads(early.stdout)["corrected"] == 0, early.stdout
            assert await _held(gw, "acme", "acme-orchestrator") == (4, 4)

            await asyncio.sleep(max(0.0, leaked_at + LEASE_SECONDS + 0.3 - time.monotonic()))
            done = _cli(["reconcile", "--json"], settings)
            assert done.returncode == 0, done.stdout + done.stderr
            report = json.loads(done.stdout)
            # One agent plus one pending approval still hold their slots.
            assert await _held(gw, "acme", "acme-orchestrator") == (2, 2)
            assert report["slots_freed"] >= 4 and report["recorded"]

            after = await c.post(
                "/v1/create_agent", json={"name": "after"}, headers=bearer("orchestrator")
            )
            assert after.status_code == 201, after.text

        records = await _reconcile_records(gw)
        assert len(records) == 1
        corrected = {
            c["key"]: (c["before"], c["after"])
            for c in arr(records[0].result["corrections"])
            if isinstance(c, dict)
        }
        active, descendants = _held_keys(gw, "acme", "acme-orchestrator")
        assert corrected[active] == (4, 2) and corrected[descendants] == (4, 2)
    finally:
        await gw.stop()
    verify = _cli(["audit", "verify"], settings)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.asyncio
async def test_trust_8_reconcile_reports_orphans_and_created_decisions_without_agent(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    settings = _settings_with(make_settings, tmp_path, ROOMY_CONFIG)
    gw = Gateway.build(settings)
    try:
        async with client_for(gw) as c:
            made = await c.post(
                "/v1/create_agent", json={"name": "real"}, headers=bearer("orchestrator")
            )
            assert made.status_code == 201, made.text
        agent = made.json()["agent"]
        # An agent the registry holds with no decision behind it...
        await gw.registry.create(
            AgentRecord.model_validate(
                {**agent, "id": "acme/ghost", "name": "ghost", "decision_id": "dec_ghost"}
            )
        )
        # ...and a record saying an agent was created that the registry lacks.
        await gw.audit.append(outcome_record("dec_phantom", "created", "acme/phantom"))
        done = _cli(["reconcile", "--json"], settings)
        assert done.returncode == 1, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert [o["agent_id"] for o in report["orphans"]] == ["acme/ghost"]
        assert [(m["agent_id"], m["decision_id"]) for m in report["missing"]] == [
            ("acme/phantom", "dec_phantom")
        ]
        records = await _reconcile_records(gw)
        assert len(records) == 1 and records[0].result["orphan_count"] == 1
        assert records[0].result["missing_count"] == 1

        # The same findings again are not recorded twice.
        again = _cli(["reconcile", "--json"], settings)
        assert again.returncode == 1 and json.loads(again.stdout)["recorded"] is None
        assert len(await _reconcile_records(gw)) == 1
    finally:
        await gw.stop()
    verify = _cli(["audit", "verify"], settings)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serve(settings: Settings) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        env=_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        assert proc.poll() is None, "spawngate serve exited early"
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    proc.wait(timeout=WAIT_SECONDS)
    raise AssertionError("no /healthz in time")


async def _unregistered(gw: Gateway) -> int:
    """Active-agent slots held beyond the agents the registry has."""
    agents = await gw.registry.search("acme", capability=None, name_contains=None, limit=10_000)
    active, _ = await _held(gw, "acme", "acme-orchestrator")
    return active - len(agents)


async def _fire_and_kill(
    gw: Gateway, base: str, proc: subprocess.Popen[bytes], round_no: int
) -> int:
    """40 concurrent creations; SIGKILL the gateway while they are in flight.

    Returns how many were answered 201 before the kill.
    """

    async def one(c: httpx.AsyncClient, i: int) -> httpx.Response:
        return await c.post(
            "/v1/create_agent",
            json={"name": f"crash-{round_no}-{i}", "role": "survives a crash test"},
            headers={"Authorization": f"Bearer {DEMO['orchestrator']}"},
        )

    before = await _unregistered(gw)
    async with httpx.AsyncClient(base_url=base, timeout=WAIT_SECONDS) as c:
        tasks = [asyncio.create_task(one(c, i)) for i in range(40)]
        if round_no % 2:
            # At the first answer: most agents exist, their outcomes are being written.
            await asyncio.wait(tasks, timeout=WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        else:
            # As soon as a request is between reserving quota and creating its agent.
            for _ in range(5000):
                if await _unregistered(gw) > before:
                    break
                await asyncio.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        answers = await asyncio.wait_for(
            asyncio.gather(*tasks, return_exceptions=True), WAIT_SECONDS
        )
    proc.wait(timeout=WAIT_SECONDS)
    return sum(isinstance(a, httpx.Response) and a.status_code == 201 for a in answers)


@pytest.mark.asyncio
async def test_trust_5_kill_9_under_load_then_reconcile_matches_registry(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    settings = _settings_with(make_settings, tmp_path, ROOMY_CONFIG)
    gw = Gateway.build(settings)  # in-process reader of the same Redis
    try:
        leaked = created = 0
        for round_no in range(6):  # bounded: stop once a crash has leaked slots
            proc, base = _serve(settings)
            created += await _fire_and_kill(gw, base, proc, round_no)
            agents = await gw.registry.search(
                "acme", capability=None, name_contains=None, limit=10_000
            )
            active, descendants = await _held(gw, "acme", "acme-orchestrator")
            leaked = active - len(agents)
            assert descendants == active
            if leaked > 0 and agents and round_no >= 2:
                break
        assert leaked > 0, "no crash leaked a slot; the test proves nothing"

        await asyncio.sleep(LEASE_SECONDS + 0.3)  # the dead gateways' leases age out
        done = _cli(["reconcile", "--json"], settings)
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)

        agents = await gw.registry.search("acme", capability=None, name_contains=None, limit=10_000)
        assert agents and len(agents) >= created
        from_root = [a for a in agents if a.root == "acme-orchestrator"]
        assert await _held(gw, "acme", "acme-orchestrator") == (len(agents), len(from_root))
        assert report["slots_freed"] >= leaked and report["recorded"]
        records = await _reconcile_records(gw)
        assert len(records) == 1 and records[0].result["orphan_count"] == 0
    finally:
        await gw.stop()
    verify = _cli(["audit", "verify"], settings)
    assert verify.returncode == 0, verify.stdout + verify.stderr
