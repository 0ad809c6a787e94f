"""The load benchmark's parts work (no timing): the wrk script, the /proc parsing, the config."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.procstat import parse_stat
from bench.servers import AUTHORIZATION, bench_config
from bench.wrk_script import parse_summary, render_script, request_body
from gateway.config import load_config
from gateway.contract.request import NAME_PATTERN, AgentKind, parse_request
from gateway.errors import SpawngateError


def test_the_body_passes_the_request_contract() -> None:
    parsed = parse_request(AgentKind.AGENT, json.loads(request_body("r12g-0-123456")))
    assert parsed.name == "r12g-0-123456"


def test_a_prefix_that_could_break_names_is_refused() -> None:
    with pytest.raises(ValueError, match="prefix"):
        render_script("R-1", AUTHORIZATION)
    with pytest.raises(ValueError, match="escaping"):
        render_script("r1", 'Bearer "x"')


def test_stat_fields_are_counted_from_the_last_parenthesis() -> None:
    # A command name with spaces and a parenthesis must not shift the fields.
    fields = ["S", "41"] + [str(n) for n in range(5, 14)] + ["700", "300"] + ["0"] * 20
    text = "1234 (we ird) name) " + " ".join(fields)
    assert parse_stat(text) == (41, 700, 300)


def test_only_201s_count_and_socket_errors_are_not_201() -> None:
    line = (
        'SPAWNGATE_WRK {"duration_us":1000000,"requests":10,"statuses":{"201":8,"429":2},'
        '"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":1},'
        '"latency_us":{"p50":1,"p90":2,"p99":3,"p999":4,"max":5,"mean":1.5}}'
    )
    summary = parse_summary("Running 1s test\n" + line + "\n")
    assert summary["created"] == 8
    assert summary["non_201_share"] == pytest.approx(4 / 12)


def test_the_bench_config_lifts_every_limit(tmp_path: Path) -> None:
    config = load_config(bench_config(tmp_path))
    acme = config.tenant_settings("acme")
    assert acme.quotas.max_active_agents >= 1_000_000
    assert acme.lineage.root_spawns_per_minute >= 1_000_000
    assert acme.dedup.value == "off"


class _Recorder(BaseHTTPRequestHandler):
    names: list[str] = []  # noqa: RUF012 (one list per test: reset by the fixture)
    problems: list[str] = []  # noqa: RUF012
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            name = parse_request(AgentKind.AGENT, json.loads(body)).name
        except (SpawngateError, ValueError) as exc:
            with self.lock:
                self.problems.append(repr(exc))
            status = 422
        else:
            with self.lock:
                self.names.append(name)
            if self.headers["Authorization"] != AUTHORIZATION:
                self.problems.append(f"authorization {self.headers['Authorization']!r}")
            status = 201
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[ThreadingHTTPServer]:
    _Recorder.names, _Recorder.problems = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_sends_unique_valid_names_and_counts_statuses(
    tmp_path: Path, recorder: ThreadingHTTPServer
) -> None:
    script = tmp_path / "s.lua"
    script.write_text(render_script("t1", AUTHORIZATION))
    port = recorder.server_address[1]
    done = subprocess.run(
        ["wrk", "-t2", "-c2", "-d1s", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    summary = parse_summary(done.stdout)
    names = _Recorder.names
    assert _Recorder.problems == []
    assert names and len(set(names)) == len(names)
    assert all(re.fullmatch(NAME_PATTERN, n) for n in names)
    # wrk may stop with requests in flight: the server saw at least what wrk counted.
    assert summary["created"] == summary["statuses"]["201"] <= len(names)
    assert summary["non_201_share"] == 0
