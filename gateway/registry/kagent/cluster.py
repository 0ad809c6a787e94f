"""Apply mode: Agent resources through the Kubernetes API (the official client).

Creating one agent is two calls, both with field manager ``spawngate``:

1. a server-side apply with ``dryRun=All``: the API server runs the CRD schema,
   its CEL rules and every admission policy (a receipt policy too) and
   persists nothing. 422 there is a refused manifest (``invalid_manifest``, with
   the server's causes); 409 a name held by another field manager.
2. a create (POST). Not an apply: an apply is an upsert and would silently
   replace an agent an earlier decision made under the same name, where a
   create is refused atomically (409 AlreadyExists) and then read: the same
   decision seen again is done, another one is ``duplicate_agent``.

Any other 4xx is a refusal (nothing was stored). A 5xx, a timeout or a
connection lost after the request was sent may have created the agent: a read
decides, and an agent it does not find is abandoned (deleted only if it carries
this decision id, with a uid precondition). The error then says
``creation_rolled_back`` or, when even that failed, ``creation_indeterminate``
(the reconciler removes it later, see gateway.registry.agreement). Server bodies
go to the log; the caller learns the status code and, for a 422, the causes.

The client is synchronous: every call runs in a worker thread, bounded by the
registry timeout (per request in urllib3, and around the thread as well).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError

from gateway.errors import InvalidRequest, UpstreamFailed
from gateway.registry.base import INDETERMINATE, ROLLED_BACK
from gateway.registry.kagent.kube import Lost, causes, failed
from gateway.registry.kagent.manifest import (
    GROUP,
    LABEL_MANAGED,
    LABEL_TENANT,
    MANAGER,
    PLURAL,
    VERSION,
    decision_of,
)
from gateway.registry.kagent.target import Manifest, taken

__all__ = ["ClusterTarget"]

logger = logging.getLogger("spawngate.registry")
_T = TypeVar("_T")
_PAGE = 500


class ClusterTarget:
    mode = "apply"
    complete = True

    def __init__(self, api: client.ApiClient, *, timeout: float) -> None:
        self._api = api
        self._objects = client.CustomObjectsApi(api)
        self._timeout = timeout

    async def _call(self, what: str, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``fn`` in a thread; ApiException passes through, a lost answer is ``Lost``,
        an unreachable server ``UpstreamFailed``."""
        kwargs["_request_timeout"] = (self._timeout, self._timeout)
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(fn, *args, **kwargs), timeout=2 * self._timeout + 1
            )
        except ApiException:
            raise
        except HTTPError as exc:
            cause = getattr(exc, "reason", None) or exc
            if isinstance(cause, NewConnectionError | ConnectTimeoutError):
                raise failed(f"{what}: {exc!r}", "the cluster is unreachable") from exc
            raise Lost(f"{what}: {exc!r}") from exc
        except TimeoutError as exc:
            raise Lost(f"{what} timed out") from exc

    async def create(self, manifest: Manifest) -> None:
        meta = manifest["metadata"]
        ns, name = meta["namespace"], meta["name"]
        where = (GROUP, VERSION, ns, PLURAL)
        try:
            await self._call(
                "dry-run apply", self._objects.patch_namespaced_custom_object, *where, name,
                manifest, dry_run="All", field_manager=MANAGER, force=False,
                _content_type="application/apply-patch+yaml",
            )  # fmt: skip
        except ApiException as exc:
            await self._refused(exc, ns, name, decision_of(manifest), dry_run=True)
            return
        except Lost as exc:
            raise failed(str(exc), "the cluster did not answer the dry run") from exc
        try:
            await self._call(
                "create", self._objects.create_namespaced_custom_object, *where, manifest,
                field_manager=MANAGER,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status is not None and exc.status < 500:
                await self._refused(exc, ns, name, decision_of(manifest), dry_run=False)
                return
            await self._confirm(ns, name, decision_of(manifest), f"create answered {exc.status}")
        except Lost as exc:
            await self._confirm(ns, name, decision_of(manifest), str(exc))

    async def _refused(
        self, exc: ApiException, ns: str, name: str, decision: str, *, dry_run: bool
    ) -> None:
        """A 4xx (or, on the dry run, any answer but success): done, taken, or refused."""
        step = "the dry run" if dry_run else "the create"
        status = exc.status or 0
        logger.warning(
            "kagent registry: %s of %s/%s answered %s %r", step, ns, name, status, exc.body
        )
        if status == 409:
            found = await self.read(ns, name)
            if found is not None and decision_of(found) == decision:
                return  # this very creation, seen again (a resumed approval)
            raise taken(ns, name)
        if status == 422:
            raise InvalidRequest(
                f"the cluster refused the kagent Agent manifest of '{name}' ({step})",
                problems=causes(exc),
                code="invalid_manifest",
                stage="create",
            )
        raise failed(f"{step} of {ns}/{name}", f"the cluster refused the agent (HTTP {status})")

    async def _confirm(self, ns: str, name: str, decision: str, why: str) -> None:
        """Created only if a read finds it from this decision; else abandon, fail closed."""
        try:
            found = await self.read(ns, name)
        except UpstreamFailed:
            found = None
        else:
            if found is not None and decision_of(found) == decision:
                logger.info("kagent registry: %s; a read confirmed %s/%s", why, ns, name)
                return
        try:
            await self.remove(ns, name, decision)
        except UpstreamFailed as exc:
            raise failed(
                f"{why}; abandoning {ns}/{name} failed: {exc.reason}",
                "the cluster did not confirm the agent; it will be removed if it was created",
                code=INDETERMINATE,
            ) from exc
        raise failed(
            f"{why}; not found, abandoned", "the cluster did not confirm the agent; rolled back",
            code=ROLLED_BACK,
        )  # fmt: skip

    async def _plain(self, what: str, fn: Callable[..., _T], *args: Any, **kw: Any) -> _T:
        """A read or a delete: every failure is ``UpstreamFailed`` (nothing to confirm)."""
        try:
            return await self._call(what, fn, *args, **kw)
        except Lost as exc:
            raise failed(str(exc), "the cluster did not answer", stage=None) from exc

    async def read(self, namespace: str, name: str) -> Manifest | None:
        try:
            found = await self._plain(
                "read", self._objects.get_namespaced_custom_object, GROUP, VERSION, namespace,
                PLURAL, name,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise failed(
                f"read {namespace}/{name}: {exc.status}", "the cluster read failed", stage=None
            ) from exc
        return dict(found) if isinstance(found, dict) else None

    async def listing(self, namespace: str, tenant: str) -> list[Manifest]:
        items: list[Manifest] = []
        token: str | None = None
        selector = f"{LABEL_MANAGED}={MANAGER},{LABEL_TENANT}={tenant}"
        while True:
            try:
                page = await self._plain(
                    "list", self._objects.list_namespaced_custom_object, GROUP, VERSION,
                    namespace, PLURAL, label_selector=selector, limit=_PAGE, _continue=token,
                )  # fmt: skip
            except ApiException as exc:
                raise failed(
                    f"list {namespace}: {exc.status}", "the cluster list failed", stage=None
                ) from exc
            if not isinstance(page, dict):
                raise failed(
                    f"list {namespace}: not an object", "the cluster list failed", stage=None
                )
            items += [i for i in page.get("items") or [] if isinstance(i, dict)]
            token = (page.get("metadata") or {}).get("continue") or None
            if token is None:
                return items

    async def remove(self, namespace: str, name: str, decision_id: str) -> bool:
        found = await self.read(namespace, name)
        if found is None or decision_of(found) != decision_id:
            return False
        meta = found.get("metadata") or {}
        # The uid precondition: delete the object just read, never a newer one of that name.
        options = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=meta.get("uid")))
        try:
            await self._plain(
                "delete", self._objects.delete_namespaced_custom_object, GROUP, VERSION,
                namespace, PLURAL, name, body=options,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status in (404, 409):
                return False
            raise failed(
                f"delete {namespace}/{name}: {exc.status}", "the cluster delete failed", stage=None
            ) from exc
        return True

    async def annotate(
        self, namespace: str, name: str, annotations: dict[str, str]
    ) -> Manifest | None:
        try:
            found = await self._plain(
                "annotate", self._objects.patch_namespaced_custom_object, GROUP, VERSION,
                namespace, PLURAL, name, {"metadata": {"annotations": annotations}},
                _content_type="application/merge-patch+json",
            )  # fmt: skip
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise failed(
                f"annotate {namespace}/{name}: {exc.status}",
                "the cluster update failed",
                stage=None,
            ) from exc
        return dict(found) if isinstance(found, dict) else None

    async def aclose(self) -> None:
        await asyncio.to_thread(self._api.close)
