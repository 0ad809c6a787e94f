"""``Client`` against `spawngate serve`: typed answers, typed refusals, approvals, paging."""

from __future__ import annotations

import pytest

from gateway.client import (
    Client,
    DecisionPage,
    Denied,
    InvalidRequest,
    NotFound,
    Unauthenticated,
    WaitTimeout,
)
from gateway.fronts.http.shapes import DecisionAnswer
from tests.conftest import DEMO
from tests.fronts.mcp.live import LiveGateway


def client(live: LiveGateway, who: str) -> Client:
    return Client(base_url=live.base_url, api_key=DEMO.get(who, who))


def test_create_then_find(live: LiveGateway) -> None:
    with client(live, "orchestrator") as sg:
        answer = sg.create_agent(
            name="client-reader", template="researcher", capabilities=["literature_review"]
        )
        assert isinstance(answer, DecisionAnswer)
        assert answer.outcome == "created" and answer.agent is not None
        assert answer.agent["id"] == "acme/client-reader"
        found = sg.search_agents(capability="literature_review")
        assert "client-reader" in [a.name for a in found.agents]
        assert sg.get_agent("client-reader").decision_id == answer.decision_id
        sme = sg.create_sme({"name": "client-sme", "expertise": "tax law"})
        assert sme.outcome == "created"


def test_refusals_are_typed_and_carry_reasons_and_fixes(live: LiveGateway) -> None:
    with client(live, "orchestrator") as sg:
        with pytest.raises(Denied) as denied:
            sg.create_agent(name="client-rogue", tools=["vault"], estimated_cost_per_day=500)
        err = denied.value
        assert err.status == 403 and err.decision_id
        assert "SG-TOOLS-001" in {r["code"] for r in err.reasons}
        assert err.fixes and all(isinstance(f, str) for f in err.fixes)
        assert err.answer["outcome"] == "denied"

        with pytest.raises(InvalidRequest) as invalid:
            sg.create_agent(name="Not A Name", tool=["typo"])
        assert {p["field"] for p in invalid.value.problems} >= {"name", "tool"}

        with pytest.raises(NotFound):
            sg.get_agent("client-nobody")
    with client(live, "sg_nobody") as stranger, pytest.raises(Unauthenticated) as who:
        stranger.search_agents()
    assert who.value.code == "unauthenticated"


def test_idempotency_key_replays_the_first_answer(live: LiveGateway) -> None:
    with client(live, "orchestrator") as sg:
        first = sg.create_agent(name="client-once", idempotency_key="client-once-1")
        again = sg.create_agent(name="client-once", idempotency_key="client-once-1")
        assert first.outcome == "created" and again.decision_id == first.decision_id


def test_a_queued_request_waits_for_its_approval(live: LiveGateway) -> None:
    with client(live, "orchestrator") as sg, client(live, "alice") as approver:
        queued = sg.create_agent(
            name="client-deployer", template="devops", capabilities=["kubernetes"]
        )
        assert queued.outcome == "pending_approval" and queued.request_id
        with pytest.raises(WaitTimeout):
            sg.wait_for(queued.request_id, timeout=0)
        assert queued.request_id in [r.id for r in approver.list_approvals()]
        assert approver.show_approval(queued.request_id).state.value == "pending"
        outcome = approver.approve(queued.request_id, note="reviewed")
        assert outcome.decision.outcome == "created"
        final = sg.wait_for(queued.request_id, timeout=30)
        assert final.state.value == "created"

        other = sg.create_agent(name="client-shell", template="devops", capabilities=["shell"])
        assert other.request_id is not None
        assert approver.deny(other.request_id, note="no").state.value == "denied"


def test_the_decision_log_is_read_page_after_page(live: LiveGateway) -> None:
    with client(live, "orchestrator") as sg:
        for i in range(3):
            sg.create_agent(name=f"client-paged-{i}")
    with client(live, "bob") as auditor:
        page = auditor.decisions(limit=2)
        assert isinstance(page, DecisionPage) and len(page.records) == 2
        assert page.next_cursor is not None
        every = list(auditor.iter_decisions(page_size=2))
        ids = [r.decision_id for r in every]
        assert len(every) > 2 and ids[:2] == [r.decision_id for r in page.records]
        only_denied = list(auditor.iter_decisions(verdict="deny"))
        assert all(r.result.get("verdict") == "deny" for r in only_denied)
    with client(live, "orchestrator") as sg, pytest.raises(Denied) as not_auditor:
        sg.decisions()
    assert not_auditor.value.code == "not_an_auditor"


def test_usage_activity_and_the_swarm_figures(live: LiveGateway) -> None:
    with client(live, "orchestrator") as sg:
        answer = sg.create_agent(
            name="client-spender", template="researcher", capabilities=["literature_review"]
        )
        if answer.outcome == "pending_approval":
            # The module's earlier agents may have used up acme's $10/day: a human approves.
            assert answer.request_id is not None
            with client(live, "alice") as approver:
                approver.approve(answer.request_id, note="within this month's budget")
        assert sg.report_activity("client-spender").last_activated_at is not None
        used = sg.report_usage("client-spender", tokens=1200, cost=0.75)
        assert (used.agent, used.day_tokens, used.day_cost) == ("client-spender", 1200, 0.75)
        with pytest.raises(NotFound):
            sg.report_usage("nobody-here", tokens=1, cost=0.01)
    # The swarm figures are for auditors and admins: bob audits acme.
    with client(live, "bob") as auditor:
        report = auditor.swarm(days=1)
        assert report.tenant == "acme" and len(report.days) == 1
        assert report.days[0].tokens >= 1200 and report.days[0].actual_cost >= 0.75
    with client(live, "orchestrator") as sg, pytest.raises(Denied):
        sg.swarm()
