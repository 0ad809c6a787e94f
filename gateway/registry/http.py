"""Forwarding to an external registry over HTTP.

Contract: ``POST {url}/agents`` with the agent record as JSON and the header
``Idempotency-Key: <decision id>`` (the creation id; the record carries it as
``decision_id`` too); 200/201 with the registered agent as JSON means
registered, 409 means the name is taken. ``GET {url}/agents/{tenant}/{name}``
(each segment percent-escaped) and ``GET {url}/agents?tenant=&capability=&name=&limit=``
read back (a search may add ``tool=``, ``template=`` and ``q=``; a registry that ignores
them is still correct: the gateway applies them again to what comes back).
``DELETE {url}/agents/{tenant}/{name}`` with ``Idempotency-Key: <decision id>``
abandons that creation: the registry removes the agent if it carries that decision id,
and refuses the creation with that key if it arrives later.

The gateway reports an agent as created only when the registry confirmed it.
An answer that is not the JSON of this very agent, a request sent whose answer
was lost (timeout, dropped connection), a 409 or a 5xx is checked with a read:
only an agent found there with this decision id counts as created. Anything
else is a 502 naming the registry, and the creation is abandoned (above). A
registry that cannot abandon and still creates the agent later leaves an agent
whose ``decision_id`` names a failed decision, which is what the reconciler
looks for.

Upstream bodies and the registry's address go to the gateway log, never to the
caller or the decision record: the caller learns the role ("registry") only.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from gateway.errors import Conflict, UpstreamFailed
from gateway.registry.base import AgentFilter, AgentRecord

__all__ = ["HttpRegistry"]

DEPENDENCY = "registry"
_RECORDS = TypeAdapter(list[AgentRecord])
#: How much of an upstream body the log keeps.
_EXCERPT = 200
#: Answers after which the registry may have created the agent anyway: check with a read.
_AMBIGUOUS = frozenset({408, 425, 429})
_UNCONFIRMED = "the registry did not confirm the agent"

logger = logging.getLogger("spawngate.registry")


class _Registered(BaseModel):
    """What a create answer or a read must name: the same agent, from the same decision.

    Other fields a registry adds are its own business, so they are ignored here.
    """

    model_config = ConfigDict(extra="ignore", strict=True)

    id: str
    tenant: str
    name: str
    decision_id: str

    def is_(self, record: AgentRecord) -> bool:
        return (self.id, self.tenant, self.name, self.decision_id) == (
            record.id,
            record.tenant,
            record.name,
            record.decision_id,
        )


def _segment(value: str) -> str:
    """One path segment: "/", "?", "#", "%" escaped, and "." / ".." kept from being
    resolved as dot segments (by httpx or the server) into another tenant's path."""
    escaped = quote(value, safe="")
    return escaped.replace(".", "%2E") if escaped in (".", "..") else escaped


def _names(response: httpx.Response, record: AgentRecord) -> bool:
    """Whether a create answer is the JSON of this very agent from this decision."""
    try:
        return _Registered.model_validate_json(response.content).is_(record)
    except ValidationError:
        return False


def _excerpt(response: httpx.Response) -> str:
    return repr(response.text[:_EXCERPT])


def _failed(detail: str, reason: str, *, stage: str | None) -> UpstreamFailed:
    """``detail`` (address, upstream body) to the log; ``reason`` to the caller and record."""
    logger.warning("registry: %s", detail)
    return UpstreamFailed(reason, dependency=DEPENDENCY, stage=stage)


class HttpRegistry:
    name = "http"
    # The registry contract has no paging: a remote registry may cap a listing.
    lists_every_agent = False

    def __init__(
        self, url: str, *, timeout: float, client: httpx.AsyncClient | None = None
    ) -> None:
        self._url = url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=timeout)

    def _agent_url(self, tenant: str, name: str) -> str:
        return f"{self._url}/agents/{_segment(tenant)}/{_segment(name)}"

    async def _send(
        self, method: str, url: str, *, stage: str | None, **kwargs: object
    ) -> httpx.Response:
        try:
            return await self._client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException as exc:
            raise _failed(
                f"{method} {url} timed out: {exc!r}", "the registry timed out", stage=stage
            ) from exc
        except httpx.HTTPError as exc:
            raise _failed(
                f"{method} {url} failed: {exc!r}", "the registry is unreachable", stage=stage
            ) from exc

    async def create(self, record: AgentRecord) -> AgentRecord:
        try:
            response = await self._client.post(
                f"{self._url}/agents",
                content=record.model_dump_json(),
                headers={
                    "content-type": "application/json",
                    "Idempotency-Key": record.decision_id,
                },
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Never reached the registry: nothing can have been created.
            raise _failed(
                f"create {record.id} at {self._url}: {exc!r}",
                "the registry is unreachable",
                stage="create",
            ) from exc
        except httpx.HTTPError as exc:
            # Sent, but the answer was lost: the registry may have created it.
            return await self._confirm(record, f"create {record.id} got no answer ({exc!r})")
        status = response.status_code
        why = f"create {record.id} answered {status} {_excerpt(response)}"
        if status in (200, 201) and _names(response, record):
            return record
        if status == 409:
            # Taken, perhaps by this very creation seen before (a resumed approval).
            if await self._confirmed(record, why):
                return record
            raise Conflict(
                f"the registry already has an agent named '{record.name}' in tenant "
                f"'{record.tenant}'",
                code="duplicate_agent",
                stage="create",
            )
        if 200 <= status < 300 or status in _AMBIGUOUS or status >= 500:
            # A 2xx that does not name this agent, or a 5xx, may have created it all the same.
            return await self._confirm(record, why)
        raise _failed(why, f"the registry refused the agent (HTTP {status})", stage="create")

    async def _confirm(self, record: AgentRecord, why: str) -> AgentRecord:
        """Created only if a read finds it; otherwise abandon the creation and fail closed."""
        try:
            if await self._confirmed(record, why):
                return record
        except UpstreamFailed:
            await self._abandon(record)
            raise
        await self._abandon(record)
        raise _failed(f"{why}; a read found no such agent", _UNCONFIRMED, stage="create")

    async def abandon(self, record: AgentRecord) -> bool:
        """Tell the registry this creation is abandoned: it removes the agent only if
        ``record.decision_id`` created it, and refuses that creation if it arrives late.
        True if an agent was removed (2xx), False if there was none (404); an
        unreachable registry or any other answer raises ``UpstreamFailed``."""
        response = await self._send(
            "DELETE",
            self._agent_url(record.tenant, record.name),
            stage=None,
            headers={"Idempotency-Key": record.decision_id},
        )
        if response.status_code == 404:
            return False
        if 200 <= response.status_code < 300:
            return True
        raise _failed(
            f"abandoning {record.id} answered {response.status_code}: {_excerpt(response)}",
            "the registry did not take back the creation",
            stage=None,
        )

    async def _abandon(self, record: AgentRecord) -> None:
        """``abandon``, best effort: the caller is refused either way, and an agent that
        lands anyway names this failed decision, for the reconciler."""
        try:
            await self.abandon(record)
        except UpstreamFailed as exc:
            logger.warning("registry: could not abandon %s: %s", record.id, exc.reason)

    async def _confirmed(self, record: AgentRecord, why: str) -> bool:
        """Whether a read finds this agent from this decision; a failed read fails closed."""
        response = await self._send(
            "GET", self._agent_url(record.tenant, record.name), stage="create"
        )
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise _failed(
                f"{why}; the confirming read answered {response.status_code}",
                _UNCONFIRMED,
                stage="create",
            )
        try:
            found = _Registered.model_validate_json(response.content)
        except ValidationError as exc:
            raise _failed(
                f"{why}; the confirming read is malformed: {_excerpt(response)}",
                _UNCONFIRMED,
                stage="create",
            ) from exc
        if found.is_(record):
            logger.info("registry: %s; a read confirmed it", why)
            return True
        return False

    async def get(self, tenant: str, name: str) -> AgentRecord | None:
        response = await self._send("GET", self._agent_url(tenant, name), stage=None)
        if response.status_code == 404:
            return None
        return self._parse_one(response)

    async def exists(self, tenant: str, name: str) -> bool:
        return await self.get(tenant, name) is not None

    async def search(
        self,
        tenant: str,
        *,
        capability: str | None,
        name_contains: str | None,
        limit: int,
        where: AgentFilter | None = None,
    ) -> list[AgentRecord]:
        params: dict[str, str | int] = {"tenant": tenant, "limit": limit}
        if capability:
            params["capability"] = capability
        if name_contains:
            params["name"] = name_contains
        if where is not None and not where.empty:
            extra = {"tool": where.tool, "template": where.template, "q": where.text}
            params.update({k: v for k, v in extra.items() if v})
            return [r for r in await self._search(params) if where.matches(r)]
        return await self._search(params)

    async def _search(self, params: dict[str, str | int]) -> list[AgentRecord]:
        response = await self._send("GET", f"{self._url}/agents", stage=None, params=params)
        if response.status_code != 200:
            raise _failed(
                f"search answered {response.status_code} {_excerpt(response)}",
                f"the registry search failed (HTTP {response.status_code})",
                stage=None,
            )
        try:
            return _RECORDS.validate_json(response.content)
        except ValidationError as exc:
            raise _failed(
                f"search answered malformed agents: {exc}",
                "the registry returned malformed agents",
                stage=None,
            ) from exc

    def _parse_one(self, response: httpx.Response) -> AgentRecord:
        if response.status_code != 200:
            raise _failed(
                f"read answered {response.status_code} {_excerpt(response)}",
                f"the registry read failed (HTTP {response.status_code})",
                stage=None,
            )
        try:
            return AgentRecord.model_validate_json(response.content)
        except ValidationError as exc:
            raise _failed(
                f"read answered a malformed agent: {exc}",
                "the registry returned a malformed agent",
                stage=None,
            ) from exc

    async def aclose(self) -> None:
        await self._client.aclose()
