"""Console sessions over the ASGI app: the cookie's attributes over TLS and behind a
TLS-terminating proxy, and a session refused once its lifetime is over (issue 16)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway.fronts.http.app import create_app
from gateway.runtime import Gateway
from tests.conftest import DEMO, MakeSettings

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def short_lived(make_settings: MakeSettings) -> AsyncIterator[Gateway]:
    gw = Gateway.build(make_settings(console_session_seconds=1, policy_reload_seconds=0))
    await gw.start()
    yield gw
    await gw.stop()


@pytest.fixture
async def gw(make_settings: MakeSettings) -> AsyncIterator[Gateway]:
    gw = Gateway.build(make_settings(policy_reload_seconds=0))
    await gw.start()
    yield gw
    await gw.stop()


async def _sign_in(client: httpx.AsyncClient, who: str = "alice") -> httpx.Response:
    form = await client.get("/console/signin")
    match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert match, form.text
    return await client.post("/console/signin", data={"csrf_token": match[1], "api_key": DEMO[who]})


def _session_cookie(response: httpx.Response) -> str:
    (cookie,) = [c for c in response.headers.get_list("set-cookie") if c.startswith("sg_console=")]
    return cookie


async def test_the_session_cookie_is_secure_over_tls_and_strict_always(gw: Gateway) -> None:
    app = create_app(gateway=gw)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://console.test"
    ) as tls:
        done = await _sign_in(tls)
        assert done.status_code == 303 and done.headers["location"] == "/console/overview"
        cookie = _session_cookie(done).lower()
        assert "; secure" in cookie and "; httponly" in cookie and "samesite=strict" in cookie
        assert "path=/console" in cookie
        assert (await tls.get("/console/overview")).status_code == 200

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://console.test"
    ) as plain:
        cookie = _session_cookie(await _sign_in(plain)).lower()
        # Over plain HTTP a Secure cookie would never come back: the browser drops it.
        assert "; secure" not in cookie and "; httponly" in cookie and "samesite=strict" in cookie


async def test_behind_a_tls_proxy_the_forwarded_scheme_makes_the_cookie_secure(
    gw: Gateway,
) -> None:
    # What uvicorn does with --proxy-headers (its default) for a trusted proxy.
    # (The two libraries type the ASGI callable differently; both are ASGI 3.)
    app: Any = ProxyHeadersMiddleware(cast(Any, create_app(gateway=gw)), trusted_hosts="*")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://console.test",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
    ) as proxied:
        form = await proxied.get("/console/signin")
        match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert match
        assert "; secure" in form.headers["set-cookie"].lower()
        # The client speaks plain HTTP to the "proxy": it keeps the Secure cookie anyway.
        csrf = form.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        proxied.cookies.set("sg_console_csrf", csrf, domain="console.test", path="/console")
        done = await proxied.post(
            "/console/signin", data={"csrf_token": match[1], "api_key": DEMO["alice"]}
        )
        assert done.status_code == 303, done.text
        assert "; secure" in _session_cookie(done).lower()


async def test_a_session_past_its_lifetime_is_refused_and_sends_to_sign_in(
    short_lived: Gateway,
) -> None:
    app = create_app(gateway=short_lived)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://console.test"
    ) as client:
        done = await _sign_in(client)
        assert "max-age=1" in _session_cookie(done).lower()
        # A client that ignores the cookie's Max-Age: the server must refuse it itself.
        token = _session_cookie(done).split(";")[0].split("=", 1)[1]
        client.cookies.set("sg_console", token, domain="console.test", path="/console")
        page = await client.get("/console/approvals")
        assert page.status_code == 200
        for _ in range(100):  # until Redis has let the session go (about one second)
            page = await client.get("/console/approvals")
            if page.status_code != 200:
                break
            await asyncio.sleep(0.1)
        assert page.status_code == 303 and page.headers["location"] == "/console/signin"
        fragment = await client.get("/console/approvals/queue", headers={"HX-Request": "true"})
        assert fragment.status_code == 401
        assert fragment.headers["HX-Redirect"] == "/console/signin"
        posted = await client.post("/console/approvals/x/deny", data={"note": "late"})
        assert posted.status_code == 303 and posted.headers["location"] == "/console/signin"
