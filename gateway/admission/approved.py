"""Admission's side of an approval: re-check an approved request and create it.

The approval workflow (``gateway.approvals``) decides *who* approves and
*when*; what approving does is admission's: every check again, as the creator,
under the current policy, then the same creation and records as any allow.
``ApprovedRequests`` is what the workflow is given (it never imports
admission).
"""

from __future__ import annotations

from gateway.admission.answer import AdmissionAnswer
from gateway.admission.context import AdmissionContext
from gateway.admission.pipeline import Pipeline
from gateway.approvals.queue import ApprovalRecord
from gateway.contract.decision import Reason, StageName, StageResult, StageStatus
from gateway.contract.request import AgentKind, parse_request
from gateway.errors import InternalError, NotFound, SpawngateError
from gateway.identity.authenticator import Authenticator, Principal
from gateway.policy.snapshot import PolicyHolder
from gateway.quotas.ledger import QuotaLedger
from gateway.registry.base import AgentRecord, Registry

__all__ = ["ApprovedRequests"]


class ApprovedRequests:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        authenticator: Authenticator,
        policy: PolicyHolder,
        ledger: QuotaLedger,
        registry: Registry,
    ) -> None:
        self._pipeline = pipeline
        self._auth = authenticator
        self._policy = policy
        self._ledger = ledger
        self._registry = registry

    async def recheck_and_create(
        self, record: ApprovalRecord, *, approver: str, decision_id: str | None = None
    ) -> AdmissionAnswer:
        """Run every check again as the creator, under the current policy, then create.

        ``decision_id`` (the approval's attempt) is what the registry record
        carries, so a resumed approval can tell an agent it created already. No
        API key is issued here: the creator collects it (``issue_agent_key``),
        never the approver.
        """
        kind = AgentKind(record.kind)
        ctx = AdmissionContext(
            kind=kind,
            raw_body=record.request,
            authorization=None,
            decision_id=decision_id or Pipeline.new_decision_id(),
            policy=self._policy.current,
            defer_credential=True,
        )
        front: tuple[StageResult, ...]
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
        return await self._pipeline.recheck(ctx, front)

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
