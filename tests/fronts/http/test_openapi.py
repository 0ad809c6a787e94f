"""The OpenAPI document: every route says what it answers, success and errors alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gateway.fronts.http.app import create_app
from gateway.settings import Settings

Operation = tuple[str, dict[str, Any]]


@pytest.fixture
def spec(settings: Settings) -> dict[str, Any]:
    # Building the document starts nothing: no lifespan, no Redis.
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def operations(spec: dict[str, Any]) -> Iterator[Operation]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    resolved: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def is_typed(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An object with named properties, or an array of them: not ``{}`` ("any")."""
    schema = resolve(spec, schema)
    if schema.get("type") == "array":
        return is_typed(spec, schema.get("items", {}))
    return bool(schema.get("properties"))


def json_schema(response: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = (
        response.get("content", {}).get("application/json", {}).get("schema", {})
    )
    return schema


#: The HTTP API's operations (a path or method changes only with the API's version).
OPERATIONS = {
    "POST /v1/create_agent",
    "POST /v1/create_sme",
    "GET /v1/requests/{request_id}",
    "GET /v1/approvals",
    "GET /v1/approvals/{request_id}",
    "POST /v1/approvals/{request_id}/approve",
    "POST /v1/approvals/{request_id}/deny",
    "GET /v1/decisions",
    "GET /v1/agents",
    "GET /v1/agents/search",
    "GET /v1/agents/{name}",
    "POST /v1/agents/{name}/activity",
    "POST /v1/agents/{name}/usage",
    "GET /v1/metrics/swarm",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /v1/notifications/dead-letters",
    "GET /.well-known/spawngate-receipt-key",
    "GET /a2a/{tenant}/{name}/.well-known/agent-card.json",
}

#: Operations whose success body is not JSON, with the media type they document.
TEXT_ANSWERS = {"GET /metrics": "text/plain"}


def test_the_api_has_its_operations(spec: dict[str, Any]) -> None:
    assert {label for label, _ in operations(spec)} == OPERATIONS


def test_every_route_has_a_typed_success_answer(spec: dict[str, Any]) -> None:
    for label, operation in operations(spec):
        ok = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        assert ok, f"{label}: no 2xx response"
        if label in TEXT_ANSWERS:
            assert set(ok["200"]["content"]) == {TEXT_ANSWERS[label]}, label
            continue
        for code, response in ok.items():
            assert is_typed(spec, json_schema(response)), f"{label} {code}: untyped body"


def test_every_route_documents_its_errors_in_the_one_shape(spec: dict[str, Any]) -> None:
    for label, operation in operations(spec):
        responses = operation["responses"]
        errors = {code: r for code, r in responses.items() if code[0] in "45"}
        assert "500" in errors, f"{label}: 500 undocumented"
        parameters = {p["name"].lower() for p in operation.get("parameters", [])}
        if "authorization" in parameters:
            assert {"401", "403"} <= set(errors), f"{label}: 401/403 undocumented"
        if parameters or "requestBody" in operation:
            assert "422" in errors, f"{label}: 422 undocumented"
        for code, response in errors.items():
            # ErrorBody, or an answer (decision, readiness) carrying ``error``.
            schema = resolve(spec, json_schema(response))
            assert "error" in schema.get("properties", {}), f"{label} {code}: not the error shape"
            assert response.get("description"), f"{label} {code}: no description"
