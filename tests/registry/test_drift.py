"""Drift between the registry and the decision log (``spawngate registry audit``).

Agents are created through the gateway, then the registry is changed around it:
one agent added directly, one's tools changed, one removed, one given another
agent's receipt. The audit names exactly those, by kind, in process and from the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.registry.base import AgentRecord, Retiring
from gateway.registry.drift import audit_drift
from gateway.runtime import Gateway
from gateway.settings import Settings
from tests.conftest import bearer


async def _create(client: httpx.AsyncClient, name: str) -> None:
    # No capabilities: agents that offer the same one would go to review (deduplication).
    body = {"name": name, "role": f"helps with {name}", "tools": ["web_search"]}
    r = await client.post("/v1/create_agent", json=body, headers=bearer("orchestrator"))
    assert r.status_code == 201, r.text


async def _replace(gw: Gateway, record: AgentRecord, **changes: object) -> None:
    """Change an agent behind the gateway's back (remove it and register the copy)."""
    registry = gw.registry
    assert isinstance(registry, Retiring)
    assert await registry.retire(record)
    await registry.create(record.model_copy(update=changes))


def _cli(settings: Settings) -> subprocess.CompletedProcess[str]:
    assert settings.redis_url is not None
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url.get_secret_value(),
        "SPAWNGATE_REDIS_PREFIX": settings.redis_prefix,
        "SPAWNGATE_DATA_DIR": str(settings.data_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "gateway", "registry", "audit", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def test_an_untouched_registry_has_no_drift(
    client: httpx.AsyncClient, gateway: Gateway, settings: Settings
) -> None:
    await _create(client, "clean-one")
    assert gateway.receipts is not None
    report = await audit_drift(
        gateway.registry, gateway.audit.records(), key=gateway.receipts.public_key
    )
    assert report.items == () and report.agents == 1
    result = _cli(settings)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["drift"] is False


async def test_the_audit_lists_exactly_the_drift_by_kind(
    client: httpx.AsyncClient, gateway: Gateway, settings: Settings
) -> None:
    for name in ("kept", "retooled", "removed", "swapped"):
        await _create(client, name)
    registry = gateway.registry
    kept = await registry.get("acme", "kept")
    retooled = await registry.get("acme", "retooled")
    removed = await registry.get("acme", "removed")
    swapped = await registry.get("acme", "swapped")
    assert kept and retooled and removed and swapped
    # Around the gateway: an agent no decision allowed.
    await registry.create(
        kept.model_copy(
            update={
                "id": "acme/sneaky",
                "name": "sneaky",
                "decision_id": "dec_none",
                "receipt": None,
            }
        )
    )
    await _replace(gateway, retooled, tools=(*retooled.tools, "shell"))
    assert isinstance(registry, Retiring) and await registry.retire(removed)
    await _replace(gateway, swapped, receipt=kept.receipt)

    assert gateway.receipts is not None
    report = await audit_drift(registry, gateway.audit.records(), key=gateway.receipts.public_key)
    found = {(i.kind, i.agent_id) for i in report.items}
    assert found == {
        ("no_decision", "acme/sneaky"),
        ("tools_differ", "acme/retooled"),
        ("missing_agent", "acme/removed"),
        ("bad_receipt", "acme/swapped"),
    }
    swap = next(i for i in report.items if i.kind == "bad_receipt")
    assert "receipt_mismatch" in swap.detail
    differ = next(i for i in report.items if i.kind == "tools_differ")
    assert "shell" in differ.detail

    result = _cli(settings)
    assert result.returncode == 1, result.stderr
    body = json.loads(result.stdout)
    assert body["counts"] == {
        "no_decision": 1,
        "bad_receipt": 1,
        "missing_agent": 1,
        "tools_differ": 1,
    }
    assert {(i["kind"], i["agent_id"]) for i in body["items"]} == found
    # The running gateway's own audit sets the drift gauge that /metrics serves.
    await gateway.audit_drift()
    text = (await client.get("/metrics")).text
    gauge = {
        s.labels["kind"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "spawngate_registry_drift_items"
    }
    assert gauge == {
        "no_decision": 1.0,
        "bad_receipt": 1.0,
        "missing_agent": 1.0,
        "tools_differ": 1.0,
    }
