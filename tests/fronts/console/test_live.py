"""The approval queue refreshes itself in the browser (htmx), and a request queued under
an older policy revision is marked stale (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fronts.console.conftest import queue, sign_in

pytestmark = pytest.mark.timeout(300)

#: Several refresh periods (5 s each): the wait ends as soon as the row shows.
WAIT_MS = 30_000


def test_a_new_request_appears_and_turns_stale_without_a_reload(
    server: str, page: Any, tmp_path: Path
) -> None:
    sign_in(page, server, "alice")
    page.goto(f"{server}/console/approvals")
    assert "Nothing waits for you" in page.locator("#queue").inner_text()
    # A mark on this very document: a reload or a navigation would wipe it.
    page.evaluate("window.__sameDocument = true")

    request_id = queue(server, "arrives-later")
    row = page.locator("#queue tr", has=page.get_by_role("link", name=request_id))
    row.wait_for(state="visible", timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument") is True
    assert row.locator(".stale").count() == 0

    # A new policy revision: another blueprint in the (copied) templates directory,
    # picked up by the hot reload.
    extra = (
        (tmp_path / "templates" / "default.yaml")
        .read_text()
        .replace("name: default", "name: extra-plain")
    )
    (tmp_path / "templates" / "extra-plain.yaml").write_text(extra)
    row.locator(".stale").wait_for(state="visible", timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument") is True

    page.get_by_role("link", name=request_id).click()
    note = page.get_by_role("note").inner_text()
    assert note.startswith("Stale: queued under policy revision")
