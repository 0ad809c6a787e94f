"""Seed 003 (ADR "dynamic agent spawning"), its Example Interaction end to end.

One test, in the ADR's order, against a real ``spawngate serve``: discovery finds
nobody and suggests ``media-generator``; the proposal from that template is
auto-approved and its tools are the template's (the creator holds none of them);
the swarm hears of it through a signed webhook; a second identical proposal is
caught by capability deduplication naming the first agent; after the agent is
idle past ``retire_after_days`` (the sweep's clock moved with ``--now``), the
sweep proposes its retirement, an approver approves, the agent is gone, its
slot is free again, and the swarm hears of that too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Served, serve

#: The tenant's settings for this flow: the ADR's limits, scaled down so the
#: swarm-size limit is reached with two agents (max_active_agents: 2).
ACME = {
    "enabled": True,
    "approval_mode": "risk_based",
    "dedup": "review",
    "retire_after_days": 30,
    "protected_agents": ["keep-*"],
    "max_cost_per_day": 10,
    "quotas": {"max_active_agents": 2},
}
#: The creating agent holds none of the media tools: the template grants them.
CODE_AGENT_TOOLS = ["create_agent", "create_sme", "web_search", "repo_read", "pr_comment"]

#: The ADR's proposal: template media-generator, the diagram capability module
#: (mermaid and PlantUML; svg export is what the agent is asked to do).
PROPOSAL: dict[str, Any] = {
    "name": "diagram-agent",
    "template": "media-generator",
    "capabilities": ["diagram_generation"],
    "role": "draws architecture diagrams with mermaid and PlantUML, exported to SVG",
    "justification": "Recurring requests for architecture diagrams",
}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(
        tmp_path_factory.mktemp("adr"),
        {"acme": ACME},
        tools={"acme-orchestrator": CODE_AGENT_TOOLS},
    ) as served:
        yield served


def test_the_adr_example_interaction(gw: Served) -> None:
    # 1. Capability gap: nobody offers diagram generation; the answer names the template.
    found = gw.get("/v1/agents/search", "orchestrator", params={"capability": "diagram_generation"})
    assert found.status_code == 200, found.text
    assert found.json()["agents"] == []
    assert "media-generator" in found.json()["suggestion"]

    # 2-4. The proposal, auto-approved (low danger, under the cost limit and swarm size).
    created = gw.create(**PROPOSAL)
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["outcome"] == "created"
    assert answer["reasons"] == []
    # The template's tools, granted by the template: not charged to the creator,
    # which holds none of them.
    assert sorted(answer["tools"]["from_template"]) == ["filesystem", "mermaid", "plantuml"]
    assert answer["tools"]["from_request"] == []
    assert sorted(answer["agent"]["tools"]) == ["filesystem", "mermaid", "plantuml"]
    assert answer["agent"]["capabilities"] == ["diagram_generation"]
    assert not set(answer["agent"]["tools"]) & set(CODE_AGENT_TOOLS)
    first_decision = answer["decision_id"]

    # 5. Swarm notification: a signed 'created' event at the webhook.
    joined = gw.hook.wait("created", "diagram-agent")
    assert joined.verifies(), "the HMAC-SHA256 of the body with the secret must match"
    assert not joined.verifies("another-secret")
    event = joined.event
    assert event["tenant"] == "acme"
    assert event["agent"]["id"] == "acme/diagram-agent"
    assert event["decision_id"] == first_decision
    assert event["detail"]["creator"] == "acme-orchestrator"
    assert event["detail"]["template"] == "media-generator"
    assert event["channel"] == "#swarm-updates"

    # Discovery now points at the new colleague.
    again = gw.get("/v1/agents/search", "orchestrator", params={"capability": "diagram_generation"})
    assert [a["name"] for a in again.json()["agents"]] == ["diagram-agent"]
    assert "@diagram-agent" in again.json()["suggestion"]

    # A second identical proposal: dedup (tenant setting review) names the first
    # agent and the fix, and a human sees the justification.
    second = gw.create(**PROPOSAL)
    assert second.status_code == 202, second.text
    dedup = [r for r in second.json()["reasons"] if r["code"] == "SG-DEDUP-001"]
    assert len(dedup) == 1, second.json()["reasons"]
    assert "diagram-agent" in dedup[0]["message"]
    assert dedup[0]["fix"] == "ask @diagram-agent instead of creating a new agent"
    queued_id = second.json()["request_id"]
    (queued,) = [a for a in gw.approvals() if a["id"] == queued_id]
    assert queued["request"]["justification"] == PROPOSAL["justification"]
    vetoed = gw.post(
        f"/v1/approvals/{queued_id}/deny", "alice", json={"note": "ask @diagram-agent instead"}
    )
    assert vetoed.status_code == 200, vetoed.text

    # Fill the swarm: a protected agent takes the second slot, a third is refused.
    assert gw.create(name="keep-notes", role="keeps meeting notes").status_code == 201
    blocked = gw.create(name="release-notes", role="writes release notes")
    assert blocked.status_code == 429, blocked.text
    assert "max_active_agents" in blocked.text

    # Not idle long enough: nothing to propose.
    assert "would propose:" not in gw.sweep(29, dry_run=True).stdout
    # Idle past retire_after_days: the dry run names it and changes nothing.
    dry = gw.sweep(31, dry_run=True)
    assert "would propose: acme/diagram-agent" in dry.stdout
    assert "would propose: acme/keep-notes" not in dry.stdout
    assert "protected: acme/keep-notes" in dry.stdout
    assert [a for a in gw.approvals() if a["kind"] == "retirement"] == []

    # The sweep proposes the retirement into the approval queue (human veto).
    assert "acme/diagram-agent" in gw.sweep(31).stdout
    (proposal,) = [a for a in gw.approvals() if a["kind"] == "retirement"]
    assert proposal["request"]["name"] == "diagram-agent"
    assert proposal["state"] == "pending"
    approved = gw.post(
        f"/v1/approvals/{proposal['id']}/approve", "alice", json={"note": "unused for a month"}
    )
    assert approved.status_code == 200, approved.text

    # Retired: gone from the registry, from discovery, and its slot is free.
    gone = gw.get("/v1/agents/diagram-agent", "orchestrator")
    assert gone.status_code == 404 or gone.json().get("state") == "retired", gone.text
    shown = gw.get(f"/v1/approvals/{proposal['id']}", "alice")
    assert shown.json()["state"] == "retired"
    assert shown.json()["decided_by"] == "alice"
    after = gw.get("/v1/agents/search", "orchestrator", params={"capability": "diagram_generation"})
    assert after.json()["agents"] == []
    freed = gw.create(name="release-notes", role="writes release notes")
    assert freed.status_code == 201, freed.text

    retired = gw.hook.wait("retired", "diagram-agent")
    assert retired.verifies()
    assert retired.event["tenant"] == "acme"
    assert retired.event["agent"]["id"] == "acme/diagram-agent"
    # The approval of the retirement is an event too; it names the agent (not the
    # proposal's kind) and says what was approved.
    approvals = [d.event for d in gw.hook.events("approved", "diagram-agent")]
    (retirement,) = [e for e in approvals if e["request_id"] == proposal["id"]]
    assert retirement["agent"]["id"] == "acme/diagram-agent"
    assert retirement["agent"]["kind"] != "retirement"
    assert retirement["detail"]["proposal"] == "retirement"
    assert retirement["detail"]["decided_by"] == "alice"
