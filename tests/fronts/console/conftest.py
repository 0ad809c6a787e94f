"""The console under test: a real uvicorn server on a free port, Debian's chromium.

The gateway runs in a thread of this process (uvicorn on a socket bound here),
against the session's embedded Redis; Playwright drives the system chromium
(``apt-get install -y chromium``): browsers cannot be downloaded here. Without
that executable every test here is skipped, saying so, except under CI (``CI`` set,
as ``.ci/run`` runs), where a missing browser fails the run: a skip is not a pass.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from gateway.fronts.http.app import create_app
from gateway.settings import PROJECT_ROOT
from tests.conftest import DEMO, MakeSettings, bearer, write_config

CHROMIUM = os.environ.get("SPAWNGATE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Screenshots of each page. The README's are refreshed with
#: ``SPAWNGATE_SCREENSHOTS=docs/console``; otherwise a run writes them to a scratch
#: folder, so running the tests never changes tracked files.
SHOTS = Path(
    os.environ.get("SPAWNGATE_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / "spawngate-console-screenshots"
)

CONFIG = """tenants:
  acme:
    enabled: true
    quotas:
      per_agent: {per_minute: 1000, per_hour: 1000, per_day: 1000}
      per_tenant: {per_minute: 1000, per_hour: 1000, per_day: 1000}
  globex: {enabled: true}
  initech: {}
"""
QUEUED = {"estimated_cost_per_day": 12}  # above acme's limit of 10: a human decides


# Module scope, not session: Playwright's sync API keeps an event loop running in
# this thread while it is open, which the async tests of other modules cannot share.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        missing = (
            f"no chromium executable at {CHROMIUM}: install it with "
            "`apt-get install -y chromium` to run the console's browser tests"
        )
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(tmp_path: Path, make_settings: MakeSettings) -> Iterator[str]:
    """The gateway's HTTP app (API and console) served by uvicorn; its base URL."""
    # A copy of templates/: the Templates tests write blueprints, never into the repository.
    templates = tmp_path / "templates"
    shutil.copytree(PROJECT_ROOT / "templates", templates)
    settings = make_settings(config_file=write_config(tmp_path, CONFIG), templates_dir=templates)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(30)
    sock.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 860})
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Any, base: str, who: str) -> None:
    page.goto(f"{base}/console")
    page.get_by_label("API key").fill(DEMO[who])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console/overview")


def queue(base: str, name: str, who: str = "orchestrator", **extra: Any) -> str:
    r = httpx.post(
        f"{base}/v1/create_agent", json={"name": name, **QUEUED, **extra}, headers=bearer(who)
    )
    assert r.status_code == 202, r.text
    return str(r.json()["request_id"])


def create(base: str, name: str, who: str = "orchestrator") -> httpx.Response:
    return httpx.post(f"{base}/v1/create_agent", json={"name": name}, headers=bearer(who))


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
