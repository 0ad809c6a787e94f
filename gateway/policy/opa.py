"""The OPA-server engine: the same ``policies/`` files, evaluated by OPA.

Production runs OPA beside the gateway (``docker-compose.yml``) with
``policies/`` mounted as a bundle; the gateway queries it over OPA's Data API
(``POST /v1/data/<path>`` with ``{"input": ...}``) through ``opa-python-client``.
An unreachable OPA, a timeout, a non-2xx answer, a body that is not JSON, an
undefined result or a result that is not a complete verdict (``{"result": {}}``
is what OPA answers for a package whose rules are not loaded) is a
``DependencyUnavailable`` naming the "policy engine": the request is denied
(fail closed). The cause, which names OPA's address, goes to the gateway log only.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from opa_client import AsyncOpaClient

from gateway.policy.engine import Entrypoint, PolicyVerdict, parse_verdict, policy_unavailable

__all__ = ["OpaEngine"]


def _bundle_revision(answer: dict[str, Any]) -> str | None:
    """The revision of the bundle that answered (OPA's provenance), if OPA reports one."""
    bundles = (answer.get("provenance") or {}).get("bundles") or {}
    revisions = sorted(
        {
            str(b.get("revision"))
            for b in bundles.values()
            if isinstance(b, dict) and b.get("revision")
        }
    )
    return ",".join(revisions) or None


class OpaEngine:
    name = "opa"

    def __init__(
        self, url: str, *, revision: str, timeout: float, token: str | None = None
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"SPAWNGATE_OPA_URL must be http(s)://host:port, got {url!r}")
        self._client = AsyncOpaClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 8181),
            ssl=parts.scheme == "https",
            token=token,
            timeout=timeout,
            # One retry at most: a decision waits on this call.
            retries=1,
        )
        self._timeout = timeout
        self._revision = revision
        self._started = False

    @property
    def revision(self) -> str:
        return self._revision

    async def _ensure_session(self) -> None:
        if not self._started:
            await self._client.__aenter__()
            self._started = True

    async def evaluate(self, entrypoint: Entrypoint, document: dict[str, Any]) -> PolicyVerdict:
        await self._ensure_session()
        package, _, rule = entrypoint.value.rpartition("/")
        try:
            async with asyncio.timeout(self._timeout * 3):
                # provenance: OPA reports which bundle revision answered this query.
                answer = await self._client.query_rule(
                    input_data=document,
                    package_path=package,
                    rule_name=rule,
                    query_params={"provenance": "true"},
                )
        except TimeoutError as exc:
            raise policy_unavailable(
                f"OPA query {entrypoint.value} timed out", reason="the policy engine timed out"
            ) from exc
        # ValueError: a 2xx body that claims JSON and is not (json.JSONDecodeError).
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise policy_unavailable(
                f"OPA query {entrypoint.value} failed: {exc!r}",
                reason="the policy engine is unavailable",
            ) from exc
        if not isinstance(answer, dict) or "result" not in answer:
            raise policy_unavailable(
                f"OPA returned no result for {entrypoint.value} (is the bundle loaded?)"
            )
        verdict = parse_verdict(answer["result"])
        return verdict.model_copy(update={"revision": _bundle_revision(answer)})

    async def ready(self) -> bool:
        await self._ensure_session()
        try:
            return bool(await self._client.check_health())
        # Readiness is a yes/no probe: any failure to reach OPA means "not ready".
        except Exception:
            return False

    async def aclose(self) -> None:
        if self._started:
            await self._client.close_connection()
            self._started = False
