"""A local HTTP agent registry, standing in for an external registry service.

It speaks the contract of ``gateway.registry.http`` and can be told to fail.
Like a careful real service it routes on the raw path, one percent-decoded
segment at a time, honours ``Idempotency-Key`` on create, and abandons a
creation on ``DELETE`` with that key (removing it, refusing it if it is late).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from tests.support.narrow import bound_port


class RegistryStandIn:
    def __init__(self) -> None:
        #: "ok", "error" (500), "slow" (answers after ``delay`` s, creating nothing before),
        #: "conflict" (409), "slow-after" (creates, then answers after ``delay`` s),
        #: "garbage" (200 with a non-JSON body, creates nothing), "garbage-stored" (creates,
        #: then answers 200 with a non-JSON body), "other-agent" (200 naming another agent).
        self.mode = "ok"
        #: "ok" or "garbage" (every read answers 200 with a non-JSON body).
        self.read_mode = "ok"
        self.delay = 2.0
        self.agents: dict[str, dict[str, Any]] = {}
        #: (method, raw path with query) of every request, in order.
        self.requests: list[tuple[str, str]] = []
        #: Idempotency-Key -> agent id, for every create that carried one.
        self.keys: dict[str, str] = {}
        #: Idempotency-Keys of abandoned creations (DELETE with the key).
        self.abandoned: set[str] = set()
        self._runner: web.AppRunner | None = None

    async def _post(self, request: web.Request) -> web.Response:
        self.requests.append(("POST", request.raw_path))
        body = await request.json()
        key = request.headers.get("Idempotency-Key")
        if self.mode == "error":
            return web.json_response({"error": "registry exploded"}, status=500)
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if key is not None and key in self.abandoned:
            return web.json_response({"error": "this creation was abandoned"}, status=410)
        if self.mode == "garbage":
            return web.Response(text="<html>OK</html>", content_type="application/json")
        if self.mode == "other-agent":
            return web.json_response({**body, "id": "acme/someone-else", "name": "someone-else"})
        if key is not None and self.keys.get(key) == body["id"]:
            # The same creation again: answer as the first time, create nothing.
            return web.json_response(self.agents[body["id"]], status=200)
        if self.mode == "conflict" or body["id"] in self.agents:
            return web.json_response({"error": "exists"}, status=409)
        self.agents[body["id"]] = body
        if key is not None:
            self.keys[key] = body["id"]
        if self.mode == "slow-after":
            await asyncio.sleep(self.delay)
        if self.mode == "garbage-stored":
            return web.Response(text="<html>OK</html>", content_type="application/json")
        return web.json_response(body, status=201)

    @staticmethod
    def _agent_key(request: web.Request) -> str | None:
        """``tenant/name`` from the raw path, or None if it is not one agent's path."""
        path, _, _ = request.raw_path.partition("?")
        parts = [unquote(p) for p in path.split("/")]
        if len(parts) != 4 or parts[:2] != ["", "agents"]:
            return None
        return f"{parts[2]}/{parts[3]}"

    async def _delete(self, request: web.Request) -> web.Response:
        """Abandon the creation named by Idempotency-Key: remove it, refuse it if late."""
        self.requests.append(("DELETE", request.raw_path))
        key, agent = request.headers.get("Idempotency-Key"), self._agent_key(request)
        if key is None or agent is None:
            return web.json_response({"error": "no creation named"}, status=400)
        self.abandoned.add(key)
        if self.agents.get(agent, {}).get("decision_id") != key:
            return web.json_response({}, status=404)
        del self.agents[agent]
        return web.Response(status=204)

    async def _get(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", request.raw_path))
        key = self._agent_key(request)
        if key is None:
            return web.json_response({"error": "no such route"}, status=404)
        if self.read_mode == "garbage":
            return web.Response(text="<html>OK</html>", content_type="application/json")
        if key not in self.agents:
            return web.json_response({}, status=404)
        return web.Response(text=json.dumps(self.agents[key]), content_type="application/json")

    async def _search(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", request.raw_path))
        tenant = request.query.get("tenant", "")
        limit = int(request.query.get("limit", "100"))
        found = [a for a in self.agents.values() if a.get("tenant") == tenant][:limit]
        return web.json_response(found)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/agents", self._post)
        app.router.add_get("/agents", self._search)
        app.router.add_get("/agents/{rest:.*}", self._get)
        app.router.add_delete("/agents/{rest:.*}", self._delete)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = bound_port(site)
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
