"""Expiry of pending requests, and the sweep that runs it with recovery.

An expired request is final ("approval timed out"): it is never created
afterwards, and its quota reservation is given back. The transition to
``expired`` is atomic like every other, so an approver who decides first wins.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from gateway.approvals.admission import Admission
from gateway.approvals.events import ApprovalEvents
from gateway.approvals.queue import ApprovalRecord, ApprovalState, ApprovalStore
from gateway.approvals.recovery import Recovery
from gateway.contract.decision import Reason, StageName
from gateway.errors import Conflict, DependencyError

__all__ = ["Expiry", "sweep"]

logger = logging.getLogger("spawngate.approvals")


class Expiry:
    def __init__(
        self, *, approvals: ApprovalStore, admission: Admission, events: ApprovalEvents
    ) -> None:
        self._approvals = approvals
        self._admission = admission
        self._events = events

    async def expire(self, record: ApprovalRecord) -> ApprovalRecord:
        """Expire ``record``; if someone decided it first, their outcome stands."""
        expired = record.model_copy(
            update={
                "state": ApprovalState.EXPIRED,
                "decided_at": datetime.now(UTC),
                "outcome_reasons": (
                    Reason(
                        stage=StageName.APPROVAL,
                        code="approval_timeout",
                        message="approval timed out",
                    ),
                ),
            }
        )
        try:
            await self._approvals.transition(record, expired, expiring=True)
        except Conflict:
            current = await self._approvals.get(record.id)
            return current or record
        await self._events.record(expired, "expired", None, None)
        await self._admission.release_keys(record.reserved_keys)
        self._events.notify(expired)
        return expired

    async def expire_due(self) -> int:
        """Expire every pending request past its deadline (run periodically)."""
        count = 0
        for approval_id in await self._approvals.due():
            record = await self._approvals.get(approval_id)
            if record is not None and record.state is ApprovalState.PENDING:
                await self.expire(record)
                count += 1
        return count


async def sweep(recovery: Recovery, expiry: Expiry, interval: float) -> None:
    """Recover half-done approvals (all of them first), then expire due ones.

    With ``interval`` 0 only the start-up recovery pass runs. A pass that
    fails on Redis is logged and retried on the next one.
    """
    everywhere = True
    while True:
        try:
            await recovery.recover_due(everywhere=everywhere)
            everywhere = False
            if interval > 0:
                await expiry.expire_due()
        except DependencyError:
            logger.exception("approval sweep failed; retrying in %ss", interval)
        if interval <= 0:
            return
        await asyncio.sleep(interval)
