"""The real parts of a fault run: the gateway as a uvicorn process, upstreams that misbehave, load.

Everything listens on 127.0.0.1 (or a unix socket). The gateway runs as
``python -m gateway serve`` so that kill -9 hits a real server mid-request;
the stand-ins are the ones in tests/support with extra failure modes.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.registry_standin import RegistryStandIn

__all__ = [
    "SOAK",
    "Call",
    "FaultyRegistry",
    "GatewayProcess",
    "cli",
    "load_during",
    "run_load",
    "scale",
]

ORCHESTRATOR = "sg_demo_acme_orchestrator"
#: Set by `make soak`: the same faults, more rounds and more load.
SOAK = os.environ.get("SPAWNGATE_SOAK") == "1"


def scale(fast: int, soak: int) -> int:
    return soak if SOAK else fast


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the spawngate CLI against the same Redis and prefix as the gateway."""
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=timeout,
        check=False,
    )


class GatewayProcess:
    """`spawngate serve` in its own process; restartable on the same port and data."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.env = {**env, "SPAWNGATE_PORT": str(self.port), "SPAWNGATE_HOST": "127.0.0.1"}
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve"],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self, within: float = 30.0) -> None:
        """Until /healthz answers (the process is up; dependencies may still be failing)."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    raise RuntimeError(f"gateway exited early:\n{self.log_tail()}")
                try:
                    if (await client.get(self.url + "/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"gateway did not come up in {within}s:\n{self.log_tail()}")

    async def wait_redis_ready(self, within: float = 15.0) -> bool:
        """Until /readyz says Redis and policy answer again."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                try:
                    if (await client.get(self.url + "/readyz")).status_code == 200:
                        return True
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        return False

    def kill9(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(timeout=10)
            self._proc = None

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None

    def log_tail(self, chars: int = 3000) -> str:
        return self._log.read_text(errors="replace")[-chars:] if self._log.exists() else ""


class FaultyRegistry(RegistryStandIn):
    """The registry stand-in (its failure modes are its own), remembering its address."""

    url = ""

    async def start(self) -> str:
        self.url = await super().start()
        return self.url


@dataclass(frozen=True)
class Call:
    """One creation attempt as the caller saw it."""

    name: str
    status: int | None
    body: dict[str, Any] | None
    #: "timeout" (no answer in time), "transport" (connection refused/reset) or None.
    error: str | None
    elapsed: float

    @property
    def decision_id(self) -> str | None:
        value = (self.body or {}).get("decision_id")
        return value if isinstance(value, str) else None


def agent_body(name: str) -> dict[str, Any]:
    return {"name": name, "role": "summarises tickets for the fault suite"}


async def _one(client: httpx.AsyncClient, url: str, name: str, sem: asyncio.Semaphore) -> Call:
    async with sem:
        return await _post(client, url, name)


async def _post(client: httpx.AsyncClient, url: str, name: str) -> Call:
    began = time.monotonic()
    try:
        response = await client.post(
            url + "/v1/create_agent",
            json=agent_body(name),
            headers={"Authorization": f"Bearer {ORCHESTRATOR}"},
        )
    except httpx.TimeoutException:
        return Call(name, None, None, "timeout", time.monotonic() - began)
    except httpx.TransportError:
        return Call(name, None, None, "transport", time.monotonic() - began)
    try:
        body = response.json()
    except ValueError:
        body = {"_raw": response.text[:500]}
    return Call(name, response.status_code, body, None, time.monotonic() - began)


async def run_load(
    url: str, names: Iterable[str], *, concurrency: int = 8, answer_bound: float = 20.0
) -> list[Call]:
    """Send one creation per name, at most `concurrency` at a time, each bounded by `answer_bound` seconds."""
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=answer_bound) as client:
        return list(await asyncio.gather(*(_one(client, url, n, sem) for n in names)))


async def load_during(
    url: str,
    fault: Awaitable[None],
    tag: str,
    *,
    max_requests: int = 300,
    concurrency: int = 8,
    answer_bound: float = 20.0,
) -> list[Call]:
    """Keep `concurrency` creations in flight until `fault` is done (at most `max_requests`)."""
    calls: list[Call] = []
    numbers = itertools.count()
    injected = asyncio.ensure_future(fault)
    async with httpx.AsyncClient(timeout=answer_bound) as client:

        async def worker() -> None:
            while not injected.done():
                i = next(numbers)
                if i >= max_requests:
                    return
                call = await _post(client, url, f"{tag}-{i}")
                calls.append(call)
                if call.error is not None:
                    # The gateway is down: do not spin through the request budget.
                    await asyncio.sleep(0.05)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    await injected
    return calls
