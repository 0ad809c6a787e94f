"""A2A discovery: every created agent's Agent Card, shaped by the a2a-sdk's own types."""

from __future__ import annotations

import httpx
import pytest
from a2a.client.card_resolver import parse_agent_card

from gateway.runtime import Gateway
from tests.conftest import MakeSettings, bearer, client_for

RESEARCHER = {
    "name": "paper-finder",
    "template": "researcher",
    "role": "finds papers",
    "capabilities": ["literature_review"],
}
CARD = "/a2a/acme/paper-finder/.well-known/agent-card.json"


async def test_a_created_agent_s_card_is_served_and_parses_with_the_sdk(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    created = await client.post("/v1/create_agent", json=RESEARCHER, headers=bearer("orchestrator"))
    assert created.status_code == 201, created.text
    assert created.json()["a2a_card_url"] == CARD

    r = await client.get(CARD, headers=bearer("orchestrator"))
    assert r.status_code == 200, r.text
    card = parse_agent_card(r.json())
    assert card.name == "paper-finder" and card.description == "finds papers"
    assert [s.id for s in card.skills] == ["literature_review"]
    (interface,) = card.supported_interfaces
    assert interface.url == f"{gateway.settings.a2a_base_url}/acme/paper-finder"
    assert interface.protocol_binding == "JSONRPC"
    assert card.version == created.json()["decision_id"]


async def test_cards_are_tenant_scoped_and_404_for_unknown_or_retired(
    client: httpx.AsyncClient, gateway: Gateway
) -> None:
    created = await client.post("/v1/create_agent", json=RESEARCHER, headers=bearer("orchestrator"))
    assert created.status_code == 201
    assert (await client.get(CARD)).status_code == 401
    # Another tenant's key: the same 404 as an agent that does not exist.
    assert (await client.get(CARD, headers=bearer("globex"))).status_code == 404
    unknown = "/a2a/acme/nobody/.well-known/agent-card.json"
    assert (await client.get(unknown, headers=bearer("orchestrator"))).status_code == 404

    record = await gateway.registry.get("acme", "paper-finder")
    assert record is not None
    await gateway.lifecycle.retirement.retiring().retire(record)
    assert (await client.get(CARD, headers=bearer("orchestrator"))).status_code == 404


async def test_public_cards_need_no_key_and_the_answer_gives_an_absolute_url(
    make_settings: MakeSettings,
) -> None:
    gw = Gateway.build(
        make_settings(
            a2a_cards_public=True,
            public_url="https://gate.example/",
            a2a_base_url="http://a2a.example",
        )
    )
    try:
        async with client_for(gw) as client:
            created = await client.post(
                "/v1/create_agent", json=RESEARCHER, headers=bearer("orchestrator")
            )
            assert created.json()["a2a_card_url"] == f"https://gate.example{CARD}"
            r = await client.get(CARD)
            assert r.status_code == 200
            card = parse_agent_card(r.json())
            assert card.supported_interfaces[0].url == "http://a2a.example/acme/paper-finder"
    finally:
        await gw.stop()


@pytest.mark.parametrize("path", ["/a2a/acme/-bad/.well-known/agent-card.json"])
async def test_bad_names_are_refused(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path, headers=bearer("orchestrator"))).status_code == 422
