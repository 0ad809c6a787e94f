"""``Client``: the HTTP API for plain (blocking) callers; ``aio.AsyncClient`` is its twin.

The two differ only in ``await``: both send the operations of ``operations``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel
from tenacity import Retrying

from gateway.approvals.queue import FINAL_STATES, ApprovalRecord
from gateway.audit.record import AuditRecord
from gateway.client import operations as ops
from gateway.client.calls import check, retry_settings
from gateway.client.errors import WaitTimeout
from gateway.costs.service import UsageAnswer
from gateway.costs.swarm import SwarmReport
from gateway.fronts.http.models import ApprovalOutcome, RequestStatus
from gateway.fronts.http.shapes import DecisionAnswer
from gateway.registry.base import AgentRecord
from gateway.registry.discovery import DiscoveryAnswer

__all__ = ["Client"]

T = TypeVar("T")

#: The longest wait one ``GET /v1/requests/{id}?wait=`` may ask for.
_MAX_WAIT = 60.0


class Client:
    """``Client(base_url=..., api_key=...)``; use ``with`` or ``close()``."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: float = 30.0,
        attempts: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._attempts = attempts
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            # A waiting status poll holds the answer up to a minute.
            timeout=httpx.Timeout(timeout, read=max(timeout, _MAX_WAIT + 10)),
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _do(self, op: ops.Op[T]) -> T:
        call = op.call
        for attempt in Retrying(**retry_settings(call, self._attempts)):
            with attempt:
                response = self._http.request(
                    call.method,
                    call.path,
                    params=call.query(),
                    json=call.json,
                    headers=dict(call.headers),
                )
                check(call, response)
        return op.parse(response)

    # -- admission ----------------------------------------------------------

    def create_agent(
        self,
        body: Mapping[str, Any] | BaseModel | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> DecisionAnswer:
        """Created (outcome ``created``) or queued (``pending_approval``, see ``wait_for``);
        a refusal raises ``Denied``, ``InvalidRequest`` ... with its reasons and fixes."""
        return self._do(ops.create("agent", ops.body_of(body, fields), idempotency_key))

    def create_sme(
        self,
        body: Mapping[str, Any] | BaseModel | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> DecisionAnswer:
        return self._do(ops.create("sme", ops.body_of(body, fields), idempotency_key))

    def request_status(self, request_id: str, *, wait: float = 0) -> RequestStatus:
        return self._do(ops.request_status(request_id, min(wait, _MAX_WAIT)))

    def wait_for(self, request_id: str, timeout: float = 60.0) -> RequestStatus:
        """The request once it is final (created, denied, expired ...); ``WaitTimeout`` if not
        within ``timeout`` seconds. The gateway holds each poll until something changes."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            status = self.request_status(request_id, wait=max(0.0, min(left, _MAX_WAIT)))
            if status.state in FINAL_STATES:
                return status
            if deadline - time.monotonic() <= 0:
                raise WaitTimeout(
                    None,
                    {
                        "error": {
                            "code": "wait_timeout",
                            "reason": f"request {request_id} is still {status.state.value} "
                            f"after {timeout:g}s",
                        }
                    },
                )

    # -- the registry ---------------------------------------------------------

    def search_agents(
        self,
        *,
        capability: str | None = None,
        tool: str | None = None,
        template: str | None = None,
        text: str | None = None,
        limit: int = 50,
    ) -> DiscoveryAnswer:
        return self._do(ops.search_agents(capability, tool, template, text, limit))

    def get_agent(self, name: str) -> AgentRecord:
        return self._do(ops.get_agent(name))

    # -- lifecycle and costs --------------------------------------------------

    def report_activity(self, name: str) -> AgentRecord:
        """Say that an agent of your tenant was active now (the retirement sweep reads it)."""
        return self._do(ops.report_activity(name))

    def report_usage(self, name: str, *, tokens: int, cost: float) -> UsageAnswer:
        """Report an agent's usage; sent once (never retried: it would count twice)."""
        return self._do(ops.report_usage(name, tokens, cost))

    def swarm(self, *, tenant: str | None = None, days: int = 7) -> SwarmReport:
        """The swarm's daily figures (auditors and admins)."""
        return self._do(ops.swarm(tenant, days))

    # -- approvals ----------------------------------------------------------

    def list_approvals(self) -> list[ApprovalRecord]:
        return self._do(ops.list_approvals())

    def show_approval(self, request_id: str) -> ApprovalRecord:
        return self._do(ops.show_approval(request_id))

    def approve(self, request_id: str, *, note: str | None = None) -> ApprovalOutcome:
        return self._do(ops.approve(request_id, note))

    def deny(self, request_id: str, *, note: str | None = None) -> ApprovalRecord:
        return self._do(ops.deny(request_id, note))

    # -- the decision log -----------------------------------------------------

    def decisions(
        self, *, limit: int = 100, cursor: str | None = None, **filters: str | None
    ) -> ops.DecisionPage:
        """One page (filters: tenant, creator, verdict, decision_id, since, until)."""
        return self._do(ops.decisions(filters, limit, cursor))

    def iter_decisions(
        self, *, page_size: int = 100, **filters: str | None
    ) -> Iterator[AuditRecord]:
        """Every matching record, newest first, page after page."""
        cursor: str | None = None
        while True:
            page = self.decisions(limit=page_size, cursor=cursor, **filters)
            yield from page.records
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
