"""Item 15: offline commands on a live log never stop the gateway's embedded Redis.

Real processes only: ``spawngate serve`` on the embedded default (no REDIS_URL)
in a temporary data dir, and the CLI run beside it with the same data dir.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from gateway.settings import Settings
from gateway.storage.redis import RedisStore
from tests.conftest import DEMO

WAIT_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        {
            "SPAWNGATE_DATA_DIR": str(data_dir),
            "SPAWNGATE_HOST": "127.0.0.1",
            "SPAWNGATE_POLICY_RELOAD_SECONDS": "0",
        }
    )
    return env


def _cli(args: list[str], data_dir: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env=_env(data_dir),
        timeout=WAIT_SECONDS,
        check=False,
    )
    return done, time.monotonic() - started


def _servers_of(data_dir: Path) -> set[int]:
    """Pids of redis-server processes serving this data dir (redis chdirs to its data dir)."""
    found = set()
    for proc in psutil.process_iter(["name"]):
        try:
            if (
                "redis-server" in (proc.info["name"] or "")
                and proc.status() != psutil.STATUS_ZOMBIE
                and Path(proc.cwd()).resolve() == data_dir.resolve()
            ):
                found.add(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


class LiveGateway:
    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(self.port)],
            env=_env(data_dir),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + WAIT_SECONDS
        for _ in range(600):
            assert self.proc.poll() is None, "spawngate serve exited early"
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "no /healthz in time"
            time.sleep(0.1)
        raise AssertionError("no /healthz in time")

    def create(self, name: str) -> httpx.Response:
        return httpx.post(
            f"{self.base}/v1/create_agent",
            json={"name": name, "role": "summarises the live log test"},
            headers={"Authorization": f"Bearer {DEMO['orchestrator']}"},
            timeout=10.0,
        )

    def stop(self) -> float:
        """SIGTERM, then wait for the exit; returns how long the stop took."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=WAIT_SECONDS)
        return time.monotonic() - started


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveGateway, Path]]:
    data_dir = tmp_path / "data"
    gateway = LiveGateway(data_dir)
    try:
        yield gateway, data_dir
    finally:
        gateway.stop()
        for pid in _servers_of(data_dir):  # never leave a server behind, even on failure
            os.kill(pid, signal.SIGKILL)


def test_trust_15_audit_commands_leave_live_gateway_redis_running(
    live: tuple[LiveGateway, Path],
) -> None:
    gateway, data_dir = live
    assert gateway.create("live-one").status_code == 201
    servers = _servers_of(data_dir)
    assert len(servers) == 1

    verified, _ = _cli(["audit", "verify"], data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK:")
    queried, query_seconds = _cli(["audit", "query", "--json"], data_dir)
    assert queried.returncode == 0, queried.stderr
    assert queried.stdout.strip()

    # The gateway's Redis is untouched: same server, next creation works.
    assert _servers_of(data_dir) == servers
    second = gateway.create("live-two")
    assert second.status_code == 201, second.text
    again, _ = _cli(["audit", "verify"], data_dir)
    assert again.returncode == 0 and again.stdout.startswith("OK:"), again.stdout
    assert _servers_of(data_dir) == servers
    # Stopping nothing means no shutdown wait: the whole command (interpreter
    # start included) stays fast; it took over 4 s. The bound leaves room for load.
    print(f"audit query beside a live gateway {query_seconds:.2f}s")
    assert query_seconds < 3.0, f"audit query took {query_seconds:.2f}s"

    # And a gateway restarted on that data dir finds everything the first one wrote.
    gateway.stop()
    assert _servers_of(data_dir) == set()
    restarted = LiveGateway(data_dir)
    try:
        assert restarted.create("live-one").status_code == 409  # the registry survived
        assert restarted.create("live-three").status_code == 201
    finally:
        restarted.stop()
    assert _servers_of(data_dir) == set()


def test_trust_15_cli_after_gateway_stopped_runs_and_stops_its_own_redis(
    live: tuple[LiveGateway, Path],
) -> None:
    gateway, data_dir = live
    for i in range(5):
        assert gateway.create(f"kept-{i}").status_code == 201
    stop_seconds = gateway.stop()
    # The gateway started its Redis, so it stops it.
    assert _servers_of(data_dir) == set()

    # Everything acknowledged before the stop is still there (stopping without a
    # snapshot relies on the append-only file), and the CLI cleans up after itself.
    verified, verify_seconds = _cli(["audit", "verify"], data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK:"), verified.stdout
    queried, _ = _cli(["audit", "query", "--json"], data_dir)
    kept = {f"kept-{i}" for i in range(5)}
    assert {name for name in kept if f'"{name}"' in queried.stdout} == kept, queried.stdout
    assert _servers_of(data_dir) == set()
    # Stopping the embedded server costs no snapshot and no reconnect attempts
    # (it took over 3.5 s); the bound leaves room for a loaded machine.
    print(f"gateway stop {stop_seconds:.2f}s, verify with own server {verify_seconds:.2f}s")
    assert stop_seconds < 3.0, stop_seconds


def test_trust_15_gateway_sharing_a_data_dir_survives_the_first_stopping(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = LiveGateway(data_dir)
    second: LiveGateway | None = None
    try:
        second = LiveGateway(data_dir)
        assert first.create("from-first").status_code == 201
        servers = _servers_of(data_dir)
        assert len(servers) == 1
        first.stop()
        # The first one started the server, but the second still uses it.
        assert _servers_of(data_dir) == servers
        after = second.create("from-second")
        assert after.status_code == 201, after.text
        second.stop()
        # The last user out stops it.
        assert _servers_of(data_dir) == set()
    finally:
        first.stop()
        if second is not None:
            second.stop()
        for pid in _servers_of(data_dir):
            os.kill(pid, signal.SIGKILL)


async def test_trust_15_embedded_redis_stops_fast_and_keeps_acknowledged_writes(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    store = RedisStore.from_settings(settings)
    await store.client.mset({f"k{i}": str(i) for i in range(200)})
    await store.client.rpush("list", *range(100))
    await store.aclose()
    started = time.monotonic()
    store.shutdown_embedded()
    stop_seconds = time.monotonic() - started
    assert _servers_of(data_dir) == set()
    # Stopped without a snapshot: the append-only file alone brings everything back.
    again = RedisStore.from_settings(settings)
    try:
        assert await again.client.get("k199") == "199"
        assert await again.client.llen("list") == 100
    finally:
        await again.aclose()
        again.shutdown_embedded()
    assert _servers_of(data_dir) == set()
    assert stop_seconds < 1.0, f"stopping took {stop_seconds:.2f}s"
