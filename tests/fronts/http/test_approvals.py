"""Approvers: approve, deny, expire, re-check on approve, self-approval, cross-tenant,
double approval, waiting requesters, signed webhooks, and auditors' reads."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import shutil
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from gateway.audit.log import RecordType
from gateway.runtime import Gateway
from gateway.settings import PROJECT_ROOT
from tests.conftest import MakeSettings, bearer, client_for, write_config
from tests.support.narrow import bound_port, redis_int, some

CONFIG = """tenants:
  acme:
    enabled: true
    approval_timeout_seconds: {timeout}
    callback_hosts: ["127.0.0.1"]
    quotas:
      per_agent: {{per_minute: 1000, per_hour: 1000, per_day: 1000}}
      per_tenant: {{per_minute: 1000, per_hour: 1000, per_day: 1000}}
  globex: {{enabled: true}}
  initech: {{}}
"""
SECRET = "webhook-test-secret"
QUEUED = {"estimated_cost_per_day": 12}  # above acme's limit of 10: a human decides


async def started(
    tmp_path: Path, make_settings: MakeSettings, *, approval_timeout: int = 3600, **extra: Any
) -> Gateway:
    return Gateway.build(
        make_settings(
            config_file=write_config(tmp_path, CONFIG.format(timeout=approval_timeout)),
            webhook_secret=SECRET,
            **extra,
        )
    )


@pytest.fixture
async def gw(tmp_path: Path, make_settings: MakeSettings) -> AsyncIterator[Gateway]:
    gateway = await started(tmp_path, make_settings)
    yield gateway
    await gateway.stop()


async def queue(c: httpx.AsyncClient, name: str, who: str = "orchestrator", **extra: Any) -> str:
    r = await c.post(
        "/v1/create_agent", json={"name": name, **QUEUED, **extra}, headers=bearer(who)
    )
    assert r.status_code == 202, r.json()
    return str(r.json()["request_id"])


async def test_approve_rechecks_and_creates_with_linked_audit_records(gw: Gateway) -> None:
    async with client_for(gw) as c:
        request_id = await queue(c, "costly")
        pending = await c.get("/v1/approvals", headers=bearer("alice"))
        assert [p["id"] for p in pending.json()] == [request_id]
        r = await c.post(
            f"/v1/approvals/{request_id}/approve",
            json={"note": "budget ok"},
            headers=bearer("alice"),
        )
        assert r.status_code == 200, r.json()
        body = r.json()
        assert body["request"]["state"] == "created" and body["request"]["decided_by"] == "alice"
        assert (
            body["decision"]["outcome"] == "created"
            and body["request"]["agent_id"] == "acme/costly"
        )
        assert (await c.get("/v1/approvals", headers=bearer("alice"))).json() == []
    assert await gw.registry.get("acme", "costly") is not None
    records = await gw.audit.read()
    original = next(
        r for r in records if r.type is RecordType.DECISION and r.path == "spawngate/create_agent"
    )
    approval = next(r for r in records if r.type is RecordType.APPROVAL)
    assert approval.decision_id == original.decision_id and approval.principal == "alice"
    assert approval.result["action"] == "approved" and approval.input["note"] == "budget ok"
    recheck = next(r for r in records if r.path == "spawngate/approve")
    assert recheck.result["outcome"] == "allowed"


async def test_deny_is_final_and_releases_the_reservation(gw: Gateway) -> None:
    async with client_for(gw) as c:
        request_id = await queue(c, "refused")
        active = gw.store.key("q", "tenant:acme", "active")
        assert redis_int(await gw.store.client.get(active)) == 1
        r = await c.post(
            f"/v1/approvals/{request_id}/deny", json={"note": "no"}, headers=bearer("alice")
        )
        assert r.status_code == 200 and r.json()["state"] == "denied"
        assert redis_int(await gw.store.client.get(active)) == 0
        status = (await c.get(f"/v1/requests/{request_id}", headers=bearer("orchestrator"))).json()
        assert (
            status["state"] == "denied"
            and status["outcome_reasons"][0]["message"] == "denied by alice"
        )
        again = await c.post(f"/v1/approvals/{request_id}/approve", headers=bearer("alice"))
        assert (
            again.status_code == 409 and again.json()["error"]["code"] == "approval_already_decided"
        )
    assert await gw.registry.get("acme", "refused") is None


async def test_double_approval_and_concurrent_approvers(gw: Gateway) -> None:
    async with client_for(gw) as c:
        request_id = await queue(c, "raced")
        answers = await asyncio.gather(
            *(
                c.post(f"/v1/approvals/{request_id}/approve", headers=bearer("alice"))
                for _ in range(10)
            )
        )
        assert Counter(a.status_code for a in answers) == {200: 1, 409: 9}
        again = await c.post(f"/v1/approvals/{request_id}/approve", headers=bearer("alice"))
        assert again.status_code == 409
    created = [
        r
        for r in await gw.audit.read()
        if r.type is RecordType.OUTCOME and r.result["outcome"] == "created"
    ]
    assert len(created) == 1


async def test_self_approval_cross_tenant_and_roles(gw: Gateway) -> None:
    async with client_for(gw) as c:
        # carol is an admin: she may create agents and decide approvals, never her own.
        own = await queue(c, "carols-own", who="carol")
        r = await c.post(f"/v1/approvals/{own}/approve", headers=bearer("carol"))
        assert r.status_code == 403 and r.json()["error"]["code"] == "self_approval"
        request_id = await queue(c, "acme-only")
        # gina approves for globex: an acme request does not exist for her.
        r = await c.post(f"/v1/approvals/{request_id}/approve", headers=bearer("gina"))
        assert r.status_code == 404
        # bob audits, the orchestrator creates: neither may decide.
        for who in ("bob", "orchestrator"):
            r = await c.post(f"/v1/approvals/{request_id}/approve", headers=bearer(who))
            assert r.status_code == 403 and r.json()["error"]["code"] == "not_an_approver"
        assert (await c.get("/v1/approvals", headers=bearer("orchestrator"))).status_code == 403


async def test_expired_request_is_final_and_never_created(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    gw = await started(tmp_path, make_settings, approval_timeout=1)
    try:
        async with client_for(gw) as c:
            request_id = await queue(c, "too-late")
            other = await queue(c, "swept")
            await asyncio.sleep(1.2)
            r = await c.post(f"/v1/approvals/{request_id}/approve", headers=bearer("alice"))
            assert r.status_code == 409 and r.json()["error"]["code"] == "approval_expired"
            status = (
                await c.get(f"/v1/requests/{request_id}", headers=bearer("orchestrator"))
            ).json()
            assert status["state"] == "expired"
            assert status["outcome_reasons"][0]["message"] == "approval timed out"
            # The sweeper expires what nobody looked at.
            assert await gw.approvals_service.expire_due() == 1
            assert some(await gw.approvals.get(other)).state.value == "expired"
        assert await gw.registry.get("acme", "too-late") is None
        expiries = [r for r in await gw.audit.read() if r.type is RecordType.APPROVAL]
        assert sorted(str(r.result["action"]) for r in expiries) == ["expired", "expired"]
    finally:
        await gw.stop()


async def test_approval_never_creates_what_current_policy_denies(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "policies", policies)
    gw = await started(tmp_path, make_settings, policies_dir=policies)
    try:
        async with client_for(gw) as c:
            by_policy = await queue(c, "policy-changed")
            by_name = await queue(c, "name-taken")
            # Meanwhile someone takes the name: approving can no longer create it.
            taken = await c.post(
                "/v1/create_agent", json={"name": "name-taken"}, headers=bearer("orchestrator")
            )
            assert taken.status_code == 201
            r = await c.post(f"/v1/approvals/{by_name}/approve", headers=bearer("alice"))
            assert r.json()["request"]["state"] == "denied"
            assert r.json()["decision"]["error"]["code"] == "duplicate_agent"
            # And the cost ceiling drops below 12: current policy now refuses the other.
            data = policies / "spawngate" / "cost" / "data.yaml"
            text = data.read_text()
            data.write_text(
                text[: text.index("hard_max_cost_per_day:")] + "hard_max_cost_per_day: 11\n"
            )
            assert await gw.policy.reload() is True
            r = await c.post(f"/v1/approvals/{by_policy}/approve", headers=bearer("alice"))
            assert r.status_code == 200 and r.json()["request"]["state"] == "denied"
            codes = [x["code"] for x in r.json()["request"]["outcome_reasons"]]
            assert codes[0] == "denied_on_recheck" and "SG-COST-001" in codes
        assert await gw.registry.get("acme", "policy-changed") is None
    finally:
        await gw.stop()


async def test_waiting_requester_is_released_by_the_outcome(gw: Gateway) -> None:
    async with client_for(gw) as c:
        request_id = await queue(c, "waiter")

        async def approve_soon() -> None:
            await asyncio.sleep(0.4)
            await c.post(f"/v1/approvals/{request_id}/approve", headers=bearer("alice"))

        began = time.monotonic()
        approving = asyncio.create_task(approve_soon())
        r = await c.get(
            f"/v1/requests/{request_id}", params={"wait": 20}, headers=bearer("orchestrator")
        )
        waited = time.monotonic() - began
        await approving
        assert r.json()["state"] == "created" and 0.3 < waited < 10
        quick = await c.get(
            f"/v1/requests/{request_id}", params={"wait": 0}, headers=bearer("orchestrator")
        )
        assert quick.json()["state"] == "created"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[bytes, str]]]]:
    received: list[tuple[bytes, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers.get("X-Spawngate-Signature", "")))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = bound_port(site)
    yield f"http://127.0.0.1:{port}/hook", received
    await runner.cleanup()


async def test_signed_webhook_on_final_outcome(
    gw: Gateway, receiver: tuple[str, list[tuple[bytes, str]]]
) -> None:
    url, received = receiver
    async with client_for(gw) as c:
        request_id = await queue(c, "hooked", callback_url=url)
        await c.post(
            f"/v1/approvals/{request_id}/deny", json={"note": "no"}, headers=bearer("alice")
        )
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
        bad_host = await c.post(
            "/v1/create_agent",
            json={"name": "elsewhere", **QUEUED, "callback_url": "https://evil.example/x"},
            headers=bearer("orchestrator"),
        )
    body, signature = received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    payload = json.loads(body)
    assert payload["request_id"] == request_id and payload["state"] == "denied"
    assert (
        bad_host.status_code == 422 and bad_host.json()["error"]["code"] == "callback_not_allowed"
    )


async def test_auditors_read_their_tenants_decisions(gw: Gateway) -> None:
    async with client_for(gw) as c:
        await c.post("/v1/create_agent", json={"name": "audited"}, headers=bearer("orchestrator"))
        await c.post(
            "/v1/create_sme", json={"name": "g-sme", "expertise": "x"}, headers=bearer("globex")
        )
        r = await c.get("/v1/decisions", params={"verdict": "allow"}, headers=bearer("bob"))
        assert r.status_code == 200
        assert {d["tenant"] for d in r.json()} == {"acme"} and r.json()[0]["input"][
            "name"
        ] == "audited"
        assert (await c.get("/v1/decisions", headers=bearer("orchestrator"))).status_code == 403


async def test_a_global_auditor_reads_other_tenants_and_a_tenant_auditor_does_not(
    gw: Gateway,
) -> None:
    async with client_for(gw) as c:
        await c.post(
            "/v1/create_sme", json={"name": "g-sme", "expertise": "x"}, headers=bearer("globex")
        )
        mine = await c.get(
            "/v1/decisions", params={"tenant": "globex"}, headers=bearer("root-auditor")
        )
        assert mine.status_code == 200 and {d["tenant"] for d in mine.json()} == {"globex"}
        theirs = await c.get("/v1/decisions", params={"tenant": "globex"}, headers=bearer("bob"))
        assert theirs.status_code == 403
