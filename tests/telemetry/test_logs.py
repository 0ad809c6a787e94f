"""Structured logs: one JSON line per decision, with its facts and never the request's text."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from gateway.runtime import Gateway
from gateway.telemetry import configure_logging
from tests.conftest import bearer


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    configure_logging("json", stream=out)
    yield out
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.asyncio
async def test_a_decision_is_one_json_line_without_the_request_text(
    logs: io.StringIO, client: httpx.AsyncClient
) -> None:
    secret_text = "summarise-the-quarterly-numbers-7f3a"
    r = await client.post(
        "/v1/create_agent",
        json={
            "name": "log-bot",
            "template": "researcher",
            "capabilities": ["literature_review"],
            "instructions": secret_text,
        },
        headers=bearer("orchestrator"),
    )
    assert r.status_code == 201, r.json()
    err = logs.getvalue()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    decisions = [line for line in lines if line.get("event") == "decision"]
    assert len(decisions) == 1, err
    line = decisions[0]
    assert line["decision_id"] == r.json()["decision_id"]
    assert (line["tenant"], line["principal"]) == ("acme", "acme-orchestrator")
    assert (line["outcome"], line["verdict"], line["status"]) == ("created", "allow", 201)
    assert line["level"] == "info" and line["logger"] == "spawngate.decision"
    assert isinstance(line["duration_ms"], float) and "timestamp" in line
    assert secret_text not in err and bearer("orchestrator")["Authorization"][7:] not in err


def test_uvicorn_lines_are_structured_without_their_coloured_copy(logs: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "Started \x1b[36m%d\x1b[0m"}
    )
    [line] = [json.loads(x) for x in logs.getvalue().splitlines()]
    assert line["event"] == "Started server process [42]" and line["logger"] == "uvicorn.error"
    assert "color_message" not in line


def test_console_format_is_for_people() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    try:
        configure_logging("console", stream=out)
        logging.getLogger("spawngate.test").warning("disk %s is slow", "sda")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    err = out.getvalue()
    assert "disk sda is slow" in err and not err.lstrip().startswith("{")


def test_the_tenant_label_is_bounded_to_configured_tenants(gateway: Gateway) -> None:
    # A caller cannot mint label values: an unknown tenant is counted as "none".
    assert gateway.metrics.tenant_label("acme") == "acme"
    assert gateway.metrics.tenant_label("made-up") == "none"
