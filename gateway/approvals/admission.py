"""What the approval workflow needs from admission, as a protocol.

Approving re-runs admission (``gateway.admission.approved.ApprovedRequests``
implements this); the workflow is handed that object by the runtime and never
imports admission, so imports keep pointing one way.
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.approvals.queue import ApprovalRecord
from gateway.registry.base import AgentRecord

__all__ = ["Admission", "AdmissionResult"]


class AdmissionResult(Protocol):
    """An admission answer: what a front would have sent back."""

    @property
    def status_code(self) -> int: ...

    @property
    def body(self) -> dict[str, Any]: ...

    @property
    def headers(self) -> dict[str, str]: ...


class Admission(Protocol):
    async def recheck_and_create(
        self, record: ApprovalRecord, *, approver: str, decision_id: str | None = None
    ) -> AdmissionResult: ...

    async def release_keys(self, keys: tuple[str, ...]) -> None: ...

    async def find_agent(self, tenant: str, name: str) -> AgentRecord | None: ...

    async def issue_agent_key(self, record: ApprovalRecord) -> str: ...
