"""A real ``spawngate serve`` for a test module: the app as `make serve` runs it.

It shares the test session's embedded Redis (its own key prefix) and keeps its
data in a temporary directory; ``env`` is what a subprocess of the same gateway
(``spawngate mcp --stdio``) needs to share that state.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

WAIT_SECONDS = 60.0
_prefixes = itertools.count()


@dataclass(frozen=True)
class LiveGateway:
    base_url: str
    env: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def gateway_env(redis_socket: str, data_dir: Path, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPAWNGATE_")}
    env.update(
        {
            "REDIS_URL": f"unix://{redis_socket}",
            "SPAWNGATE_REDIS_PREFIX": f"{name}{os.getpid()}x{next(_prefixes)}",
            "SPAWNGATE_DATA_DIR": str(data_dir),
            "SPAWNGATE_POLICY_RELOAD_SECONDS": "0",
        }
    )
    return env


@contextlib.contextmanager
def live_gateway(redis_socket: str, data_dir: Path, name: str) -> Iterator[LiveGateway]:
    port = _free_port()
    env = gateway_env(redis_socket, data_dir, name)
    log = data_dir / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"spawngate serve did not start (exit {proc.poll()}):\n{tail}")
            time.sleep(0.2)
        yield LiveGateway(base, env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
