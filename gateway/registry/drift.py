"""Drift: where the registry and the decision log disagree about what was admitted.

``spawngate registry audit`` (and anything else holding a registry, the log and the
receipt key) calls ``audit_drift``. It reads the log once, lists every tenant's
agents through the ``Registry`` protocol (so the built-in, HTTP and kagent
registries are audited alike), and reports, never repairs:

* ``no_decision``: an agent whose decision id has no decision record: created
  around the gateway (the same finding as the reconciler's orphans,
  ``gateway.registry.agreement.compare``);
* ``missing_agent``: a decision whose outcome says created, with no such agent
  (or one of another decision), and no retirement or expiry recorded for it;
* ``bad_receipt``: an agent with a decision but no receipt, or one that does not
  verify (signature, expiry), is another agent's or decision's, or whose request
  hash is not that of the decision record's ``input``;
* ``tools_differ``: an agent whose tools are not those its decision granted (the
  template stage's ``from_template`` and ``from_request`` in the decision record).

An agent with no decision is reported once, as ``no_decision``. An expired receipt
is ``bad_receipt``: the agent outlived the admission that allowed it
(``SPAWNGATE_RECEIPT_TTL_SECONDS``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import JsonValue

from gateway.audit.record import AuditRecord, RecordType
from gateway.errors import SpawngateError
from gateway.receipts.issuer import check
from gateway.receipts.token import request_hash
from gateway.registry.agreement import compare
from gateway.registry.base import AgentRecord, Registry

__all__ = ["KINDS", "DriftItem", "DriftReport", "audit_drift"]

KINDS = ("no_decision", "bad_receipt", "missing_agent", "tools_differ")
#: A tenant listing at least this long may be cut short (as the reconciler assumes).
_LISTING_LIMIT = 1_000_000
#: Retirement records that account for an agent's absence: the outcome, or the
#: intent written before the removal (gateway.lifecycle.retire, audit first).
_GONE = {"retired", "expired", "retiring", "expiring"}


@dataclass(frozen=True, slots=True)
class DriftItem:
    kind: str
    tenant: str
    agent_id: str
    decision_id: str
    detail: str


@dataclass(frozen=True, slots=True)
class DriftReport:
    items: tuple[DriftItem, ...]
    agents: int
    decisions: int
    tenants: tuple[str, ...] = field(default=())

    def counts(self) -> dict[str, int]:
        return {kind: sum(1 for i in self.items if i.kind == kind) for kind in KINDS}

    def result(self) -> dict[str, JsonValue]:
        return {
            "drift": bool(self.items),
            "agents": self.agents,
            "decisions": self.decisions,
            "tenants": list(self.tenants),
            "counts": dict(self.counts()),
            "items": [dict(asdict(i)) for i in self.items],
        }


@dataclass
class _Log:
    """What the audit needs of the log, read once, page by page."""

    decisions: dict[str, AuditRecord] = field(default_factory=dict)
    claims: list[AuditRecord] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    tenants: set[str] = field(default_factory=set)

    def add(self, r: AuditRecord) -> None:
        if r.tenant:
            self.tenants.add(r.tenant)
        if r.type is RecordType.DECISION:
            self.decisions[r.decision_id] = r
        elif r.type is RecordType.OUTCOME and r.result.get("outcome") == "created":
            self.claims.append(r)
        elif r.type is RecordType.RETIREMENT and r.result.get("action") in _GONE:
            self.gone.add(str(r.input.get("agent_decision_id") or ""))


def granted_tools(decision: AuditRecord) -> set[str] | None:
    """The tools a decision granted, from its template stage; None if it does not say."""
    stages = decision.result.get("stages")
    for stage in stages if isinstance(stages, list) else []:
        if not isinstance(stage, dict) or stage.get("stage") != "template":
            continue
        facts = stage.get("facts")
        tools = facts.get("tools") if isinstance(facts, dict) else None
        if isinstance(tools, dict):
            found: set[str] = set()
            for part in ("from_template", "from_request"):
                names = tools.get(part)
                if isinstance(names, list):
                    found.update(str(n) for n in names if n)
            return found
    return None


def _receipt_problem(
    agent: AgentRecord, decision: AuditRecord, key: Ed25519PublicKey, now: datetime | None
) -> str | None:
    if not agent.receipt:
        return "the agent carries no receipt"
    try:
        receipt = check(
            agent.receipt, key, agent_id=agent.id, decision_id=agent.decision_id, now=now
        )
    except SpawngateError as exc:
        return f"{exc.code}: {exc.reason}"
    if receipt.request_hash != request_hash(decision.input):
        return "receipt_mismatch: its request hash is not that of the decision record's input"
    return None


async def audit_drift(
    registry: Registry,
    records: AsyncIterator[AuditRecord],
    *,
    key: Ed25519PublicKey,
    tenants: Iterable[str] = (),
    now: datetime | None = None,
) -> DriftReport:
    log = _Log(tenants=set(tenants))
    async for record in records:
        log.add(record)
    agents: list[AgentRecord] = []
    for tenant in sorted(log.tenants):
        listed = await registry.search(
            tenant, capability=None, name_contains=None, limit=_LISTING_LIMIT
        )
        agents += listed
    orphans, missing = compare(agents, set(log.decisions), log.claims)
    items = [
        DriftItem("no_decision", d.tenant, d.agent_id, d.decision_id, "no decision record")
        for d in orphans
    ]
    items += [
        DriftItem("missing_agent", d.tenant, d.agent_id, d.decision_id, d.problem)
        for d in missing
        if d.decision_id not in log.gone
    ]
    for agent in agents:
        decision = log.decisions.get(agent.decision_id)
        if decision is None:
            continue
        problem = _receipt_problem(agent, decision, key, now)
        if problem is not None:
            items.append(
                DriftItem("bad_receipt", agent.tenant, agent.id, agent.decision_id, problem)
            )
        granted = granted_tools(decision)
        if granted is not None and granted != set(agent.tools):
            extra, lacking = sorted(set(agent.tools) - granted), sorted(granted - set(agent.tools))
            items.append(
                DriftItem(
                    "tools_differ",
                    agent.tenant,
                    agent.id,
                    agent.decision_id,
                    f"beyond the grant: {extra or 'none'}; granted, not held: {lacking or 'none'}",
                )
            )
    items.sort(key=lambda i: (KINDS.index(i.kind), i.tenant, i.agent_id))
    return DriftReport(
        tuple(items),
        agents=len(agents),
        decisions=len(log.decisions),
        tenants=tuple(sorted(log.tenants)),
    )
