"""The admission pipeline: the one decision path behind every front.

Every front (HTTP, CLI, MCP) calls ``Pipeline.admit``; an approver's approval
calls ``Pipeline.recheck``. Read ``admit`` top to bottom: it is the whole life
of one creation request.

Stage order (why it is this order):

    validate      reject malformed input before spending anything on it
    authenticate  who is calling decides the tenant, and everything after; it
                  runs even after validation denied (the request stays denied),
                  so that every attempt is recorded with the caller's tenant
    feature       self-service is off unless the tenant turned it on (seed 000)
    authorize     Casbin: may this principal create this kind, in its tenant
    quota         reserve counters atomically before any expensive step, so a
                  burst cannot run N policy and LLM evaluations for K slots
    template      resolve the blueprint: the facts policy needs
    policy        governance rules (Rego); cheap, so it runs before danger
    danger        the scorer (possibly an LLM call) only runs for requests
                  policy did not already deny; its verdict is policy too
    approval      review anywhere means a human decides
    create        forward to the registry (only on allow, after the record)

Steps around the stages (``gateway.admission.steps``):

    idempotency   after authenticate: a retry with the same Idempotency-Key
                  gets the first answer; the final answer is stored last
    audit         the decision record is written once the verdict is known,
                  *before* anything is queued or created and before the caller
                  is answered; if it cannot be written, nothing happens and the
                  caller gets a 503; an outcome record follows creation
    queue         a reviewed request goes to the approval queue
    telemetry     every answer (not an idempotent replay) is counted in the
                  metrics and logged as one line, after the caller's answer is
                  final; neither can change or delay the decision's record

Combination rule (the only place it is written):

    1. a deny from any stage wins;
    2. an error in any stage is a deny (fail closed);
    3. otherwise a review from any stage sends the request to a human;
    4. otherwise the request is allowed, but only if every deciding stage
       actually ran and passed: no allow means deny.

A stage stops the pipeline when it denies or errs; the stages after it are
recorded as skipped. Review does not stop it: a later deny still wins.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence

from gateway.admission.answer import AdmissionAnswer, answer_of
from gateway.admission.context import AdmissionContext
from gateway.admission.observed import facts_of
from gateway.admission.recording import APPROVE_PATH, decision_of
from gateway.admission.runner import StageRunner, Trace
from gateway.admission.stage import Stage
from gateway.admission.steps import AuditStep, Claim, IdempotencyStep, QueueStep, ReleaseStep
from gateway.admission.verdict import outcome_of
from gateway.contract.decision import (
    Decision,
    Outcome,
    Reason,
    StageName,
    StageResult,
    StageStatus,
    Verdict,
)
from gateway.contract.request import AgentKind
from gateway.errors import DependencyError, SpawngateError
from gateway.policy.snapshot import PolicyHolder
from gateway.registry.base import INDETERMINATE
from gateway.telemetry import Metrics, log_decision

__all__ = ["DECIDING_STAGES", "STAGE_ORDER", "Pipeline", "combine"]

logger = logging.getLogger("spawngate.pipeline")

STAGE_ORDER: tuple[StageName, ...] = (
    StageName.VALIDATE,
    StageName.AUTHENTICATE,
    StageName.FEATURE,
    StageName.AUTHORIZE,
    StageName.QUOTA,
    StageName.TEMPLATE,
    StageName.POLICY,
    StageName.DANGER,
    StageName.APPROVAL,
    StageName.CREATE,
)

#: Stages that must all have run and passed (or asked for review) for an allow.
DECIDING_STAGES: tuple[StageName, ...] = STAGE_ORDER[: STAGE_ORDER.index(StageName.APPROVAL) + 1]


def combine(results: Sequence[StageResult]) -> Verdict:
    """The combination rule; see the module docstring."""
    statuses = {r.stage: r.status for r in results}
    if any(s in (StageStatus.DENY, StageStatus.ERROR) for s in statuses.values()):
        return Verdict.DENY
    for stage in DECIDING_STAGES:
        if statuses.get(stage) not in (StageStatus.PASS, StageStatus.REVIEW):
            return Verdict.DENY
    if any(s is StageStatus.REVIEW for s in statuses.values()):
        return Verdict.REVIEW
    return Verdict.ALLOW


class Pipeline:
    def __init__(
        self,
        stages: Sequence[Stage],
        *,
        policy: PolicyHolder,
        idempotency: IdempotencyStep,
        audit: AuditStep,
        queue: QueueStep,
        release: ReleaseStep,
        metrics: Metrics,
    ) -> None:
        self._stages = StageRunner(stages, STAGE_ORDER)
        self._metrics = metrics
        self._policy = policy
        self._idempotency = idempotency
        self._audit = audit
        self._queue = queue
        self._release = release

    @staticmethod
    def new_decision_id() -> str:
        return "dec_" + uuid.uuid4().hex

    async def admit(
        self,
        kind: AgentKind,
        body: object,
        *,
        authorization: str | None,
        idempotency_key: str | None = None,
    ) -> AdmissionAnswer:
        """Decide one creation request, record it, act on it, answer it."""
        started = time.perf_counter()
        ctx = AdmissionContext(
            kind=kind,
            raw_body=body,
            authorization=authorization,
            decision_id=self.new_decision_id(),
            policy=self._policy.current,
            shadow_policy=self._policy.shadow,
        )
        trace = Trace()
        answer, replayed = await self._decide(ctx, trace, idempotency_key)
        if not replayed:
            facts = facts_of(ctx, trace, answer, time.perf_counter() - started)
            self._metrics.decided(facts)
            log_decision(facts)
        return answer

    async def _decide(
        self, ctx: AdmissionContext, trace: Trace, idempotency_key: str | None
    ) -> tuple[AdmissionAnswer, bool]:
        """The answer, and whether it is a stored one (an idempotent replay)."""
        run = self._stages.run
        await run(ctx, trace, StageName.VALIDATE, StageName.VALIDATE)
        await run(ctx, trace, StageName.AUTHENTICATE, StageName.AUTHENTICATE, even_if_halted=True)

        claim: Claim | None = None
        if idempotency_key is not None and trace.error is None and ctx.principal is not None:
            try:
                claimed = await self._idempotency.claim(ctx, idempotency_key)
            except SpawngateError as exc:
                return await self._refuse_claim(ctx, trace, exc), False
            if isinstance(claimed, AdmissionAnswer):
                return claimed, True
            claim = claimed

        answer: AdmissionAnswer | None = None
        try:
            await run(ctx, trace, StageName.FEATURE, StageName.APPROVAL)
            verdict = combine(trace.results)
            if verdict is Verdict.DENY:
                await self._release(ctx)
            decision = decision_of(
                ctx, trace.frozen(), verdict, outcome_of(verdict, trace.error), trace.error
            )
            answer = await self._record(ctx, trace, decision)
            if answer is None:
                if verdict is Verdict.DENY:
                    answer = answer_of(decision, trace.error)
                elif verdict is Verdict.REVIEW:
                    answer = await self._enqueue(ctx, decision)
                else:
                    answer = await self._create(ctx, trace, decision)
            return answer, False
        finally:
            if claim is not None:
                await self._idempotency.complete(claim, answer)

    async def recheck(
        self,
        ctx: AdmissionContext,
        front: tuple[StageResult, ...],
    ) -> AdmissionAnswer:
        """An approved request: every check again as its creator, then create.

        ``ctx`` carries the request and creator (``front`` records how they were
        established, or why not). The approver decided the review reasons; a
        deny from any check now (a new revision, the creator's current tools,
        quotas, a taken name) still wins, and nothing is created.
        """
        trace = Trace(results=list(front))
        await self._stages.run(ctx, trace, StageName.FEATURE, StageName.DANGER)
        if trace.halted:
            await self._release(ctx)
            outcome = outcome_of(Verdict.DENY, trace.error)
            decision = decision_of(
                ctx, trace.frozen(), Verdict.DENY, outcome, trace.error, path=APPROVE_PATH
            )
            await self._audit.decision(decision)
            return answer_of(decision, trace.error)
        decision = decision_of(
            ctx, trace.frozen(), Verdict.ALLOW, Outcome.ALLOWED, None, path=APPROVE_PATH
        )
        await self._audit.decision(decision)
        return await self._create(ctx, trace, decision)

    # -- the steps after the verdict ------------------------------------------------

    async def _record(
        self, ctx: AdmissionContext, trace: Trace, decision: Decision
    ) -> AdmissionAnswer | None:
        """Audit first: None once the record is durable, else the failed answer."""
        try:
            await self._audit.decision(decision)
        except DependencyError as exc:
            logger.error("decision %s not recorded, refusing: %s", ctx.decision_id, exc.reason)
            if decision.verdict is not Verdict.DENY:
                await self._release(ctx)
            failed = decision_of(
                ctx,
                trace.frozen(),
                Verdict.DENY,
                Outcome.FAILED,
                exc.with_stage("audit"),
                extra=(Reason(stage=StageName.AUDIT, code=exc.code, message=exc.reason),),
            )
            return answer_of(failed, exc)
        return None

    async def _enqueue(self, ctx: AdmissionContext, decision: Decision) -> AdmissionAnswer:
        try:
            await self._queue(ctx, decision)
        except DependencyError as exc:
            await self._release(ctx)
            await self._audit.outcome(decision, Outcome.FAILED, exc)
            failed = decision.model_copy(
                update={
                    "outcome": Outcome.FAILED,
                    "verdict": Verdict.DENY,
                    "status_code": exc.status,
                }
            )
            return answer_of(failed, exc)
        # Queued, not created: the approval re-checks the cost rule with a new hold.
        await self._release.end_hold(ctx)
        return answer_of(decision.model_copy(update={"status_code": 202}), None)

    async def _create(
        self, ctx: AdmissionContext, trace: Trace, decision: Decision
    ) -> AdmissionAnswer:
        before = len(trace.results)
        await self._stages.run(ctx, trace, StageName.CREATE, StageName.CREATE)
        created = trace.results[before:]
        results = trace.frozen()
        if not created or created[-1].status is not StageStatus.PASS:
            error = trace.error
            # A creation that may have taken effect keeps its slot: the reconciler
            # removes the agent and gives the slot back (erring on refusing).
            if error is None or error.code != INDETERMINATE:
                await self._release(ctx)
            outcome = outcome_of(Verdict.DENY, error)
            await self._audit.outcome(decision, outcome, error)
            return answer_of(decision_of(ctx, results, Verdict.DENY, outcome, error), error)
        final = decision_of(ctx, results, Verdict.ALLOW, Outcome.CREATED, None)
        await self._audit.outcome(final, Outcome.CREATED, None)
        return answer_of(final, None)

    async def _refuse_claim(
        self, ctx: AdmissionContext, trace: Trace, exc: SpawngateError
    ) -> AdmissionAnswer:
        """An Idempotency-Key that may not be used now: a recorded deny."""
        decision = decision_of(
            ctx,
            trace.frozen(),
            Verdict.DENY,
            Outcome.DENIED,
            exc,
            extra=(Reason(stage=StageName.AUTHENTICATE, code=exc.code, message=exc.reason),),
        )
        try:
            await self._audit.decision(decision)
        except DependencyError as audit_exc:
            return answer_of(decision, audit_exc)
        return answer_of(decision, exc)
