"""A local stand-in for the Kubernetes API server, for kagent ``Agent`` resources only.

It speaks the REST shapes the official ``kubernetes`` client uses for one
namespaced custom resource (``/apis/kagent.dev/v1alpha2/namespaces/{ns}/agents``):
create (POST), get, list (``labelSelector``, ``limit`` and ``continue``), patch
(server-side apply ``application/apply-patch+yaml`` with ``fieldManager`` and
``force``, and JSON merge patch), delete (with a ``preconditions.uid`` body), all
with ``dryRun=All``; errors are ``Status`` objects (409 AlreadyExists / Conflict,
422 Invalid with causes, 404 NotFound) as the real server sends them.

Its limits, so a test passing here is read for what it is:
- One resource kind, no discovery (``/apis``), no authentication (the bearer
  token is accepted unread), no RBAC, no watch, no server-side printing.
- Validation is the vendored JSON schema only (with ``jsonschema``): the CRD's CEL
  rules, defaulting, pruning of unknown fields and admission webhooks or
  ValidatingAdmissionPolicies are not run.
- Server-side apply is simplified: an object belongs to the field managers that
  wrote it, and an apply by another manager without ``force`` is a 409 Conflict
  on the whole object (the real server compares per field); an apply replaces
  the object's labels, annotations and spec with the applied ones.
- Merge patch merges ``metadata.annotations`` and ``metadata.labels`` only.
- ``resourceVersion`` is a counter; there is no optimistic concurrency on updates.
- Faults are injected per (method, dry run): an HTTP status answered instead, a
  delay before answering, or "after": do the work, then answer 500 (or hang).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator

from gateway.registry.kagent.validate import schema
from tests.support.narrow import bound_port

PREFIX = "/apis/kagent.dev/v1alpha2/namespaces/{ns}/agents"


def status(
    code: int, reason: str, message: str, causes: list[dict[str, str]] | None = None
) -> web.Response:
    body: dict[str, Any] = {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    }  # fmt: skip
    if causes:
        body["details"] = {"causes": causes}
    return web.json_response(body, status=code)


@dataclass
class Fault:
    #: Answer this status instead of doing anything (0: no such fault).
    status: int = 0
    #: Seconds to wait before answering.
    delay: float = 0.0
    #: Do the work first, then answer 500 (after ``delay``).
    after: bool = False
    #: How many requests it applies to (then it is gone); None: every one.
    times: int | None = None


@dataclass
class K8sStandIn:
    #: (namespace, name) -> the stored object.
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: (method, dry run) -> the fault to inject, e.g. ("POST", False): Fault(status=500).
    faults: dict[tuple[str, bool], Fault] = field(default_factory=dict)
    #: (method, path, query string, content type) of every request, in order.
    requests: list[tuple[str, str, str, str]] = field(default_factory=list)
    page_size_cap: int = 2
    _version: int = 0
    _runner: web.AppRunner | None = None

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    async def _fault(self, method: str, dry: bool) -> Fault | None:
        fault = self.faults.get((method, dry))
        if fault is None:
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self.faults[(method, dry)]
        if fault.delay:
            await asyncio.sleep(fault.delay)
        return fault

    def _invalid(self, body: dict[str, Any]) -> web.Response | None:
        errors = list(Draft202012Validator(schema()).iter_errors(body))
        if not errors:
            return None
        causes = [
            {
                "reason": "FieldValueInvalid",
                "message": e.message,
                "field": ".".join(map(str, e.absolute_path)),
            }
            for e in errors
        ]
        return status(422, "Invalid", "Agent.kagent.dev is invalid", causes)

    def _store(self, ns: str, body: dict[str, Any], manager: str, dry: bool) -> dict[str, Any]:
        meta = body.setdefault("metadata", {})
        old = self.objects.get((ns, meta["name"]))
        meta["namespace"] = ns
        meta["uid"] = old["metadata"]["uid"] if old else str(uuid.uuid4())
        meta["resourceVersion"] = self._next_version()
        meta["creationTimestamp"] = (
            old["metadata"]["creationTimestamp"] if old else "2026-01-01T00:00:00Z"
        )
        managers = set(old["metadata"].get("managers", [])) if old else set()
        meta["managers"] = sorted(managers | {manager})
        if not dry:
            self.objects[(ns, meta["name"])] = body
        return body

    async def _record(self, request: web.Request) -> tuple[str, bool]:
        self.requests.append(
            (request.method, request.path, request.query_string, request.content_type)
        )
        return request.match_info["ns"], request.query.get("dryRun") == "All"

    async def _create(self, request: web.Request) -> web.Response:
        ns, dry = await self._record(request)
        body = await request.json()
        fault = await self._fault("POST", dry)
        if fault is not None and fault.status and not fault.after:
            return status(fault.status, "InternalError", "injected")
        name = body.get("metadata", {}).get("name", "")
        if (ns, name) in self.objects:
            return status(409, "AlreadyExists", f'agents.kagent.dev "{name}" already exists')
        invalid = self._invalid(body)
        if invalid is not None:
            return invalid
        stored = self._store(ns, body, request.query.get("fieldManager", "unknown"), dry)
        if fault is not None and fault.after:
            return status(fault.status or 500, "InternalError", "injected after the create")
        return web.json_response(stored, status=201)

    async def _patch(self, request: web.Request) -> web.Response:
        ns, dry = await self._record(request)
        name = request.match_info["name"]
        body = json.loads(await request.text())
        fault = await self._fault("PATCH", dry)
        if fault is not None and fault.status:
            return status(fault.status, "InternalError", "injected")
        old = self.objects.get((ns, name))
        if request.content_type == "application/apply-patch+yaml":
            manager = request.query.get("fieldManager")
            if not manager:
                return status(422, "Invalid", "fieldManager is required for apply requests")
            if (
                old is not None
                and manager not in old["metadata"]["managers"]
                and request.query.get("force") != "true"
            ):
                return status(
                    409,
                    "Conflict",
                    f"Apply failed with conflicts: managed by {old['metadata']['managers']}",
                )
            invalid = self._invalid(body)
            if invalid is not None:
                return invalid
            return web.json_response(self._store(ns, body, manager, dry))
        if old is None:
            return status(404, "NotFound", f'agents.kagent.dev "{name}" not found')
        merged = json.loads(json.dumps(old))
        for key in ("annotations", "labels"):
            merged["metadata"].setdefault(key, {}).update(body.get("metadata", {}).get(key) or {})
        merged["metadata"]["resourceVersion"] = self._next_version()
        if not dry:
            self.objects[(ns, name)] = merged
        return web.json_response(merged)

    async def _get(self, request: web.Request) -> web.Response:
        ns, _ = await self._record(request)
        name = request.match_info["name"]
        fault = await self._fault("GET", False)
        if fault is not None and fault.status:
            return status(fault.status, "InternalError", "injected")
        found = self.objects.get((ns, name))
        if found is None:
            return status(404, "NotFound", f'agents.kagent.dev "{name}" not found')
        return web.json_response(found)

    async def _list(self, request: web.Request) -> web.Response:
        ns, _ = await self._record(request)
        fault = await self._fault("LIST", False)
        if fault is not None and fault.status:
            return status(fault.status, "InternalError", "injected")
        wanted = dict(
            part.split("=", 1) for part in request.query.get("labelSelector", "").split(",") if part
        )
        items = [
            o for (n, _), o in sorted(self.objects.items())
            if n == ns and all(o["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
        ]  # fmt: skip
        start = int(request.query.get("continue") or 0)
        size = min(int(request.query.get("limit") or len(items) or 1), self.page_size_cap)
        page, rest = items[start : start + size], items[start + size :]
        meta = {
            "resourceVersion": str(self._version),
            "continue": str(start + size) if rest else "",
        }
        return web.json_response(
            {
                "apiVersion": "kagent.dev/v1alpha2",
                "kind": "AgentList",
                "metadata": meta,
                "items": page,
            }
        )

    async def _delete(self, request: web.Request) -> web.Response:
        ns, dry = await self._record(request)
        name = request.match_info["name"]
        fault = await self._fault("DELETE", dry)
        if fault is not None and fault.status:
            return status(fault.status, "InternalError", "injected")
        found = self.objects.get((ns, name))
        if found is None:
            return status(404, "NotFound", f'agents.kagent.dev "{name}" not found')
        text = await request.text()
        uid = ((json.loads(text) if text else {}).get("preconditions") or {}).get("uid")
        if uid is not None and uid != found["metadata"]["uid"]:
            return status(
                409, "Conflict", "Precondition failed: UID in precondition does not match"
            )
        if not dry:
            del self.objects[(ns, name)]
        return web.json_response(
            {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}
        )

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post(PREFIX, self._create)
        app.router.add_get(PREFIX, self._list)
        app.router.add_get(PREFIX + "/{name}", self._get)
        app.router.add_patch(PREFIX + "/{name}", self._patch)
        app.router.add_delete(PREFIX + "/{name}", self._delete)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{bound_port(site)}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def kubeconfig(server: str) -> str:
    """A kubeconfig (YAML is a superset of JSON) pointing at the stand-in."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "standin",
        "clusters": [{"name": "standin", "cluster": {"server": server}}],
        "users": [{"name": "spawngate", "user": {"token": "standin-token"}}],
        "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "spawngate", "namespace": "default"}}],
    })  # fmt: skip
