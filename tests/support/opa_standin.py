"""A local stand-in for an OPA server, for tests only.

No OPA binary can be installed on our machines, so the OPA adapter is proven at
the wire level against this server: it speaks OPA's Data API
(``POST /v1/data/<path>`` with ``{"input": ...}`` -> ``{"result": ...}``,
``GET /health``) and evaluates the very same ``policies/`` files. It is a stand-in
for the OPA *binary*, not for any spawngate component.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import regopy
from aiohttp import web
from regopy.rego_shared import rego_output_string, rego_query

from gateway.policy.files import load_policy_files
from tests.support.narrow import bound_port

#: Answers a broken or misconfigured OPA can give, by mode: (status, content type, body).
FAULTS: dict[str, tuple[int, str, str]] = {
    # The package exists but its rules are not loaded: OPA answers an empty document.
    "empty-result": (200, "application/json", '{"result": {}}'),
    "partial-result": (200, "application/json", '{"result": {"deny": []}}'),
    "null-result": (200, "application/json", '{"result": null}'),
    "wrong-types": (
        200,
        "application/json",
        '{"result": {"deny": "none", "review": {}, "obligations": [1]}}',
    ),
    "not-json": (200, "application/json", "<html>it works</html>"),
    "html": (200, "text/html", "<html>it works</html>"),
}


class OpaStandIn:
    def __init__(self, policies: Path) -> None:
        files = load_policy_files(policies)
        self.revision = files.revision
        manifest = policies / ".manifest"
        #: As OPA does: the bundle revision comes from .manifest, if there is one.
        self.bundle_revision = (
            json.loads(manifest.read_text())["revision"] if manifest.is_file() else None
        )
        self._rego = regopy.Interpreter()
        self._rego.add_data_json(json.dumps(files.data))
        for name, source in sorted(files.serving_modules().items()):
            self._rego.add_module(name, source)
        #: "ok", "error" (HTTP 500), "undefined" (no result), "garbage" (a non-verdict), or
        #: one of the broken answers in ``FAULTS`` (a package whose rules are not loaded, wrong
        #: types, a body that is not JSON) or "slow" (answers after ``delay`` seconds).
        self.mode = "ok"
        self.delay = 5.0
        self.queries: list[str] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    def _evaluate(self, path: str, document: Any) -> dict[str, Any]:
        self._rego.set_input(regopy.Input(document))
        ref = "data." + path.strip("/").replace("/", ".")
        text = rego_output_string(rego_query(self._rego._impl, f"x := {ref}"))
        if text.strip() == "undefined":
            return {}
        return {"result": json.loads(text)["bindings"]["x"]}

    async def _data(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.queries.append(path)
        if self.mode == "error":
            return web.json_response({"code": "internal_error"}, status=500)
        if self.mode in FAULTS:
            status, content_type, text = FAULTS[self.mode]
            return web.Response(status=status, text=text, content_type=content_type)
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        body = await request.json()
        if self.mode == "undefined":
            return web.json_response({})
        if self.mode == "garbage":
            return web.json_response({"result": "allow"})
        answer = self._evaluate(path, body.get("input"))
        answer["decision_id"] = f"standin-{len(self.queries)}"
        if request.query.get("provenance", "").lower() == "true" and self.bundle_revision:
            answer["provenance"] = {"bundles": {"policies": {"revision": self.bundle_revision}}}
        return web.json_response(answer)

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({}, status=500 if self.mode == "error" else 200)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/data/{path:.*}", self._data)
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = bound_port(site)
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
