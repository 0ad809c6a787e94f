"""A local HTTP agent registry, standing in for an external registry service.

It speaks the contract of ``gateway.registry.http`` and can be told to fail.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web


class RegistryStandIn:
    def __init__(self) -> None:
        #: "ok", "error" (500), "slow" (answers after 2 s) or "conflict" (409).
        self.mode = "ok"
        self.agents: dict[str, dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.mode == "error":
            return web.json_response({"error": "registry exploded"}, status=500)
        if self.mode == "slow":
            await asyncio.sleep(2)
        if self.mode == "conflict" or body["id"] in self.agents:
            return web.json_response({"error": "exists"}, status=409)
        self.agents[body["id"]] = body
        return web.json_response(body, status=201)

    async def _get(self, request: web.Request) -> web.Response:
        key = f"{request.match_info['tenant']}/{request.match_info['name']}"
        if key not in self.agents:
            return web.json_response({}, status=404)
        return web.Response(text=json.dumps(self.agents[key]), content_type="application/json")

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/agents", self._post)
        app.router.add_get("/agents/{tenant}/{name}", self._get)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
