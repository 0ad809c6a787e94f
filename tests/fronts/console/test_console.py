"""The web console end to end, in a real browser against a real server (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import bearer
from tests.fronts.console.conftest import create, queue, shot, sign_in

pytestmark = pytest.mark.timeout(300)


def test_the_console_asks_for_an_api_key_first(server: str, page: Any) -> None:
    page.goto(f"{server}/console/approvals")
    assert page.url == f"{server}/console/signin"
    assert page.get_by_label("API key").is_visible()
    shot(page, "signin")
    page.get_by_label("API key").fill("sg_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That API key was not accepted."


def test_an_approver_approves_one_request_and_denies_another(server: str, page: Any) -> None:
    approve_id = queue(
        server, "costly-one", tools=["web_search"], justification="Quarterly market research"
    )
    deny_id = queue(server, "costly-two")
    sign_in(page, server, "alice")
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Settings", "Approvals", "Templates", "Logs"):
        assert nav.get_by_role("link", name=name).is_visible()
    nav.get_by_role("link", name="Approvals").click()
    assert page.get_by_role("link", name=approve_id).is_visible()
    assert page.get_by_role("link", name=deny_id).is_visible()
    assert "cost" in page.locator("#queue").inner_text()
    shot(page, "approvals")

    page.get_by_role("link", name=approve_id).click()
    shot(page, "approval")
    form = page.locator("form", has=page.get_by_role("button", name="Approve"))
    form.get_by_label("Note").fill("budget agreed with finance")
    form.get_by_role("button", name="Approve").click()
    status = page.get_by_role("status").inner_text()
    assert "now created" in status and "costly-one" in status
    agent = httpx.get(f"{server}/v1/agents/costly-one", headers=bearer("orchestrator"))
    assert agent.status_code == 200, agent.text

    page.goto(f"{server}/console/approvals/{deny_id}")
    form = page.locator("form", has=page.get_by_role("button", name="Deny"))
    form.get_by_label("Note").fill("too expensive for what it does")
    form.get_by_role("button", name="Deny").click()
    assert "now denied" in page.get_by_role("status").inner_text()
    assert page.get_by_role("button", name="Approve").count() == 0


def test_an_approver_is_told_why_self_approval_is_refused(server: str, page: Any) -> None:
    # carol (admin) may decide, but never her own request: the service's reason shows.
    own = queue(server, "carols-own", who="carol", tools=[])
    sign_in(page, server, "carol")
    page.goto(f"{server}/console/approvals/{own}")
    form = page.locator("form", has=page.get_by_role("button", name="Approve"))
    form.get_by_label("Note").fill("mine")
    form.get_by_role("button", name="Approve").click()
    assert "self_approval" in page.get_by_role("alert").inner_text()


def test_an_auditor_filters_the_log_and_exports_the_view(server: str, page: Any) -> None:
    assert create(server, "plain-helper").status_code == 201
    assert create(server, "intern-made", who="intern").status_code == 403
    sign_in(page, server, "bob")
    page.get_by_role("link", name="Logs").click()
    page.get_by_label("Outcome").select_option("deny")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 1 and "acme-intern" in rows.first.inner_text()
    shot(page, "logs")

    with page.expect_download() as jsonl:
        page.get_by_role("link", name="JSONL").click()
    lines = [json.loads(x) for x in Path(jsonl.value.path()).read_text().splitlines() if x]
    assert {r["principal"] for r in lines} == {"acme-intern"}
    with page.expect_download() as csv:
        page.get_by_role("link", name="CSV").click()
    assert "acme-intern" in Path(csv.value.path()).read_text()

    page.get_by_label("Outcome").select_option("")
    page.get_by_label("Text").fill("plain-helper")
    page.get_by_role("button", name="Filter").click()
    page.locator("tbody tr a").first.click()
    assert page.get_by_role("table", name="Every stage").is_visible()
    assert "danger" in page.get_by_role("table", name="Every stage").inner_text()
    shot(page, "record")
    page.goto(f"{server}/console/logs/verify")
    assert "Intact" in page.get_by_role("status").inner_text()


def test_an_admin_lowers_the_danger_threshold_and_the_next_decision_uses_it(
    server: str, page: Any
) -> None:
    assert create(server, "before-change").status_code == 201
    assert create(server, "intern-try", who="intern").status_code == 403
    sign_in(page, server, "carol")
    assert page.locator("svg.chart").is_visible()
    shot(page, "overview")
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Danger threshold (0 to 1)").fill("0")
    page.get_by_role("button", name="Save settings").click()
    assert "danger_threshold" in page.get_by_role("status").inner_text()
    row = page.locator("tr", has=page.get_by_label("Danger threshold (0 to 1)"))
    assert "console override" in row.inner_text()
    shot(page, "settings")

    after = create(server, "after-change")
    assert after.status_code == 202, after.text
    assert "SG-DANGER-001" in after.text

    page.get_by_label("Danger threshold (0 to 1)").fill("1.5")
    page.get_by_role("button", name="Save settings").click()
    assert "danger_threshold" in page.get_by_role("alert").inner_text()

    logged = httpx.get(f"{server}/v1/decisions", headers=bearer("carol")).json()
    change = next(r for r in logged if r["type"] == "settings")
    assert change["principal"] == "carol"
    assert change["result"]["before"] == {"danger_threshold": 0.3}
    assert change["result"]["after"] == {"danger_threshold": 0.0}

    page.get_by_role("link", name="Templates").click()
    shot(page, "templates")
    page.get_by_role("link", name="researcher").click()
    page.get_by_label("Role").fill("a careful reader")
    page.get_by_role("button", name="Preview").click()
    assert "preview-agent" in page.locator("pre").inner_text()
    shot(page, "template")


def test_a_user_of_one_tenant_never_sees_another_tenants_queue_or_log(
    server: str, page: Any
) -> None:
    acme_request = queue(server, "acme-secret")
    sign_in(page, server, "gina")  # globex approver
    page.goto(f"{server}/console/approvals")
    assert page.get_by_role("link", name=acme_request).count() == 0
    response = page.goto(f"{server}/console/approvals/{acme_request}")
    assert response is not None and response.status == 404
    response = page.goto(f"{server}/console/logs?tenant=acme")
    assert response is not None and response.status == 403
    response = page.goto(f"{server}/console/settings?tenant=acme")
    assert response is not None and response.status == 403


def test_a_post_without_its_csrf_token_is_refused(server: str, page: Any) -> None:
    request_id = queue(server, "csrf-target")
    sign_in(page, server, "alice")
    refused = page.request.post(
        f"{server}/console/approvals/{request_id}/deny", form={"note": "forged"}
    )
    assert refused.status == 403
    wrong = page.request.post(
        f"{server}/console/approvals/{request_id}/deny",
        form={"note": "forged", "csrf_token": "guess"},
    )
    assert wrong.status == 403
    still = httpx.get(f"{server}/v1/approvals/{request_id}", headers=bearer("alice"))
    assert still.json()["state"] == "pending"
    signin = page.request.post(f"{server}/console/signin", form={"api_key": "sg_demo_alice"})
    assert signin.status == 403
