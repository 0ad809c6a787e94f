"""``spawngate serve``: the listening socket, and ``--workers N`` as supervised replicas."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.fronts.http.server import listening_socket
from tests.conftest import DEMO

WAIT_SECONDS = 40.0


def test_listening_socket_hands_tcp_nodelay_to_accepted_connections() -> None:
    # A socket without its protocol number loses asyncio's TCP_NODELAY on accepted
    # connections (Nagle plus delayed ACK: ~40 ms a request); ours carries both.
    with listening_socket("127.0.0.1", 0, reuse_port=True) as server:
        assert server.proto == socket.IPPROTO_TCP
        assert server.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        server.listen()
        with socket.create_connection(server.getsockname()[:2], timeout=5) as client:
            accepted, _ = server.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
                assert client.getsockname() == accepted.getpeername()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _workers(parent: int) -> set[int]:
    """The supervisor's worker processes (multiprocessing's resource tracker aside)."""
    try:
        children = psutil.Process(parent).children()
    except psutil.NoSuchProcess:
        return set()
    return {
        c.pid
        for c in children
        if c.is_running()
        and c.status() != psutil.STATUS_ZOMBIE
        and "resource_tracker" not in " ".join(c.cmdline())
    }


def _wait(condition: str, check: Callable[[], object]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not in {WAIT_SECONDS}s: {condition}")


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        {
            "SPAWNGATE_DATA_DIR": str(tmp_path / "data"),
            "SPAWNGATE_POLICY_RELOAD_SECONDS": "0",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        leftovers = _workers(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT_SECONDS)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def _create(base: str, name: str) -> int:
    answer = httpx.post(
        f"{base}/v1/create_agent",
        json={"name": name, "role": "summarises the worker test"},
        headers={"Authorization": f"Bearer {DEMO['orchestrator']}"},
        timeout=10.0,
    )
    return answer.status_code


def _created_total(base: str) -> float:
    """spawngate_decisions_total{outcome="created"} as one scrape of /metrics reports it."""
    text = httpx.get(f"{base}/metrics", timeout=10.0).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "spawngate_decisions_total" and s.labels.get("outcome") == "created"
    )


def test_workers_serve_one_port_restart_a_dead_one_and_stop_together(
    two_workers: tuple[subprocess.Popen[bytes], str],
) -> None:
    proc, base = two_workers
    _wait("two workers", lambda: len(_workers(proc.pid)) == 2)
    _wait("/healthz answers", lambda: _healthy(base))
    assert [_create(base, f"worker-agent-{i}") for i in range(4)] == [201] * 4
    # Whichever worker answers the scrape (a new connection each time), it
    # reports every worker's decisions (prometheus-client's multiprocess mode).
    assert [_created_total(base) for _ in range(4)] == [4] * 4

    first = _workers(proc.pid)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    _wait(
        "a new worker replaces the killed one",
        lambda: (w := _workers(proc.pid)) and victim not in w and len(w) == 2,
    )
    _wait("/healthz answers after the restart", lambda: _healthy(base))
    # Every connection lands on a live worker: none is refused or lost.
    assert [_create(base, f"worker-agent-after-{i}") for i in range(6)] == [201] * 6
    # The killed worker's counts stay in the sum.
    assert [_created_total(base) for _ in range(4)] == [10] * 4

    workers = _workers(proc.pid)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=WAIT_SECONDS) == 0
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        for pid in workers
    )
