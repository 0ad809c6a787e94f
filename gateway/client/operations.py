"""Each operation of the API once: the call to send and how to read its answer.

``Client`` and ``AsyncClient`` only send these; the models are the API's own
response models (``gateway.fronts.http``), so the client reads what the server
writes, by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from gateway.approvals.queue import ApprovalRecord
from gateway.audit.record import AuditRecord
from gateway.client.calls import Call, creation, read
from gateway.costs.service import UsageAnswer
from gateway.costs.swarm import SwarmReport
from gateway.fronts.http.models import ApprovalOutcome, RequestStatus
from gateway.fronts.http.shapes import DecisionAnswer
from gateway.registry.base import AgentRecord
from gateway.registry.discovery import DiscoveryAnswer

__all__ = ["DecisionPage", "Op", "body_of"]

T = TypeVar("T")

#: The header that carries the next page's cursor of ``GET /v1/decisions``.
NEXT_CURSOR = "X-Next-Cursor"


@dataclass(frozen=True, slots=True)
class Op(Generic[T]):
    call: Call
    parse: Callable[[httpx.Response], T]


@dataclass(frozen=True, slots=True)
class DecisionPage:
    """One page of the decision log, newest first, and the cursor of the next (None: the end)."""

    records: list[AuditRecord]
    next_cursor: str | None


def body_of(
    body: Mapping[str, Any] | BaseModel | None, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """The request body from a mapping, a request model, or keyword fields (which win)."""
    if isinstance(body, BaseModel):
        base = body.model_dump(mode="json", exclude_none=True)
    else:
        base = dict(body or {})
    return {**base, **fields}


def _parser(model: Any) -> Callable[[httpx.Response], Any]:
    return lambda response: read(response, model)


def create(kind: str, body: Mapping[str, Any], idempotency_key: str | None) -> Op[DecisionAnswer]:
    return Op(creation(f"/v1/create_{kind}", body, idempotency_key), _parser(DecisionAnswer))


def search_agents(
    capability: str | None, tool: str | None, template: str | None, text: str | None, limit: int
) -> Op[DiscoveryAnswer]:
    params = {
        "capability": capability,
        "tool": tool,
        "template": template,
        "q": text,
        "limit": limit,
    }
    return Op(Call("GET", "/v1/agents/search", params=params), _parser(DiscoveryAnswer))


def get_agent(name: str) -> Op[AgentRecord]:
    return Op(Call("GET", f"/v1/agents/{name}"), _parser(AgentRecord))


def report_activity(name: str) -> Op[AgentRecord]:
    return Op(Call("POST", f"/v1/agents/{name}/activity"), _parser(AgentRecord))


def report_usage(name: str, tokens: int, cost: float) -> Op[UsageAnswer]:
    # Not repeatable: the API has no key for a usage report, and a retry after a
    # lost answer would count it twice.
    call = Call(
        "POST",
        f"/v1/agents/{name}/usage",
        json={"tokens": tokens, "cost": cost},
        repeatable=False,
    )
    return Op(call, _parser(UsageAnswer))


def swarm(tenant: str | None, days: int) -> Op[SwarmReport]:
    call = Call("GET", "/v1/metrics/swarm", params={"tenant": tenant, "days": days})
    return Op(call, _parser(SwarmReport))


def request_status(request_id: str, wait: float) -> Op[RequestStatus]:
    call = Call("GET", f"/v1/requests/{request_id}", params={"wait": wait})
    return Op(call, _parser(RequestStatus))


def list_approvals() -> Op[list[ApprovalRecord]]:
    return Op(Call("GET", "/v1/approvals"), _parser(list[ApprovalRecord]))


def show_approval(request_id: str) -> Op[ApprovalRecord]:
    return Op(Call("GET", f"/v1/approvals/{request_id}"), _parser(ApprovalRecord))


def approve(request_id: str, note: str | None) -> Op[ApprovalOutcome]:
    call = Call(
        "POST", f"/v1/approvals/{request_id}/approve", json={"note": note}, repeatable=False
    )
    return Op(call, _parser(ApprovalOutcome))


def deny(request_id: str, note: str | None) -> Op[ApprovalRecord]:
    call = Call("POST", f"/v1/approvals/{request_id}/deny", json={"note": note}, repeatable=False)
    return Op(call, _parser(ApprovalRecord))


def _page(response: httpx.Response) -> DecisionPage:
    records: list[AuditRecord] = read(response, list[AuditRecord])
    return DecisionPage(records, response.headers.get(NEXT_CURSOR))


def decisions(filters: Mapping[str, Any], limit: int, cursor: str | None) -> Op[DecisionPage]:
    params = {**filters, "limit": limit, "cursor": cursor}
    return Op(Call("GET", "/v1/decisions", params=params), _page)
