"""Accessibility: axe-core (vendored here, for the tests only) finds nothing on any
page, and the main flow works from the keyboard alone (issue 16)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO
from tests.fronts.console.conftest import create, queue, sign_in

pytestmark = pytest.mark.timeout(300)

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
#: WCAG 2.1 A and AA, and axe's best practices (landmarks, headings, ...).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@pytest.fixture
def audited(browser: Any) -> Iterator[Any]:
    # The pages forbid inline script (CSP 'self'): axe is injected past it, in tests only.
    context = browser.new_context(viewport={"width": 1366, "height": 860}, bypass_csp=True)
    yield context.new_page()
    context.close()


def _violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async (tags) => { const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});"
        " return {passes: r.passes.length, violations: r.violations.map(v => v.id + ': ' +"
        " v.help + ' @ ' + v.nodes.map(n => n.target.join(' ')).join(', '))}; }",
        TAGS,
    )
    assert found["passes"] > 0, "axe checked nothing"
    return [str(v) for v in found["violations"]]


def test_axe_finds_no_violation_on_any_page(server: str, audited: Any) -> None:
    assert create(server, "plain-one").status_code == 201
    request_id = queue(server, "costly-one", justification="Quarterly research")
    audited.goto(f"{server}/console/signin")
    report = {"signin": _violations(audited)}
    sign_in(audited, server, "carol")
    pages = {
        "overview": "/console/overview",
        "approvals": "/console/approvals",
        "approval": f"/console/approvals/{request_id}",
        "logs": "/console/logs",
        "settings": "/console/settings",
        "templates": "/console/templates",
        "template": "/console/templates/researcher?role=reader",
        "template-edit": "/console/templates/researcher/edit",
        "verify": "/console/logs/verify",
    }
    for name, path in pages.items():
        audited.goto(f"{server}{path}")
        report[name] = _violations(audited)
    audited.goto(f"{server}/console/logs")
    audited.locator("tbody tr a").first.click()
    report["record"] = _violations(audited)
    # A refused form, with its problems beside the fields.
    audited.goto(f"{server}/console/templates/new")
    audited.get_by_label("Name", exact=True).fill("bad")
    audited.get_by_role("button", name="Save template").click()
    report["template-refused"] = _violations(audited)
    assert {k: v for k, v in report.items() if v} == {}


def test_the_main_flow_works_from_the_keyboard_alone(server: str, page: Any) -> None:
    request_id = queue(server, "by-keyboard")
    page.goto(f"{server}/console")
    # The sign-in form focuses its one field.
    assert page.evaluate("document.activeElement.id") == "api_key"
    page.keyboard.type(DEMO["alice"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/console/overview")
    page.keyboard.press("Tab")  # the skip link comes first on every page
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"

    def focus_link(name: str) -> None:
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent.trim()") == name:
                return
        raise AssertionError(f"Tab never reached the link {name!r}")

    focus_link("Approvals")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/console/approvals")
    focus_link(request_id)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/console/approvals/{request_id}")
    for _ in range(60):
        page.keyboard.press("Tab")
        if (
            page.evaluate("document.activeElement.tagName") == "TEXTAREA"
            or page.evaluate("document.activeElement.name") == "note"
        ):
            break
    page.keyboard.type("checked by keyboard")
    # Tab on to the form's own button, then press it.
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Approve":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/console/approvals/{request_id}?done=approve")
    assert "now created" in page.get_by_role("status").inner_text()
