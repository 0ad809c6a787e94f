"""The steps of a run that are not stages: idempotency, audit, the approval queue,
and giving back a quota reservation.

They sit around the stages in ``gateway.admission.pipeline``, which says when
each one runs. Each has one failure mode, written here:

- idempotency: a refused claim (reused key, still in flight) denies the request
  (recorded); failing to store the final answer only costs a retry its replay;
- audit: a decision record that cannot be written fails the request closed
  (nothing is queued or created); an outcome record that cannot be written is
  logged, and the reconciler settles the creation from the registry;
- queue: a request that cannot be queued is failed, its reservation released;
- release: a reservation that cannot be given back errs on the side of refusing
  (the counter stays high until the reconciler rebuilds it).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import JsonValue

from gateway.admission.answer import AdmissionAnswer
from gateway.admission.context import AdmissionContext
from gateway.admission.idempotency import IdempotencyStore, StoredAnswer, body_fingerprint
from gateway.approvals.queue import ApprovalRecord, ApprovalState, ApprovalStore
from gateway.audit.log import AuditLog
from gateway.audit.record import AuditRecord
from gateway.contract.decision import Decision, Outcome
from gateway.costs.ledger import CostLedger
from gateway.errors import DependencyError, InternalError, SpawngateError
from gateway.notifications.announce import announce_created
from gateway.notifications.events import Notifier
from gateway.quotas.ledger import QuotaLedger
from gateway.registry.base import INDETERMINATE, ROLLED_BACK
from gateway.telemetry import Metrics

__all__ = ["AuditStep", "Claim", "IdempotencyStep", "QueueStep", "ReleaseStep"]

logger = logging.getLogger("spawngate.pipeline")

#: Outcome records of creations whose answer was lost (see gateway.registry.builtin).
_SETTLED = {ROLLED_BACK: "rolled_back", INDETERMINATE: "indeterminate"}


@dataclass(frozen=True, slots=True)
class Claim:
    tenant: str
    principal: str
    key: str
    fingerprint: str


class IdempotencyStep:
    def __init__(self, store: IdempotencyStore) -> None:
        self._store = store

    async def claim(self, ctx: AdmissionContext, key: str) -> Claim | AdmissionAnswer:
        """Claim the key for this request, or the stored answer of its first attempt.

        Raises the refusal (reused key, first attempt still in flight) for the
        pipeline to record as a deny.
        """
        principal = ctx.need_principal()
        fingerprint = body_fingerprint(ctx.kind.value, ctx.raw_body)
        stored = await self._store.claim(principal.tenant, principal.id, key, fingerprint)
        if stored is not None:
            logger.info("idempotent replay of %s", stored.body.get("decision_id"))
            headers = {**stored.headers, "Idempotent-Replayed": "true"}
            return AdmissionAnswer(stored.status_code, stored.body, headers)
        return Claim(principal.tenant, principal.id, key, fingerprint)

    async def complete(self, claim: Claim, answer: AdmissionAnswer | None) -> None:
        # An unexpected failure leaves no answer: store a 500 so the claim is
        # dropped and a retry is decided afresh.
        final = answer or AdmissionAnswer(500, {})
        stored = StoredAnswer(final.status_code, final.body, final.headers)
        try:
            await self._store.complete(
                claim.tenant, claim.principal, claim.key, claim.fingerprint, stored
            )
        except DependencyError:
            logger.exception("could not store the idempotent answer")


class AuditStep:
    def __init__(
        self, audit: AuditLog, swarm: Notifier | None = None, *, metrics: Metrics | None = None
    ) -> None:
        self._audit = audit
        self._swarm = swarm
        self._metrics = metrics

    async def _append(self, record: AuditRecord) -> None:
        started = time.perf_counter()
        try:
            await self._audit.append(record)
        except DependencyError:
            if self._metrics is not None:
                self._metrics.audit_write_failures.inc()
            raise
        if self._metrics is not None:
            self._metrics.audit_write_seconds.observe(time.perf_counter() - started)

    async def decision(self, decision: Decision) -> None:
        """Write the decision record durably; raises ``DependencyError`` if it is not."""
        await self._append(self._audit.decision_record(decision))

    async def outcome(
        self, decision: Decision, outcome: Outcome, error: SpawngateError | None
    ) -> None:
        # The record says what became of a creation whose answer was lost
        # ("rolled_back", or "indeterminate" for the reconciler), not just "failed".
        settled = _SETTLED.get(error.code) if error is not None else None
        result: dict[str, JsonValue] = {"outcome": settled or outcome.value}
        if decision.agent is not None:
            result["agent_id"] = decision.agent.get("id")
            # The signed receipt the agent carries, so auditors find it in the log too.
            if decision.agent.get("receipt") is not None:
                result["receipt"] = decision.agent.get("receipt")
        if error is not None:
            result["error"] = error.to_body()
        try:
            await self._append(
                self._audit.outcome_record(decision, timestamp=datetime.now(UTC), result=result)
            )
        except DependencyError:
            logger.exception("outcome of %s not recorded", decision.decision_id)
        # After the records (audit first); never raises.
        await announce_created(self._swarm, decision, outcome)


class ReleaseStep:
    """Give back what a request that will not create holds: its quota slots and
    its hold on the tenant's cost total."""

    def __init__(self, ledger: QuotaLedger, costs: CostLedger) -> None:
        self._ledger = ledger
        self._costs = costs

    async def end_hold(self, ctx: AdmissionContext) -> None:
        """End the request's hold on its tenant's cost total (queued, denied, failed)."""
        if ctx.cost_held is None:
            return
        tenant, ctx.cost_held = ctx.cost_held, None
        try:
            await self._costs.release(tenant, ctx.decision_id)
        except DependencyError:
            # A hold left behind only errs on the side of more cost reviews, and
            # stops counting at its expiry.
            logger.exception("could not end the cost hold of %s", ctx.decision_id)

    async def __call__(self, ctx: AdmissionContext) -> None:
        await self.end_hold(ctx)
        if ctx.reservation is None:
            return
        reservation, ctx.reservation = ctx.reservation, None
        try:
            await self._ledger.release(reservation)
        except DependencyError:
            # The request is denied either way; a counter left high only errs
            # on the side of refusing (and window counters expire).
            logger.exception("could not release quota reservation for %s", ctx.decision_id)


class QueueStep:
    def __init__(self, approvals: ApprovalStore) -> None:
        self._approvals = approvals

    async def __call__(self, ctx: AdmissionContext, decision: Decision) -> None:
        """Put a reviewed request in the approval queue; raises ``DependencyError``."""
        if ctx.approval_id is None or ctx.principal is None:
            raise InternalError("a request to queue has no approval id or principal")
        now = decision.timestamp
        request = ctx.request
        await self._approvals.add(
            ApprovalRecord(
                id=ctx.approval_id,
                decision_id=decision.decision_id,
                tenant=ctx.principal.tenant,
                kind=decision.kind.value,
                creator=ctx.principal.id,
                state=ApprovalState.PENDING,
                request=decision.input,
                reasons=decision.reasons,
                danger_score=decision.danger_score,
                danger_findings=[f.model_dump(mode="json") for f in ctx.danger.findings]
                if ctx.danger
                else [],
                policy_revision=decision.revision,
                created_at=now,
                expires_at=datetime.fromtimestamp(
                    now.timestamp() + ctx.need_settings().approval_timeout_seconds, UTC
                ),
                principal=ctx.principal.model_dump(mode="json"),
                # The queued request keeps its quota reservation (the queue cannot
                # be flooded); these keys let a deny or an expiry give it back.
                reserved_keys=tuple(c.key for c in ctx.reservation.counters)
                if ctx.reservation
                else (),
                callback_url=str(request.callback_url)
                if request and request.callback_url
                else None,
                tools=ctx.effective.tool_sources() if ctx.effective else None,
            )
        )
