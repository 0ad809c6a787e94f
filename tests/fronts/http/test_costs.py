"""Cost tracking through the HTTP API: the tenant's estimated total in admission,
usage reports, and the swarm's daily figures (real gateway, real embedded Redis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gateway.audit.record import RecordType
from gateway.runtime import Gateway
from tests.conftest import bearer

TODAY = datetime.now(UTC).date().isoformat()


async def create(client: httpx.AsyncClient, name: str, cost: float | None = None) -> httpx.Response:
    body: dict[str, Any] = {"name": name}
    if cost is not None:
        body["estimated_cost_per_day"] = cost
    return await client.post("/v1/create_agent", json=body, headers=bearer("orchestrator"))


async def usage(
    client: httpx.AsyncClient, name: str, body: object, who: str = "orchestrator"
) -> httpx.Response:
    return await client.post(f"/v1/agents/{name}/usage", json=body, headers=bearer(who))


def today(report: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = next(d for d in report["days"] if d["day"] == TODAY)
    return row


async def test_creation_over_the_tenant_limit_is_reviewed_naming_the_totals(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    # acme's limit is 10 $/day (config/demo.yaml); the default template costs 1.
    assert (await create(client, "first", 4)).status_code == 201
    assert (await create(client, "second", 4)).status_code == 201
    third = await create(client, "third", 3)
    assert third.status_code == 202, third.json()
    reasons = {r["code"]: r for r in third.json()["reasons"]}
    assert reasons["SG-APPROVAL-004"]["message"] == (
        "tenant 'acme' estimated cost would be 11 $/day (active agents 8 + this agent 3), "
        "above its limit of 10 $/day"
    )
    assert "at most 2" in reasons["SG-APPROVAL-004"]["fix"]
    # The fact is recorded with the decision, for replay.
    records = [r for r in await gateway.audit.read() if r.type is RecordType.DECISION]
    swarm = records[-1].policy_input["swarm"] if records[-1].policy_input else None
    assert isinstance(swarm, dict) and swarm["active_cost_per_day"] == 8
    # The hard ceiling is still a deny, whatever the total.
    assert (await create(client, "huge", 500)).status_code == 403


async def test_a_request_cannot_claim_less_than_its_template(client: httpx.AsyncClient) -> None:
    r = await create(client, "modest", 0.25)
    assert r.status_code == 201, r.json()
    assert r.json()["agent"]["estimated_cost_per_day"] == 1.0  # the default template's


async def test_usage_reports_aggregate_and_the_swarm_figures_match(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    assert (await create(client, "writer", 2)).status_code == 201
    assert (await create(client, "reader", 3)).status_code == 201
    first = await usage(client, "writer", {"tokens": 1000, "cost": 0.5})
    assert first.status_code == 200, first.json()
    assert first.json() == {
        "agent": "writer",
        "tenant": "acme",
        "creator": "acme-orchestrator",
        "day": TODAY,
        "day_tokens": 1000,
        "day_cost": 0.5,
    }
    second = (await usage(client, "writer", {"tokens": 500, "cost": 1.25})).json()
    assert (second["day_tokens"], second["day_cost"]) == (1500, 1.75)
    # Reporting usage is activity: the retirement sweep sees the writer as active.
    writer = await gateway.registry.get("acme", "writer")
    reader = await gateway.registry.get("acme", "reader")
    assert writer is not None and writer.last_activated_at is not None
    assert reader is not None and reader.last_activated_at is None
    assert (await usage(client, "reader", {"tokens": 10, "cost": 0.1})).status_code == 200

    r = await client.get("/v1/metrics/swarm", params={"tenant": "acme"}, headers=bearer("bob"))
    assert r.status_code == 200, r.json()
    report = r.json()
    assert report["tenant"] == "acme" and report["max_cost_per_day"] == 10
    assert report["active_estimated_cost"] == 5 and len(report["days"]) == 7
    row = today(report)
    assert (row["spawned"], row["retired"], row["total"]) == (2, 0, 2)
    assert row["estimated_cost"] == 5 and row["actual_cost"] == 1.85
    assert (row["tokens"], row["usage_reports"]) == (1510, 3)
    assert row["top_spenders"] == [
        {"name": "writer", "cost": 1.75, "tokens": 1500},
        {"name": "reader", "cost": 0.1, "tokens": 10},
    ]
    assert row["top_creators"] == [{"name": "acme-orchestrator", "cost": 1.85, "tokens": 1510}]
    # Every report is in the decision log.
    reports = [r for r in await gateway.audit.read() if r.type is RecordType.USAGE]
    assert [(r.tenant, r.principal, r.input["agent"]) for r in reports] == [
        ("acme", "acme-orchestrator", "writer"),
        ("acme", "acme-orchestrator", "writer"),
        ("acme", "acme-orchestrator", "reader"),
    ]
    # Admins read it too; the default tenant is the caller's.
    admin = await client.get("/v1/metrics/swarm", headers=bearer("carol"))
    assert admin.status_code == 200 and today(admin.json()) == row


async def test_retirement_takes_an_agent_off_and_days_carry_forward(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    assert (await create(client, "short-lived", 4)).status_code == 201
    assert (await create(client, "long-lived", 1)).status_code == 201
    assert await gateway.costs.record_retired("acme", "short-lived") is True
    assert await gateway.costs.record_retired("acme", "short-lived") is False  # once
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    r = await client.get(
        "/v1/metrics/swarm", params={"days": 2, "until": tomorrow}, headers=bearer("bob")
    )
    first, second = r.json()["days"]
    assert (first["day"], first["spawned"], first["retired"], first["total"]) == (TODAY, 2, 1, 1)
    assert first["estimated_cost"] == 1
    # A day without changes carries the swarm's size and estimate forward.
    assert (second["day"], second["spawned"], second["total"], second["estimated_cost"]) == (
        tomorrow,
        0,
        1,
        1,
    )
    # The freed estimate counts in admission at once: 1 + 9 is at the limit.
    assert (await create(client, "fits-again", 9)).status_code == 201


async def test_another_tenant_cannot_report_or_read(client: httpx.AsyncClient) -> None:
    assert (await create(client, "acme-only", 1)).status_code == 201
    # globex's caller names an agent its tenant does not have.
    r = await usage(client, "acme-only", {"tokens": 1, "cost": 1}, who="globex")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    denied = await client.get(
        "/v1/metrics/swarm", params={"tenant": "acme"}, headers=bearer("globex")
    )
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "not_authorized"
    # acme's auditor does not read globex; a global auditor reads any tenant.
    r = await client.get("/v1/metrics/swarm", params={"tenant": "globex"}, headers=bearer("bob"))
    assert r.status_code == 403
    r = await client.get(
        "/v1/metrics/swarm", params={"tenant": "acme"}, headers=bearer("root-auditor")
    )
    assert r.status_code == 200 and today(r.json())["spawned"] == 1
    # Roles: an orchestrator does not read costs, an auditor does not report usage.
    r = await client.get("/v1/metrics/swarm", headers=bearer("orchestrator"))
    assert r.status_code == 403
    assert (
        await usage(client, "acme-only", {"tokens": 1, "cost": 1}, who="bob")
    ).status_code == 403
    anonymous = await client.post("/v1/agents/acme-only/usage", json={"tokens": 1, "cost": 1})
    assert anonymous.status_code == 401


async def test_a_bad_usage_body_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    assert (await create(client, "measured", 1)).status_code == 201
    cases: list[tuple[object, str]] = [
        ({"tokens": -1, "cost": 1}, "body.tokens"),
        ({"tokens": 1, "cost": "a lot"}, "body.cost"),
        ({"tokens": 1, "cost": 2_000_000}, "body.cost"),
        ({"tokens": 1}, "body.cost"),
        ({"tokens": 1, "cost": 1, "note": "x"}, "body.note"),
    ]
    for body, field in cases:
        r = await usage(client, "measured", body)
        assert r.status_code == 422, (body, r.json())
        assert field in {p["field"] for p in r.json()["error"]["problems"]}, (body, r.json())
    bad_query = await client.get("/v1/metrics/swarm", params={"days": 0}, headers=bearer("bob"))
    assert bad_query.status_code == 422
    assert bad_query.json()["error"]["problems"][0]["field"] == "query.days"
