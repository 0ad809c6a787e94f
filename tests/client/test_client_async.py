"""``AsyncClient`` against the app in-process (ASGI), and its retries with one idempotency key."""

from __future__ import annotations

import httpx
import pytest

from gateway.client import AsyncClient, Denied
from gateway.fronts.http.app import create_app
from gateway.runtime import Gateway
from tests.conftest import DEMO


class LosesFirstAnswer(httpx.AsyncBaseTransport):
    """Delivers every request to the app, but the first answer is lost on the way back
    (the connection drops after the gateway has decided): the case retries exist for."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        response = await self.inner.handle_async_request(request)
        if len(self.sent) == 1:
            await response.aread()
            raise httpx.ReadError("connection reset", request=request)
        return response


async def test_async_client_over_asgi(gateway: Gateway) -> None:
    transport = httpx.ASGITransport(app=create_app(gateway=gateway))
    async with AsyncClient(
        base_url="http://t", api_key=DEMO["orchestrator"], transport=transport
    ) as sg:
        created = await sg.create_agent(name="async-helper", role="helps")
        assert created.outcome == "created"
        found = await sg.search_agents(text="async-helper")
        assert [a.name for a in found.agents] == ["async-helper"]
        with pytest.raises(Denied) as denied:
            await sg.create_agent(name="async-rogue", tenant="globex")
        assert denied.value.reasons and denied.value.fixes


async def test_a_lost_answer_is_retried_with_the_same_key_and_creates_once(
    gateway: Gateway,
) -> None:
    flaky = LosesFirstAnswer(httpx.ASGITransport(app=create_app(gateway=gateway)))
    async with AsyncClient(
        base_url="http://t", api_key=DEMO["orchestrator"], transport=flaky
    ) as sg:
        answer = await sg.create_agent(name="async-once")
    assert answer.outcome == "created"
    keys = {r.headers["Idempotency-Key"] for r in flaky.sent}
    assert len(flaky.sent) == 2 and len(keys) == 1
    # One agent, the one the first (lost) answer reported: the retry was a replay.
    stored = await gateway.registry.get("acme", "async-once")
    assert stored is not None and stored.decision_id == answer.decision_id


async def test_a_usage_report_is_sent_once_even_when_its_answer_is_lost(gateway: Gateway) -> None:
    app = create_app(gateway=gateway)
    async with AsyncClient(
        base_url="http://t",
        api_key=DEMO["orchestrator"],
        transport=httpx.ASGITransport(app=app),
    ) as sg:
        assert (await sg.create_agent(name="async-spender", role="spends")).outcome == "created"
        used = await sg.report_usage("async-spender", tokens=10, cost=0.5)
        assert (used.day_tokens, used.day_cost) == (10, 0.5)
    lossy = LosesFirstAnswer(httpx.ASGITransport(app=app))
    async with AsyncClient(
        base_url="http://t", api_key=DEMO["orchestrator"], transport=lossy
    ) as sg:
        # A retry would count it twice (the API has no key for usage): the error surfaces.
        with pytest.raises(httpx.TransportError):
            await sg.report_usage("async-spender", tokens=10, cost=0.5)
    assert len(lossy.sent) == 1
