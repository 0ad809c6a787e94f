"""One rule for every /v1 body: strict JSON, whether or not it was labelled as such."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import bearer

pytestmark = pytest.mark.asyncio

DEVOPS = {"name": "ops-bot", "template": "devops", "capabilities": ["kubernetes"]}


async def _queued(client: httpx.AsyncClient, name: str) -> str:
    r = await client.post(
        "/v1/create_agent", json={**DEVOPS, "name": name}, headers=bearer("orchestrator")
    )
    assert r.status_code == 202, r.json()
    request_id: str = r.json()["request_id"]
    return request_id


@pytest.mark.parametrize("declared", [None, "application/x-www-form-urlencoded"])
async def test_a_json_body_without_the_json_label_is_read_as_json(
    client: httpx.AsyncClient, declared: str | None
) -> None:
    # What `curl -d '{"note": ...}'` sends: no label, or the form label.
    request_id = await _queued(client, f"ops-{'bare' if declared is None else 'form'}")
    headers = {**bearer("alice"), **({"Content-Type": declared} if declared else {})}
    r = await client.post(
        f"/v1/approvals/{request_id}/deny", content=b'{"note": "not this week"}', headers=headers
    )
    assert r.status_code == 200, r.json()
    assert r.json()["note"] == "not this week"


async def test_a_body_that_is_not_json_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    request_id = await _queued(client, "ops-broken")
    r = await client.post(
        f"/v1/approvals/{request_id}/deny", content=b"note=not json", headers=bearer("alice")
    )
    assert r.status_code == 422
    assert "json" in r.text.lower()


async def test_another_declared_type_is_left_alone(client: httpx.AsyncClient) -> None:
    request_id = await _queued(client, "ops-xml")
    r = await client.post(
        f"/v1/approvals/{request_id}/deny",
        content=b"<note>no</note>",
        headers={**bearer("alice"), "Content-Type": "application/xml"},
    )
    assert r.status_code == 422
