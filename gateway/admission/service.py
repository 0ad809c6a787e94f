"""The admission service: the one decision path behind every front.

The HTTP API, the CLI and any later front call ``AdmissionService.submit``;
none of them decides anything. The service runs the pipeline, then, in this
order:

1. writes the decision record (audit first: before anything is created and
   before the caller is answered; if it cannot be written, nothing happens
   and the caller gets a 503);
2. queues the request for approval, or creates the agent;
3. writes an outcome record for what creation did;
4. answers.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue

from gateway.admission.context import AdmissionContext
from gateway.admission.idempotency import IdempotencyStore, StoredAnswer, body_fingerprint
from gateway.admission.pipeline import Pipeline, RunResult, combine
from gateway.approvals.queue import ApprovalRecord, ApprovalState, ApprovalStore
from gateway.audit.log import AuditLog
from gateway.audit.query import parse_cursor
from gateway.contract.body import digest as body_digest
from gateway.contract.decision import (
    Decision,
    Outcome,
    Reason,
    StageName,
    StageResult,
    StageStatus,
    Verdict,
)
from gateway.contract.request import AgentKind, parse_request
from gateway.errors import (
    DependencyError,
    InternalError,
    NotFound,
    PermissionDenied,
    SpawngateError,
)
from gateway.identity.authenticator import Authenticator, Principal
from gateway.policy.casbin import Action, Obj
from gateway.policy.snapshot import PolicyHolder
from gateway.quotas.ledger import QuotaLedger
from gateway.registry.base import (
    INDETERMINATE,
    ROLLED_BACK,
    AgentFilter,
    AgentRecord,
    Registry,
    is_active,
)
from gateway.registry.discovery import COVER_SCAN_LIMIT, allowed_templates_offering, suggestion
from gateway.storage.redis import RedisStore

__all__ = ["AdmissionService", "Answer"]

logger = logging.getLogger("spawngate.service")

PATHS = {AgentKind.AGENT: "spawngate/create_agent", AgentKind.SME: "spawngate/create_sme"}
#: Outcome records of creations whose answer was lost (see gateway.registry.builtin).
_SETTLED = {ROLLED_BACK: "rolled_back", INDETERMINATE: "indeterminate"}


@dataclass(frozen=True, slots=True)
class Answer:
    """What a front sends back: a status, a JSON body and headers."""

    status_code: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _status_for(outcome: Outcome, error: SpawngateError | None) -> int:
    if outcome in (Outcome.CREATED, Outcome.ALLOWED):
        return 201
    if outcome is Outcome.PENDING_APPROVAL:
        return 202
    if error is not None:
        return error.status
    return 403


def _live_policy_verdict(results: tuple[StageResult, ...]) -> str | None:
    status = {r.stage: r.status for r in results}
    policy, danger = status.get(StageName.POLICY), status.get(StageName.DANGER)
    if policy in (None, StageStatus.SKIPPED):
        return None
    if StageStatus.DENY in (policy, danger) or StageStatus.ERROR in (policy, danger):
        return "deny"
    if StageStatus.REVIEW in (policy, danger):
        return "review"
    return "allow"


def _shadow_difference(
    ctx: AdmissionContext, results: tuple[StageResult, ...]
) -> dict[str, Any] | None:
    """What the shadow revision would have decided, recorded only when it differs."""
    if ctx.shadow_policy is None:
        return None
    live = _live_policy_verdict(results)
    if ctx.shadow_error is not None:
        return {
            "revision": ctx.shadow_policy.revision,
            "error": ctx.shadow_error,
            "live_verdict": live,
        }
    admission = ctx.shadow_admission
    if admission is None or live is None:
        return None
    danger = ctx.shadow_danger
    rules = {r.rule for r in admission.deny} | {r.rule for r in admission.review}
    if admission.deny:
        verdict = "deny"
    elif danger is None:
        # Live denied before scoring: the shadow verdict is the admission's alone.
        verdict = "review" if admission.review else "allow"
    else:
        rules |= {r.rule for r in danger.deny} | {r.rule for r in danger.review}
        verdict = (
            "deny" if danger.deny else "review" if (admission.review or danger.review) else "allow"
        )
    if verdict == live:
        return None
    return {
        "revision": ctx.shadow_policy.revision,
        "verdict": verdict,
        "live_verdict": live,
        "rules": sorted(rules),
        "danger_scored": danger is not None,
    }


def _policy_input(ctx: AdmissionContext) -> dict[str, Any] | None:
    if ctx.policy_document is None:
        return None
    if ctx.danger_facts is None:
        return ctx.policy_document
    return {**ctx.policy_document, "danger": ctx.danger_facts}


def _collect_reasons(results: tuple[StageResult, ...]) -> tuple[Reason, ...]:
    seen: set[tuple[str, str]] = set()
    out: list[Reason] = []
    for r in results:
        for reason in r.reasons:
            key = (reason.code, reason.message)
            if key not in seen:
                seen.add(key)
                out.append(reason)
    return tuple(out)


class AdmissionService:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        authenticator: Authenticator,
        ledger: QuotaLedger,
        policy: PolicyHolder,
        registry: Registry,
        audit: AuditLog,
        approvals: ApprovalStore,
        idempotency: IdempotencyStore,
        store: RedisStore,
        approval_ttl_seconds: int,
    ) -> None:
        self._pipeline = pipeline
        self._auth = authenticator
        self._ledger = ledger
        self._policy = policy
        self._registry = registry
        self._audit = audit
        self._approvals = approvals
        self._idem = idempotency
        self._store = store
        self._approval_ttl = approval_ttl_seconds

    # -- the decision path -------------------------------------------------

    async def submit(
        self,
        kind: AgentKind,
        body: object,
        *,
        authorization: str | None,
        idempotency_key: str | None = None,
    ) -> Answer:
        began = time.perf_counter()
        ctx = AdmissionContext(
            kind=kind,
            raw_body=body,
            authorization=authorization,
            decision_id="dec_" + uuid.uuid4().hex,
            policy=self._policy.current,
            shadow_policy=self._policy.shadow,
        )
        front = await self._pipeline.run(ctx, stop=StageName.VALIDATE)
        # Authenticate even when validation failed: the request stays denied, but its
        # record carries the caller's tenant, so that tenant's auditors see the attempt.
        identified = await self._pipeline.run(
            ctx, start=StageName.AUTHENTICATE, stop=StageName.AUTHENTICATE
        )
        front = RunResult(
            results=front.results + identified.results, error=front.error or identified.error
        )
        claim: tuple[str, str, str, str] | None = None
        if idempotency_key is not None and front.error is None and ctx.principal is not None:
            fingerprint = body_fingerprint(kind.value, body)
            try:
                stored = await self._idem.claim(
                    ctx.principal.tenant, ctx.principal.id, idempotency_key, fingerprint
                )
            except SpawngateError as exc:
                return await self._refuse_early(ctx, front, exc, began)
            if stored is not None:
                return await self._replay(ctx, stored)
            claim = (ctx.principal.tenant, ctx.principal.id, idempotency_key, fingerprint)
        answer: Answer | None = None
        try:
            answer = await self._decide(ctx, front, began)
            return answer
        finally:
            if claim is not None:
                # An unexpected failure leaves no answer: store a 500 so the
                # claim is dropped and a retry is decided afresh.
                stored_answer = answer or Answer(500, {})
                try:
                    await self._idem.complete(
                        *claim,
                        StoredAnswer(
                            stored_answer.status_code, stored_answer.body, stored_answer.headers
                        ),
                    )
                except DependencyError:
                    logger.exception("could not store the idempotent answer")

    async def _decide(self, ctx: AdmissionContext, front: RunResult, began: float) -> Answer:
        run = await self._pipeline.run(
            ctx, start=StageName.FEATURE, stop=StageName.APPROVAL, previous=front.results
        )
        error = front.error or run.error
        verdict = combine(run.results)
        if verdict is Verdict.DENY:
            await self._release(ctx)
            outcome = Outcome.FAILED if isinstance(error, DependencyError) else Outcome.DENIED
        elif verdict is Verdict.REVIEW:
            outcome = Outcome.PENDING_APPROVAL
        else:
            outcome = Outcome.ALLOWED
        decision = self._decision(ctx, run.results, verdict, outcome, error, began)

        # 1. Audit first.
        try:
            await self._audit.append(self._audit.decision_record(decision))
        except DependencyError as exc:
            logger.error("decision %s not recorded, refusing: %s", ctx.decision_id, exc.reason)
            if verdict is not Verdict.DENY:
                await self._release(ctx)
            failed = self._decision(
                ctx,
                run.results,
                Verdict.DENY,
                Outcome.FAILED,
                exc.with_stage("audit"),
                began,
                extra=(Reason(stage=StageName.AUDIT, code=exc.code, message=exc.reason),),
            )
            return self._answer(failed, exc)

        if verdict is Verdict.DENY:
            return self._answer(decision, error)
        if verdict is Verdict.REVIEW:
            return await self._queue(ctx, decision)
        return await self._create(ctx, decision, run, began)

    async def _queue(self, ctx: AdmissionContext, decision: Decision) -> Answer:
        if ctx.approval_id is None or ctx.principal is None:
            raise InternalError("a request to queue has no approval id or principal")
        now = decision.timestamp
        record = ApprovalRecord(
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
            # The queued request keeps its quota reservation (the queue cannot be
            # flooded); these keys let a deny or an expiry give it back.
            reserved_keys=tuple(c.key for c in ctx.reservation.counters) if ctx.reservation else (),
            callback_url=str(ctx.request.callback_url)
            if ctx.request and ctx.request.callback_url
            else None,
        )
        try:
            await self._approvals.add(record)
        except DependencyError as exc:
            await self._release(ctx)
            await self._record_outcome(decision, Outcome.FAILED, exc)
            failed = decision.model_copy(
                update={
                    "outcome": Outcome.FAILED,
                    "verdict": Verdict.DENY,
                    "status_code": exc.status,
                }
            )
            return self._answer(failed, exc)
        return self._answer(decision.model_copy(update={"status_code": 202}), None)

    async def _create(
        self, ctx: AdmissionContext, decision: Decision, run: RunResult, began: float
    ) -> Answer:
        created = await self._pipeline.run(
            ctx, start=StageName.CREATE, stop=StageName.CREATE, previous=run.results
        )
        create_result = created.results[-1]
        if create_result.status is not StageStatus.PASS:
            error = created.error
            # A creation that may have taken effect keeps its slot: the reconciler
            # removes the agent and gives the slot back (erring on refusing).
            if error is None or error.code != INDETERMINATE:
                await self._release(ctx)
            outcome = Outcome.FAILED if isinstance(error, DependencyError) else Outcome.DENIED
            await self._record_outcome(decision, outcome, error)
            final = self._decision(
                ctx, created.results, Verdict.DENY, outcome, created.error, began
            )
            return self._answer(final, created.error)
        final = self._decision(ctx, created.results, Verdict.ALLOW, Outcome.CREATED, None, began)
        await self._record_outcome(final, Outcome.CREATED, None)
        return self._answer(final, None)

    # -- helpers -----------------------------------------------------------

    def _decision(
        self,
        ctx: AdmissionContext,
        results: tuple[StageResult, ...],
        verdict: Verdict,
        outcome: Outcome,
        error: SpawngateError | None,
        began: float,
        *,
        extra: tuple[Reason, ...] = (),
        path: str | None = None,
    ) -> Decision:
        principal = ctx.principal
        if ctx.request is not None:
            normalised: dict[str, JsonValue] = ctx.request.model_dump(
                mode="json", exclude_none=True
            )
        else:
            # A body that failed validation is recorded as a bounded digest (size,
            # SHA-256, a short excerpt), never as received: it may be large, or
            # hold values that cannot be serialised or hashed.
            normalised = {"refused_body": body_digest(ctx.raw_body)}
        return Decision(
            decision_id=ctx.decision_id,
            timestamp=datetime.now(UTC),
            path=path or PATHS[ctx.kind],
            kind=ctx.kind,
            tenant=principal.tenant if principal else None,
            principal=principal.id if principal else None,
            input=normalised,
            stages=results,
            verdict=verdict,
            outcome=outcome,
            status_code=_status_for(outcome, error),
            reasons=_collect_reasons(results) + extra,
            obligations=ctx.obligations,
            danger_score=ctx.danger.score if ctx.danger else None,
            revision=ctx.engine_revision or ctx.need_policy().revision,
            approval_id=ctx.approval_id if verdict is Verdict.REVIEW else None,
            agent=ctx.created,
            policy_input=_policy_input(ctx),
            shadow=_shadow_difference(ctx, results),
            agent_api_key=ctx.issued_key,
            duration_ms=round((time.perf_counter() - began) * 1000, 3),
        )

    async def _release(self, ctx: AdmissionContext) -> None:
        if ctx.reservation is None:
            return
        reservation, ctx.reservation = ctx.reservation, None
        try:
            await self._ledger.release(reservation)
        except DependencyError:
            # The request is denied either way; a counter left high only errs
            # on the side of refusing (and window counters expire).
            logger.exception("could not release quota reservation for %s", ctx.decision_id)

    async def _record_outcome(
        self, decision: Decision, outcome: Outcome, error: SpawngateError | None
    ) -> None:
        # The record says what became of a creation whose answer was lost
        # ("rolled_back", or "indeterminate" for the reconciler), not just "failed".
        settled = _SETTLED.get(error.code) if error is not None else None
        result: dict[str, JsonValue] = {"outcome": settled or outcome.value}
        if decision.agent is not None:
            result["agent_id"] = decision.agent.get("id")
        if error is not None:
            result["error"] = error.to_body()
        try:
            await self._audit.append(
                self._audit.outcome_record(decision, timestamp=datetime.now(UTC), result=result)
            )
        except DependencyError:
            logger.exception("outcome of %s not recorded", decision.decision_id)

    async def _refuse_early(
        self, ctx: AdmissionContext, front: RunResult, exc: SpawngateError, began: float
    ) -> Answer:
        results = front.results
        decision = self._decision(
            ctx,
            results,
            Verdict.DENY,
            Outcome.DENIED,
            exc,
            began,
            extra=(Reason(stage=StageName.AUTHENTICATE, code=exc.code, message=exc.reason),),
        )
        try:
            await self._audit.append(self._audit.decision_record(decision))
        except DependencyError as audit_exc:
            return self._answer(decision, audit_exc)
        return self._answer(decision, exc)

    async def _replay(self, ctx: AdmissionContext, stored: StoredAnswer) -> Answer:
        original = stored.body.get("decision_id")
        logger.info("idempotent replay of %s", original)
        headers = dict(stored.headers)
        headers["Idempotent-Replayed"] = "true"
        return Answer(stored.status_code, stored.body, headers)

    def _answer(self, decision: Decision, error: SpawngateError | None) -> Answer:
        body: dict[str, Any] = {
            "decision_id": decision.decision_id,
            "outcome": decision.outcome.value,
            "verdict": decision.verdict.value,
            "kind": decision.kind.value,
            "reasons": [r.model_dump(mode="json", exclude_none=True) for r in decision.reasons],
            "obligations": list(decision.obligations),
            "policy_revision": decision.revision,
            "stages": [
                {"stage": s.stage.value, "status": s.status.value, "duration_ms": s.duration_ms}
                for s in decision.stages
            ],
        }
        if decision.danger_score is not None:
            body["danger_score"] = decision.danger_score
        if decision.approval_id is not None:
            body["request_id"] = decision.approval_id
        if decision.agent is not None:
            body["agent"] = decision.agent
        # Tool provenance (from_template / from_request / dropped), as the template
        # stage recorded it, so the caller sees what it was charged for.
        template = next((s for s in decision.stages if s.stage is StageName.TEMPLATE), None)
        if template is not None and isinstance(template.facts.get("tools"), dict):
            body["tools"] = template.facts["tools"]
        if decision.agent_api_key is not None:
            body["agent_api_key"] = decision.agent_api_key
        headers: dict[str, str] = {}
        if error is not None:
            body["error"] = error.to_body()
            headers.update(error.headers())
        return Answer(decision.status_code, body, headers)

    # -- approval re-check -------------------------------------------------

    async def recheck_and_create(
        self, record: ApprovalRecord, *, approver: str, decision_id: str | None = None
    ) -> Answer:
        """Run every check again as the creator, under the current policy, then create.

        The approver decided the review reasons; a deny from any check now (a
        new revision, the creator's current tools, quotas, a taken name) still
        wins, and nothing is created. ``decision_id`` (the approval's attempt)
        is what the registry record carries, so a resumed approval can tell an
        agent it created already. No API key is issued here: the creator
        collects it (``issue_agent_key``), never the approver.
        """
        began = time.perf_counter()
        kind = AgentKind(record.kind)
        ctx = AdmissionContext(
            kind=kind,
            raw_body=record.request,
            authorization=None,
            decision_id=decision_id or "dec_" + uuid.uuid4().hex,
            policy=self._policy.current,
            defer_credential=True,
        )
        front: tuple[StageResult, ...] = ()
        try:
            ctx.request = parse_request(kind, record.request)
            ctx.principal = await self._auth.current(Principal.model_validate(record.principal))
            front = (
                StageResult(
                    stage=StageName.VALIDATE, status=StageStatus.PASS, facts={"via": "approval"}
                ),
                StageResult(
                    stage=StageName.AUTHENTICATE,
                    status=StageStatus.PASS,
                    facts={
                        "principal": ctx.principal.id,
                        "approved_by": approver,
                        "approval_id": record.id,
                    },
                ),
            )
        except SpawngateError as exc:
            front = (
                StageResult(
                    stage=StageName.AUTHENTICATE,
                    status=StageStatus.DENY,
                    reasons=(
                        Reason(stage=StageName.AUTHENTICATE, code=exc.code, message=exc.reason),
                    ),
                ),
            )
        run = await self._pipeline.run(
            ctx, start=StageName.FEATURE, stop=StageName.DANGER, previous=front
        )
        denied = any(r.status in (StageStatus.DENY, StageStatus.ERROR) for r in run.results)
        results = run.results
        if denied:
            await self._release(ctx)
            outcome = Outcome.FAILED if isinstance(run.error, DependencyError) else Outcome.DENIED
            decision = self._decision(
                ctx, results, Verdict.DENY, outcome, run.error, began, path="spawngate/approve"
            )
            await self._audit.append(self._audit.decision_record(decision))
            return self._answer(decision, run.error)
        decision = self._decision(
            ctx, results, Verdict.ALLOW, Outcome.ALLOWED, None, began, path="spawngate/approve"
        )
        await self._audit.append(self._audit.decision_record(decision))
        return await self._create(ctx, decision, run, began)

    async def release_keys(self, keys: tuple[str, ...]) -> None:
        """Give back a queued request's reservation (on deny or expiry)."""
        if keys:
            await self._ledger.release_keys(keys)

    async def find_agent(self, tenant: str, name: str) -> AgentRecord | None:
        """The registered agent of that name (a resumed approval checks who made it)."""
        return await self._registry.get(tenant, name)

    async def issue_agent_key(self, record: ApprovalRecord) -> str:
        """Issue the API key of an approved agent that may spawn, for its creator."""
        if record.agent_id is None:
            raise InternalError(f"approval {record.id} has no created agent")
        agent = await self._registry.get(record.tenant, record.agent_id.split("/", 1)[-1])
        if agent is None:
            raise NotFound(f"agent '{record.agent_id}' is no longer registered")
        parent = await self._auth.current(Principal.model_validate(record.principal))
        return await self._auth.issue(
            Authenticator.spawned(
                agent_id=agent.id, tenant=agent.tenant, tools=agent.tools, parent=parent
            )
        )

    # -- reads -------------------------------------------------------------

    async def authenticate(self, authorization: str | None) -> Principal:
        return await self._auth.authenticate(authorization)

    async def decisions(
        self,
        principal: Principal,
        *,
        tenant: str | None = None,
        creator: str | None,
        verdict: str | None,
        decision_id: str | None,
        since: str | None,
        until: str | None,
        limit: int,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Decision-log records of one tenant (the caller's by default), for auditors,
        newest first, one bounded page at a time: the records and the cursor of the
        next page (None at the start of the log).

        Casbin decides per tenant: an auditor of its own tenant, or a role granted
        in every tenant ("*"), may read another tenant's records.
        """
        tenant = tenant or principal.tenant
        allowed = self._policy.current.authorizer.check(
            principal.subject, tenant, Obj.DECISION, Action.READ
        )
        if not allowed.allowed:
            raise PermissionDenied(
                f"'{principal.id}' may not read decisions in tenant '{tenant}'",
                code="not_an_auditor",
            )
        selected, next_cursor = await self._audit.newest(
            after=parse_cursor(cursor) if cursor is not None else None,
            limit=limit,
            tenant=tenant,
            creator=creator,
            verdict=verdict,
            decision_id=decision_id,
            since=since,
            until=until,
        )
        return [record.model_dump(mode="json") for record in selected], next_cursor

    async def get_agent(self, principal: Principal, name: str) -> AgentRecord:
        record = await self._registry.get(principal.tenant, name)
        if record is None:
            raise NotFound(f"no agent '{name}' in tenant '{principal.tenant}'")
        return record

    async def search_agents(
        self, principal: Principal, *, capability: str | None, name: str | None, limit: int
    ) -> list[AgentRecord]:
        return await self._registry.search(
            principal.tenant, capability=capability, name_contains=name, limit=limit
        )

    async def discover(
        self,
        principal: Principal,
        *,
        capability: str | None,
        where: AgentFilter,
        limit: int,
    ) -> tuple[list[AgentRecord], str]:
        """Active agents of the caller's tenant that match, and what to do next
        (gateway.registry.discovery). Casbin decides who may search (agent/read)."""
        allowed = self._policy.current.authorizer.check(
            principal.subject, principal.tenant, Obj.AGENT, Action.READ
        )
        if not allowed.allowed:
            raise PermissionDenied(
                f"'{principal.id}' may not search agents in tenant '{principal.tenant}'",
                code="not_authorized",
            )
        now = datetime.now(UTC)
        found = await self._registry.search(
            principal.tenant,
            capability=capability,
            name_contains=None,
            limit=COVER_SCAN_LIMIT,
            where=where,
        )
        agents = [a for a in found if is_active(a, now)][:limit]
        templates: list[str] = []
        if not agents and capability:
            snapshot = self._policy.current
            templates = allowed_templates_offering(
                snapshot.catalog, snapshot.data, principal.tenant, capability
            )
        return agents, suggestion(agents, capability, templates)

    async def readiness(self) -> dict[str, bool]:
        checks: dict[str, bool] = {}
        try:
            checks["redis"] = await self._store.ping()
        except DependencyError:
            checks["redis"] = False
        checks["policy"] = await self._policy.current.engine.ready()
        return checks

    @property
    def policy_revision(self) -> str:
        return self._policy.current.revision

    def policy_status(self) -> dict[str, Any]:
        """For /healthz: the deciding revision and the outcome of the last reload."""
        holder = self._policy
        return {
            "policy_revision": holder.current.revision,
            "policy_loaded_at": holder.current.loaded_at.isoformat(),
            "policy_reloads": holder.reloads,
            "policy_reload_error": holder.last_error,
            "shadow_revision": holder.shadow.revision if holder.shadow else None,
            "shadow_error": holder.shadow_error,
        }
