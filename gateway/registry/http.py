"""Forwarding to an external registry over HTTP.

Contract: ``POST {url}/agents`` with the agent record as JSON; 200/201 means
registered, 409 means the name is taken. ``GET {url}/agents/{tenant}/{name}``
and ``GET {url}/agents?tenant=&capability=&name=&limit=`` read back. A timeout,
a refused connection or any other status is a 502 naming the registry, and the
agent is not reported as created.
"""

from __future__ import annotations

import httpx
from pydantic import TypeAdapter, ValidationError

from gateway.errors import Conflict, UpstreamFailed
from gateway.registry.base import AgentRecord

__all__ = ["HttpRegistry"]

DEPENDENCY = "registry"
_RECORDS = TypeAdapter(list[AgentRecord])


class HttpRegistry:
    name = "http"

    def __init__(
        self, url: str, *, timeout: float, client: httpx.AsyncClient | None = None
    ) -> None:
        self._url = url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=timeout)

    async def _request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            return await self._client.request(method, self._url + path, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException as exc:
            raise UpstreamFailed(
                f"registry at {self._url} timed out", dependency=DEPENDENCY, stage="create"
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamFailed(
                f"registry at {self._url} unreachable: {exc}", dependency=DEPENDENCY, stage="create"
            ) from exc

    async def create(self, record: AgentRecord) -> AgentRecord:
        response = await self._request(
            "POST",
            "/agents",
            content=record.model_dump_json(),
            headers={"content-type": "application/json"},
        )
        if response.status_code == 409:
            raise Conflict(
                f"the registry already has an agent named '{record.name}' in tenant "
                f"'{record.tenant}'",
                code="duplicate_agent",
                stage="create",
            )
        if response.status_code not in (200, 201):
            raise UpstreamFailed(
                f"registry refused the agent: HTTP {response.status_code} {response.text[:200]}",
                dependency=DEPENDENCY,
                stage="create",
            )
        return record

    async def get(self, tenant: str, name: str) -> AgentRecord | None:
        response = await self._request("GET", f"/agents/{tenant}/{name}")
        if response.status_code == 404:
            return None
        return self._parse_one(response)

    async def exists(self, tenant: str, name: str) -> bool:
        return await self.get(tenant, name) is not None

    async def search(
        self, tenant: str, *, capability: str | None, name_contains: str | None, limit: int
    ) -> list[AgentRecord]:
        params: dict[str, str | int] = {"tenant": tenant, "limit": limit}
        if capability:
            params["capability"] = capability
        if name_contains:
            params["name"] = name_contains
        response = await self._request("GET", "/agents", params=params)
        if response.status_code != 200:
            raise UpstreamFailed(
                f"registry search failed: HTTP {response.status_code}", dependency=DEPENDENCY
            )
        try:
            return _RECORDS.validate_json(response.content)
        except ValidationError as exc:
            raise UpstreamFailed(
                f"registry returned malformed agents: {exc}", dependency=DEPENDENCY
            ) from exc

    def _parse_one(self, response: httpx.Response) -> AgentRecord:
        if response.status_code != 200:
            raise UpstreamFailed(
                f"registry read failed: HTTP {response.status_code}", dependency=DEPENDENCY
            )
        try:
            return AgentRecord.model_validate_json(response.content)
        except ValidationError as exc:
            raise UpstreamFailed(
                f"registry returned a malformed agent: {exc}", dependency=DEPENDENCY
            ) from exc

    async def aclose(self) -> None:
        await self._client.aclose()
