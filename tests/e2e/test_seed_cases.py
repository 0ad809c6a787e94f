"""The other cases of the design documents, against one real ``spawngate serve``.

Seed 003 (ADR): the $10/day cost rule, devops always to a human, the capability
allowlist, auto-approve rules, job-style (ttl) agents, cost tracking. Seeds
000-002: self-service off until enabled, approval with a note, the audit trail of
every attempt, validation, lineage. Tenant acme here has dedup off (these cases
are not about duplicates) and a danger threshold that lets an orchestrator
template through, so lineage can be exercised without a human.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.conftest import Served, serve, wait_for

ACME = {
    "enabled": True,
    "approval_mode": "risk_based",
    "danger_threshold": 0.5,
    "dedup": "off",
    "max_cost_per_day": 1000,
    "ttl": {"allowed": True, "max_seconds": 60},
    "lineage": {"max_depth": 2, "max_descendants_per_root": 50, "root_spawns_per_minute": 100},
    "quotas": {
        "per_agent": {"per_minute": 1000, "per_hour": 1000, "per_day": 1000},
        "per_tenant": {"per_minute": 1000, "per_hour": 1000, "per_day": 1000},
        "max_active_agents": 100,
    },
}
#: Seed 003's auto-approve rules (config/demo.yaml), and duplicates refused outright.
GLOBEX = {"enabled": True, "approval_mode": "auto_approve_rules", "dedup": "deny"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(
        tmp_path_factory.mktemp("seeds"), {"acme": ACME, "globex": GLOBEX, "initech": {}}
    ) as served:
        yield served


def codes(answer: dict[str, Any]) -> set[str]:
    return {r["code"] for r in answer["reasons"]}


def test_a_proposal_above_the_tenants_daily_cost_goes_to_a_human(gw: Served) -> None:
    # ADR: estimated_cost_above 10 ($/day) needs human approval. globex keeps the
    # default max_cost_per_day of 10 (acme's is raised here so its other cases
    # are not queued by the running total); globex orchestrators create SMEs only.
    r = gw.post(
        "/v1/create_sme",
        "globex",
        json={
            "name": "g-pricey",
            "template": "researcher",
            "capabilities": ["market_research"],
            "expertise": "market sizing",
            "estimated_cost_per_day": 11,
        },
    )
    assert r.status_code == 202, r.text
    (cost,) = [x for x in r.json()["reasons"] if x["code"] == "SG-APPROVAL-004"]
    assert "above its limit of 10 $/day" in cost["message"]
    assert r.json()["outcome"] == "pending_approval"
    assert gw.get("/v1/agents/g-pricey", "globex").status_code == 404


def test_above_the_hard_ceiling_is_denied(gw: Served) -> None:
    r = gw.create(name="gold-plated", estimated_cost_per_day=250)
    assert r.status_code == 403, r.text
    assert "SG-COST-001" in codes(r.json())


def test_the_devops_template_always_needs_approval(gw: Served) -> None:
    r = gw.create(name="deployer", template="devops", capabilities=["kubernetes"])
    assert r.status_code == 202, r.text
    assert "SG-APPROVAL-002" in codes(r.json())  # the template itself
    assert "SG-APPROVAL-003" in codes(r.json())  # kubernetes / kubectl


def test_a_capability_outside_the_allowlist_is_denied_naming_it(gw: Served) -> None:
    r = gw.create(name="miner", template="general-assistant", capabilities=["crypto_mining"])
    assert r.status_code == 403, r.text
    (reason,) = [x for x in r.json()["reasons"] if x["code"] == "SG-CAP-001"]
    assert "crypto_mining" in reason["message"]
    assert reason["fix"] == "drop capabilities crypto_mining"
    # globex's own allowlist has no infrastructure capability at all.
    g = gw.post(
        "/v1/create_sme",
        "globex",
        json={
            "name": "g-ops",
            "template": "general-assistant",
            "capabilities": ["kubernetes"],
            "expertise": "operations",
        },
    )
    assert g.status_code == 403, g.text
    assert any("kubernetes" in x["message"] for x in g.json()["reasons"])


def test_auto_approve_rules_pre_approved_template_or_a_human(gw: Served) -> None:
    # ADR auto_approve: template_in [researcher, ...], capabilities in the allowlist.
    def sme(name: str, template: str, capability: str) -> Any:
        body = {
            "name": name,
            "template": template,
            "capabilities": [capability],
            "expertise": "papers",
        }
        return gw.post("/v1/create_sme", "globex", json=body)

    ok = sme("g-papers", "researcher", "literature_review")
    assert ok.status_code == 201, ok.text
    # media-generator is not among globex's templates at all.
    refused = sme("g-diagrams", "media-generator", "diagram_generation")
    assert refused.status_code == 403, refused.text
    # globex orchestrators create SMEs only (Casbin deny line for agents).
    agent = gw.create("globex", name="g-agent", role="anything")
    assert agent.status_code == 403, agent.text
    assert [x["code"] for x in agent.json()["reasons"]] == ["not_authorized"]


def test_dedup_deny_refuses_a_duplicate_naming_the_agent_to_ask(gw: Served) -> None:
    body = {
        "name": "g-translator",
        "template": "general-assistant",
        "capabilities": ["translation"],
        "expertise": "German to English",
        "justification": "Recurring translation requests",
    }
    first = gw.post("/v1/create_sme", "globex", json=body)
    assert first.status_code == 201, first.text
    second = gw.post("/v1/create_sme", "globex", json={**body, "name": "g-translator-2"})
    assert second.status_code == 403, second.text
    (dup,) = [x for x in second.json()["reasons"] if x["code"] == "SG-DEDUP-001"]
    assert "g-translator" in dup["message"]
    assert dup["fix"] == "ask @g-translator instead of creating a new agent"
    found = gw.get("/v1/agents/search", "globex", params={"capability": "translation"})
    assert found.json()["suggestion"] == "Try asking @g-translator"


def test_a_ttl_agent_expires(gw: Served) -> None:
    r = gw.create(name="job-agent", role="runs one batch job", ttl_seconds=1)
    assert r.status_code == 201, r.text
    assert r.json()["agent"]["expires_at"] is not None

    def expired() -> bool:
        shown = gw.get("/v1/agents/job-agent", "orchestrator")
        return shown.status_code == 404 or shown.json().get("state") == "retired"

    wait_for("the ttl agent expires", expired)
    event = gw.hook.wait("expired", "job-agent")
    assert event.verifies()
    # A ttl above the tenant's cap is refused naming the field and the limit.
    over = gw.create(name="long-job", role="runs a long job", ttl_seconds=61)
    assert over.status_code == 422, over.text
    assert "ttl_seconds" in over.text and "60" in over.text


def test_usage_report_shows_in_the_swarm_metrics(gw: Served) -> None:
    made = gw.create(name="spender", role="summarises reports")
    assert made.status_code == 201, made.text
    used = gw.post("/v1/agents/spender/usage", "orchestrator", json={"tokens": 4200, "cost": 1.5})
    assert used.status_code == 200, used.text
    assert used.json()["day_cost"] == 1.5 and used.json()["creator"] == "acme-orchestrator"
    figures = gw.get("/v1/metrics/swarm", "bob", params={"tenant": "acme", "days": 1})
    assert figures.status_code == 200, figures.text
    today = datetime.now(UTC).date().isoformat()
    (day,) = [d for d in figures.json()["days"] if d["day"] == today]
    assert day["actual_cost"] >= 1.5
    assert day["tokens"] >= 4200
    assert day["spawned"] >= 1
    assert "spender" in str(day["top_spenders"])
    # Another tenant's agent does not exist for the caller; an agent may not read costs.
    other = gw.post("/v1/agents/spender/usage", "globex", json={"tokens": 1, "cost": 0.1})
    assert other.status_code == 404, other.text
    forbidden = gw.get("/v1/metrics/swarm", "orchestrator", params={"tenant": "acme"})
    assert forbidden.status_code == 403, forbidden.text


def test_self_service_is_off_until_a_tenant_enables_it(gw: Served) -> None:
    # Seed 000: "disabled by default and must be explicitly enabled".
    r = gw.create("initech", name="sneaky", role="anything")
    assert r.status_code == 403, r.text
    assert [x["code"] for x in r.json()["reasons"]] == ["feature_disabled"]
    audit = gw.get("/v1/decisions", "root-auditor", params={"tenant": "initech"})
    assert r.json()["decision_id"] in {rec["decision_id"] for rec in audit.json()}


def test_approval_with_a_note_creates_exactly_one_agent(gw: Served) -> None:
    # Seed 000 approvals page / seed 002 REQ-3: a human decides, with a note.
    queued = gw.create(name="cluster-ops", template="devops", capabilities=["docker"])
    assert queued.status_code == 202, queued.text
    request_id = queued.json()["request_id"]
    approved = gw.post(
        f"/v1/approvals/{request_id}/approve", "alice", json={"note": "change ticket OPS-42"}
    )
    assert approved.status_code == 200, approved.text
    status = gw.get(f"/v1/requests/{request_id}", "orchestrator")
    assert status.status_code == 200, status.text
    assert status.json()["state"] == "created", status.text
    assert gw.get("/v1/agents/cluster-ops", "orchestrator").status_code == 200
    shown = gw.get(f"/v1/approvals/{request_id}", "alice").json()
    assert shown["note"] == "change ticket OPS-42" and shown["decided_by"] == "alice"
    approved_event = gw.hook.wait("created", "cluster-ops")
    assert approved_event.verifies()
    # A second approval of the same request creates nothing more.
    twice = gw.post(f"/v1/approvals/{request_id}/approve", "alice")
    assert twice.status_code == 409, twice.text
    assert twice.json()["error"]["code"] == "approval_already_decided"
    assert gw.hook.wait("approved", "cluster-ops").event["detail"] is not None
    # Another tenant's approver does not see the request; an agent may not approve.
    assert gw.post(f"/v1/approvals/{request_id}/approve", "gina").status_code == 404
    assert gw.post(f"/v1/approvals/{request_id}/approve", "orchestrator").status_code == 403


def test_a_denied_approval_creates_nothing(gw: Served) -> None:
    queued = gw.create(name="shell-bot", template="devops", capabilities=["shell"])
    assert queued.status_code == 202, queued.text
    request_id = queued.json()["request_id"]
    denied = gw.post(f"/v1/approvals/{request_id}/deny", "alice", json={"note": "no shell"})
    assert denied.status_code == 200, denied.text
    assert gw.get("/v1/agents/shell-bot", "orchestrator").status_code == 404
    assert gw.get(f"/v1/requests/{request_id}", "orchestrator").json()["state"] == "denied"
    assert gw.hook.wait("denied", "shell-bot").verifies()


def test_validation_errors_name_the_field_and_are_recorded_for_the_tenant(gw: Served) -> None:
    # Seed 002 REQ-2: name is required; issue 10: control characters are refused.
    r = gw.create(role="reviews code\x1b[31m")
    assert r.status_code == 422, r.text
    fields = {p["field"] for p in r.json()["error"]["problems"]}
    assert fields == {"name", "role"}
    audit = gw.get("/v1/decisions", "bob", params={"decision_id": r.json()["decision_id"]})
    (record,) = [x for x in audit.json() if x["decision_id"] == r.json()["decision_id"]]
    assert record["tenant"] == "acme"


def test_lineage_depth_comes_from_the_tenant(gw: Served) -> None:
    # Seed 001: an orchestrator creates a sub-orchestrator, which creates workers,
    # as deep as the tenant's lineage.max_depth (2 here) allows.
    sub = gw.create(
        name="sub-orchestrator",
        template="orchestrator",
        tools=["create_agent", "web_search"],
        role="splits research tasks",
    )
    assert sub.status_code == 201, sub.text
    key = sub.json()["agent_api_key"]
    assert sub.json()["agent"]["depth"] == 1
    worker = gw.create(key, name="sub-worker", tools=["web_search"], role="searches")
    assert worker.status_code == 201, worker.text
    assert worker.json()["agent"]["depth"] == 2
    assert worker.json()["agent"]["root"] == "acme-orchestrator"
    # A depth-2 agent may not be handed spawning rights: its children would be at depth 3.
    deeper = gw.create(
        key, name="sub-sub-orchestrator", template="orchestrator", tools=["create_agent"]
    )
    assert deeper.status_code == 403, deeper.text
    (reason,) = deeper.json()["reasons"]
    assert reason["code"] == "SG-TOOLS-002" and "lineage.max_depth 2" in reason["message"]


def test_the_audit_log_has_every_attempt(gw: Served) -> None:
    # Seed 000: "every creation attempt is logged with full parameters and outcomes".
    attempts = [
        gw.create(name="audited-ok", role="summarises"),
        gw.create(name="audited-denied", estimated_cost_per_day=500),
        gw.create(name="audited-queued", template="devops", capabilities=["kubernetes"]),
        gw.create(name="Bad Name!"),
        gw.create("intern", name="audited-unauthorized", role="x"),
    ]
    statuses = [a.status_code for a in attempts]
    assert statuses == [201, 403, 202, 422, 403], [a.text for a in attempts]
    ids = {a.json()["decision_id"] for a in attempts}
    logged = gw.get("/v1/decisions", "bob", params={"limit": 1000})
    assert logged.status_code == 200, logged.text
    records = logged.json()
    assert ids <= {rec["decision_id"] for rec in records}
    # One decision record per attempt, with the answer the caller got.
    logged_status = {
        rec["decision_id"]: rec["result"]["status_code"]
        for rec in records
        if rec["decision_id"] in ids and rec["type"] == "decision"
    }
    assert logged_status == {a.json()["decision_id"]: a.status_code for a in attempts}
    # An auditor of acme sees nothing of globex.
    assert gw.get("/v1/decisions", "bob", params={"tenant": "globex"}).status_code == 403


def test_tenants_never_see_each_others_agents(gw: Served) -> None:
    made = gw.create(name="acme-only", role="summarises")
    assert made.status_code == 201, made.text
    seen = gw.get("/v1/agents/search", "globex", params={"q": "acme-only"})
    assert seen.status_code == 200, seen.text
    assert seen.json()["agents"] == []
    assert gw.get("/v1/agents/acme-only", "globex").status_code == 404


def test_seed_002_prompt_format_aliases_and_world_model(gw: Served) -> None:
    # REQ-2 aliases, REQ-4 the tenant's (world's) provider/model, REQ-5 the prompt.
    r = gw.create(name="reviewer", role="reviews code", **{"next agent": "qa-agent"})
    assert r.status_code == 201, r.text
    agent = r.json()["agent"]
    assert agent["system_prompt"] == (
        "You are agent reviewer. Your role is reviews code.\n\n"
        "Always respond in exactly this structure:\n@qa-agent\n{Your response}"
    )
    assert (agent["provider"], agent["model"]) == ("anthropic", "claude-sonnet-4-20250514")
    plain = gw.create(name="plain-agent", **{"auto-reply": False})
    assert plain.status_code == 201, plain.text
    assert plain.json()["agent"]["auto_reply"] is False
    assert plain.json()["agent"]["system_prompt"] == (
        "You are agent plain-agent.\n\nAlways respond in exactly this structure:\n@human\n"
        "{Your response}"
    )


def test_a_duplicate_name_fails_safely(gw: Served) -> None:
    # Seed 002 REQ-4: a conflict is a clear error and nothing is partly written.
    assert gw.create(name="only-once", role="the first").status_code == 201
    again = gw.create(name="only-once", role="the second")
    assert again.status_code == 409, again.text
    assert gw.get("/v1/agents/only-once", "orchestrator").json()["role"] == "the first"
