"""Templates in the console: create, edit, retire and restore blueprints, each checked
like ``spawngate policy check`` first, logged, and in effect at once (issue 16)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import bearer
from tests.fronts.console.conftest import shot, sign_in

pytestmark = pytest.mark.timeout(300)

PROMPT = "You are {{name}}, a summariser. {{role}}\nReply to @{{next_agent}}."


def _records(server: str) -> list[dict[str, Any]]:
    logged = httpx.get(f"{server}/v1/decisions", headers=bearer("carol")).json()
    return [r for r in logged if r["type"] == "template"]


def _field_problems(page: Any, field: str) -> str:
    return str(page.locator(f"#{field}-problems").inner_text())


def test_an_admin_creates_a_template_only_once_it_passes_the_checks(
    server: str, page: Any, tmp_path: Any
) -> None:
    sign_in(page, server, "carol")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Templates").click()
    page.get_by_role("link", name="New template").click()
    page.get_by_label("Name", exact=True).fill("summariser")
    page.get_by_label("Description", exact=True).fill("Summarises documents it is given.")
    page.get_by_label("Default tools (comma-separated)").fill("doc_read")
    page.get_by_label("Capability modules").fill("astrology:\n  tools: [horoscope]\n")
    page.get_by_label("System prompt template").fill(PROMPT + " {{secret}}")
    page.get_by_role("button", name="Save template").click()
    # The model's own check: the unknown placeholder, beside its field.
    assert "secret" in _field_problems(page, "system_prompt_template")
    assert page.get_by_label("System prompt template").get_attribute("aria-invalid") == "true"

    page.get_by_label("System prompt template").fill(PROMPT)
    page.get_by_role("button", name="Save template").click()
    # spawngate policy check: a capability module no allowlist knows.
    problem = _field_problems(page, "capability_modules")
    assert "astrology" in problem and "no capability allowlist" in problem
    assert not (tmp_path / "templates" / "summariser.yaml").exists()
    assert _records(server) == []

    page.get_by_label("Capability modules").fill(
        "summarisation:\n  description: Long documents.\n  tools: [doc_summarise]\n"
    )
    page.get_by_role("button", name="Check and preview").click()
    assert "Preview: the checks pass" in page.get_by_role("main").inner_text()
    assert "You are preview-agent, a summariser." in page.locator("pre").inner_text()
    assert not (tmp_path / "templates" / "summariser.yaml").exists()
    shot(page, "template-form")
    page.get_by_role("button", name="Save template").click()
    assert "Saved" in page.get_by_role("status").inner_text()
    assert (tmp_path / "templates" / "summariser.yaml").is_file()

    made = httpx.post(
        f"{server}/v1/create_agent",
        json={"name": "sum-one", "template": "summariser", "capabilities": ["summarisation"]},
        headers=bearer("orchestrator"),
    )
    assert made.status_code == 201, made.text
    agent = httpx.get(f"{server}/v1/agents/sum-one", headers=bearer("orchestrator")).json()
    assert "doc_summarise" in agent["tools"]
    (created,) = _records(server)
    assert created["principal"] == "carol"
    assert created["result"]["action"] == "template_created"
    assert created["result"]["before"] is None
    assert "doc_summarise" in created["result"]["after"]


def test_an_admin_edits_then_retires_and_restores_a_template(
    server: str, page: Any, tmp_path: Any
) -> None:
    made = httpx.post(
        f"{server}/v1/create_agent",
        json={"name": "reader-one", "template": "researcher"},
        headers=bearer("orchestrator"),
    )
    assert made.status_code == 201, made.text
    sign_in(page, server, "carol")
    page.goto(f"{server}/console/templates/researcher")
    page.get_by_role("link", name="Edit").click()
    assert page.get_by_label("Name", exact=True).get_attribute("readonly") is not None
    page.get_by_label("Description", exact=True).fill("Reads sources and cites them.")
    page.get_by_label("Estimated cost per day ($)").fill("-1")
    page.get_by_role("button", name="Save template").click()
    assert "greater than or equal to 0" in _field_problems(page, "estimated_cost_per_day")
    page.get_by_label("Estimated cost per day ($)").fill("4")
    page.get_by_role("button", name="Save template").click()
    assert "Saved" in page.get_by_role("status").inner_text()
    assert "Reads sources and cites them." in page.get_by_role("main").inner_text()
    (edited,) = _records(server)
    assert edited["result"]["action"] == "template_edited"
    assert "estimated_cost_per_day: 3" in edited["result"]["before"]
    assert "estimated_cost_per_day: 4.0" in edited["result"]["after"]

    page.get_by_role("button", name="Retire").click()
    assert "Retired: researcher" in page.get_by_role("status").inner_text()
    assert page.get_by_role("button", name="Restore researcher").is_visible()
    shot(page, "templates")
    refused = httpx.post(
        f"{server}/v1/create_agent",
        json={"name": "reader-two", "template": "researcher"},
        headers=bearer("orchestrator"),
    )
    assert refused.status_code == 403 and "SG-TPL-001" in refused.text
    # Agents already made from it are untouched.
    kept = httpx.get(f"{server}/v1/agents/reader-one", headers=bearer("orchestrator"))
    assert kept.status_code == 200
    # Newest first, as the log is read.
    assert [r["result"]["action"] for r in _records(server)] == [
        "template_retired",
        "template_edited",
    ]

    page.get_by_role("button", name="Restore researcher").click()
    assert "Restored: researcher" in page.get_by_role("status").inner_text()
    again = httpx.post(
        f"{server}/v1/create_agent",
        json={"name": "reader-three", "template": "researcher"},
        headers=bearer("orchestrator"),
    )
    assert again.status_code == 201, again.text


def test_the_default_template_cannot_be_retired_and_names_are_unique(
    server: str, page: Any, tmp_path: Any
) -> None:
    sign_in(page, server, "carol")
    page.goto(f"{server}/console/templates/default")
    page.get_by_role("button", name="Retire").click()
    assert "default.yaml" in page.get_by_role("main").inner_text()
    assert (tmp_path / "templates" / "default.yaml").is_file()
    page.goto(f"{server}/console/templates/new")
    page.get_by_label("Name", exact=True).fill("researcher")
    page.get_by_label("Description", exact=True).fill("A second one.")
    page.get_by_role("button", name="Save template").click()
    assert "exists already" in page.get_by_role("alert").inner_text()
    assert _records(server) == []


def test_only_admins_change_templates(server: str, page: Any) -> None:
    sign_in(page, server, "alice")  # approver
    response = page.goto(f"{server}/console/templates/new")
    assert response is not None and response.status == 403
    overview = page.goto(f"{server}/console/overview")
    assert overview is not None
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(
        f"{server}/console/templates/researcher/retire", form={"csrf_token": token}
    )
    assert refused.status == 403
    forged = page.request.post(f"{server}/console/templates/researcher/retire", form={})
    assert forged.status == 403
    assert _records(server) == []
