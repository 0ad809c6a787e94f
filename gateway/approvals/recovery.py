"""Recovery of half-done approvals: take over every approval whose lease ended.

A gateway that dies between an approver's yes and the final state leaves the
approval ``approving`` (or, written by an older gateway, ``approved``). On
start and from every sweep, another gateway takes it over under a new attempt
(fenced, so the old attempt can no longer finish) and completes it, or rolls
it back; an audit record says which.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from gateway.approvals.admission import Admission
from gateway.approvals.completion import Completion, created, made_by
from gateway.approvals.events import ApprovalEvents
from gateway.approvals.queue import HALF_DONE, ApprovalRecord, ApprovalState, ApprovalStore
from gateway.errors import Conflict, SpawngateError

__all__ = ["Recovery"]

logger = logging.getLogger("spawngate.approvals")


class Recovery:
    def __init__(
        self,
        *,
        approvals: ApprovalStore,
        admission: Admission,
        events: ApprovalEvents,
        completion: Completion,
    ) -> None:
        self._approvals = approvals
        self._admission = admission
        self._events = events
        self._completion = completion

    async def recover_due(self, *, everywhere: bool = False) -> int:
        """Complete or roll back every approval whose lease ended; return how many."""
        count = 0
        for approval_id in await self._approvals.half_done(everywhere=everywhere):
            try:
                recovered = await self.recover(approval_id)
            except SpawngateError:
                # Left half-done under a new lease: the next sweep tries again.
                logger.exception("could not recover approval %s yet", approval_id)
                continue
            count += recovered is not None
        return count

    async def recover(self, approval_id: str) -> ApprovalRecord | None:
        """Take over one half-done approval (if its lease ended) and finish it."""
        record = await self._approvals.get(approval_id)
        if record is None or record.state not in HALF_DONE:
            return None
        if record.lease_until is not None and record.lease_until > datetime.now(UTC):
            return None
        attempt = "dec_" + uuid.uuid4().hex
        taking = record.model_copy(
            update={
                "state": ApprovalState.APPROVING,
                "attempt": attempt,
                "attempts": (*record.attempts, attempt),
                "lease_until": self._completion.lease_end(),
            }
        )
        try:
            await self._approvals.transition(record, taking, fence="attempt")
        except Conflict:
            return None  # another gateway took it over first
        agent = await self._admission.find_agent(record.tenant, str(record.request.get("name")))
        if agent is not None and made_by(record, agent):
            final = created(taking, agent.id, agent.tools)
        else:
            final, _ = await self._completion.settle(taking)
        action = (
            "completed_on_recovery"
            if final.state is ApprovalState.CREATED
            else "rolled_back_on_recovery"
        )
        logger.warning("approval %s was half-done: %s", record.id, action)
        # Recorded before the final state: a gateway that dies in between leaves
        # the approval half-done again, and the next recovery records it again.
        await self._events.record(final, action, None, None)
        await self._completion.finish(taking, final)
        return final
