"""The end-to-end harness: a real ``spawngate serve``, a real webhook receiver, the CLI.

Written from the design documents (``../shared/seeds/`` 000-003), not from the
code: the suite talks to the gateway only over HTTP (httpx) and through the
``spawngate`` command line, as a user of ``make serve`` would. Each test module
starts one server on a free port, with its own embedded Redis in a tmp
``SPAWNGATE_DATA_DIR`` and a configuration file built from ``config/demo.yaml``
(the demo principals and keys) with the module's tenant settings, whose swarm
webhooks point at a local receiver started here. The sweep's clock is moved with
``spawngate agents sweep --now`` run against the same data dir and config.
No sleeps decide anything: waits poll with a bound.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from gateway.settings import PROJECT_ROOT
from tests.conftest import DEMO

T = TypeVar("T")

#: Bound on every wait (server start, a webhook, a ttl expiry); never a timing assert.
WAIT_SECONDS = 30.0
SECRET = "e2e-webhook-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(what: str, check: Callable[[], T | None]) -> T:
    """Poll ``check`` until it returns something truthy, at most WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {WAIT_SECONDS}s: {what}")


@dataclass
class Delivery:
    body: bytes
    signature: str

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def verifies(self, secret: str = SECRET) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.signature)


@dataclass
class Receiver:
    """A webhook endpoint on a thread: keeps every POST, answers 200."""

    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, event: str, agent: str) -> list[Delivery]:
        with self.lock:
            return [
                d
                for d in self.deliveries
                if d.event.get("event") == event and d.event.get("agent", {}).get("name") == agent
            ]

    def wait(self, event: str, agent: str) -> Delivery:
        return wait_for(f"a '{event}' event for {agent}", lambda: self.events(event, agent))[0]


@contextlib.contextmanager
def receiver() -> Iterator[Receiver]:
    target = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server calls it by this name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with target.lock:
                target.deliveries.append(
                    Delivery(body, self.headers.get("X-Spawngate-Signature", ""))
                )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: pytest shows failures, not access logs

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    target.url = f"http://127.0.0.1:{server.server_address[1]}/swarm"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()


def demo_config(tenants: dict[str, Any], tools: dict[str, list[str]] | None = None) -> str:
    """config/demo.yaml (its defaults and principals) with these tenant settings merged
    in, and the tools of some principals replaced."""
    config = yaml.safe_load((PROJECT_ROOT / "config" / "demo.yaml").read_text())
    for name, overrides in tenants.items():
        config["tenants"][name] = {**(config["tenants"].get(name) or {}), **overrides}
    for principal in config["principals"]:
        if tools and principal["id"] in tools:
            principal["tools"] = tools[principal["id"]]
    return yaml.safe_dump(config, sort_keys=False)


@dataclass
class Served:
    """One running ``spawngate serve`` and the environment its CLI commands share."""

    base: str
    env: dict[str, str]
    hook: Receiver
    log: Path

    def call(self, method: str, path: str, who: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {DEMO.get(who, who)}"}
        return httpx.request(method, self.base + path, headers=headers, timeout=30.0, **kwargs)

    def get(self, path: str, who: str, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, who, **kwargs)

    def post(self, path: str, who: str, **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, who, **kwargs)

    def create(self, who: str = "orchestrator", /, **body: Any) -> httpx.Response:
        return self.post("/v1/create_agent", who, json=body)

    def approvals(self, who: str = "alice") -> list[dict[str, Any]]:
        r = self.get("/v1/approvals", who)
        assert r.status_code == 200, r.text
        found = r.json()
        items: list[dict[str, Any]] = found["requests"] if isinstance(found, dict) else found
        return items

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )

    def sweep(
        self, days_ahead: float, *, dry_run: bool = False
    ) -> subprocess.CompletedProcess[str]:
        now = (datetime.now(UTC) + timedelta(days=days_ahead)).isoformat()
        extra = ["--dry-run"] if dry_run else []
        run = self.cli("agents", "sweep", "--now", now, *extra)
        assert run.returncode == 0, run.stdout + run.stderr
        return run


@contextlib.contextmanager
def serve(
    tmp: Path, tenants: dict[str, Any], tools: dict[str, list[str]] | None = None
) -> Iterator[Served]:
    """``spawngate serve`` with these tenants (each gets the receiver as its webhook)."""
    with receiver() as hook:
        config = tmp / "config.yaml"
        webhooks = {"webhooks": [{"url": hook.url, "channel": "#swarm-updates"}]}
        with_hooks = {
            name: {"notifications": {"channels": {"community": "#swarm-updates"}, **webhooks}}
            | settings
            for name, settings in tenants.items()
        }
        config.write_text(demo_config(with_hooks, tools))
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update(
            {
                "SPAWNGATE_DATA_DIR": str(tmp / "data"),
                "SPAWNGATE_CONFIG_FILE": str(config),
                "SPAWNGATE_WEBHOOK_SECRET": SECRET,
                "SPAWNGATE_POLICY_RELOAD_SECONDS": "0",
                # The sweep runs only when a test runs it (with a moved clock);
                # ttl expiry runs in the background, often, so a test can wait for it.
                "SPAWNGATE_RETIREMENT_SWEEP_SECONDS": "0",
                "SPAWNGATE_EXPIRY_SWEEP_SECONDS": "0.2",
                "SPAWNGATE_NOTIFICATION_BACKOFF_SECONDS": "0.2",
            }
        )
        log = tmp / "serve.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        served = Served(f"http://127.0.0.1:{port}", env, hook, log)
        try:
            wait_for("spawngate serve answers /readyz", lambda: _ready(served, proc, log))
            yield served
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=WAIT_SECONDS)


def _ready(served: Served, proc: subprocess.Popen[bytes], log: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"spawngate serve exited {proc.returncode}:\n{log.read_text()}")
    try:
        return httpx.get(f"{served.base}/readyz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False
