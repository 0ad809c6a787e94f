"""The OPA-server engine: the same ``policies/`` files, evaluated by OPA.

Production runs OPA beside the gateway (``docker-compose.yml``) with
``policies/`` mounted as a bundle; the gateway queries it over OPA's Data API
(``POST /v1/data/<path>`` with ``{"input": ...}``) with httpx. An unreachable
OPA, a timeout, a non-2xx answer, a body that is not JSON, an undefined result
or a result that is not a complete verdict (``{"result": {}}`` is what OPA
answers for a package whose rules are not loaded) is a ``DependencyUnavailable``
naming the "policy engine": the request is denied (fail closed). The cause,
which names OPA's address, goes to the gateway log only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_fixed,
)

from gateway.policy.engine import Entrypoint, PolicyVerdict, parse_verdict, policy_unavailable

__all__ = ["OpaEngine"]

#: Answers of a proxy or an OPA restarting: worth the one retry. 503 is not
#: among them: OPA answers it when it is up but not ready, which a retry will not fix.
_RETRYABLE_STATUS = frozenset({500, 502, 504})
#: Pause before the retry.
_RETRY_WAIT = 0.3


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


def _transient(exc: BaseException) -> bool:
    """A connection that failed or dropped; a timeout is not retried (the decision waits)."""
    return isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.TimeoutException)


def _retryable(response: httpx.Response) -> bool:
    return response.status_code in _RETRYABLE_STATUS


def _last_outcome(state: RetryCallState) -> httpx.Response:
    """Out of attempts: the last answer as it was, or the last error raised again."""
    assert state.outcome is not None  # tenacity calls this only after an attempt
    response: httpx.Response = state.outcome.result()
    return response


def _is_json(response: httpx.Response) -> bool:
    media: str = response.headers.get("content-type", "")
    media = media.partition(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class OpaEngine:
    name = "opa"

    def __init__(
        self, url: str, *, revision: str, timeout: float, token: str | None = None
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"SPAWNGATE_OPA_URL must be http(s)://host:port, got {url!r}")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 8181)
        self._base_url = f"{parts.scheme}://{host}:{port}"
        self._headers = {"Content-Type": "application/json"}
        if token is not None:
            self._headers["Authorization"] = f"Bearer {token}"
        self._timeout = timeout
        self._revision = revision
        # Made on first use, inside the event loop that will use it.
        self._client: httpx.AsyncClient | None = None

    @property
    def revision(self) -> str:
        return self._revision

    def _session(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url, headers=self._headers, timeout=self._timeout
            )
        return self._client

    def _retrying(self) -> AsyncRetrying:
        # One retry at most: a decision waits on this call.
        return AsyncRetrying(
            stop=stop_after_attempt(2),
            wait=wait_fixed(_RETRY_WAIT),
            retry=retry_if_exception(_transient) | retry_if_result(_retryable),
            retry_error_callback=_last_outcome,
        )

    async def evaluate(self, entrypoint: Entrypoint, document: Mapping[str, Any]) -> PolicyVerdict:
        client = self._session()
        try:
            async with asyncio.timeout(self._timeout * 3):
                # provenance: OPA reports which bundle revision answered this query.
                response: httpx.Response = await self._retrying()(
                    client.post,
                    f"/v1/data/{entrypoint.value}",
                    json={"input": dict(document)},
                    params={"provenance": "true"},
                )
            usable = response.is_success and _is_json(response)
            # ValueError: a 2xx body that claims JSON and is not (json.JSONDecodeError).
            answer: Any = response.json() if usable else None
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise policy_unavailable(
                f"OPA query {entrypoint.value} timed out", reason="the policy engine timed out"
            ) from exc
        except (httpx.HTTPError, OSError, ValueError) as exc:
            raise policy_unavailable(
                f"OPA query {entrypoint.value} failed: {exc!r}",
                reason="the policy engine is unavailable",
            ) from exc
        if not usable:
            raise policy_unavailable(
                f"OPA query {entrypoint.value} failed: HTTP {response.status_code} "
                f"({response.headers.get('content-type', 'no content type')})",
                reason="the policy engine is unavailable",
            )
        if not isinstance(answer, dict) or "result" not in answer:
            raise policy_unavailable(
                f"OPA returned no result for {entrypoint.value} (is the bundle loaded?)"
            )
        verdict = parse_verdict(answer["result"])
        return verdict.model_copy(update={"revision": _bundle_revision(answer)})

    async def ready(self) -> bool:
        client = self._session()
        try:
            response: httpx.Response = await self._retrying()(client.get, "/health")
        # Readiness is a yes/no probe: failing to reach OPA means "not ready".
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
