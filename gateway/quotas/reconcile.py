"""The reconciler: rebuild held quota counters from the truth, and report orphans.

A gateway killed between reserving quota and creating the agent (or queueing,
or releasing) leaves ``max_active_agents``, lineage ``descendants`` and
``total`` counters holding slots nobody holds, for good: they never expire.
Per minute / hour / day counters need no repair: they expire with their window.

The truth, read first: the registry (every agent holds a slot in its tenant's
active and total counters, its root's descendants and its creator's total) and
the approval queue (a pending request keeps its ``reserved_keys`` until it is
approved, denied or expired).

The race, and the choice made: a request in flight has reserved but is not yet
in the registry or the queue, and the rebuild cannot see it there. So every
reservation also leaves a lease beside each held counter (gateway.quotas.ledger), and
the rebuild is one Lua script, atomic against every reservation and release,
that sets each counter to at most ``floor + live leases`` and at least
``floor`` (floor = what the registry and queue showed). Anything that started
after the truth was read has a live lease at apply time, so it is never taken
back: a counter is only corrected *down* by slots covered by no agent, no
pending approval and no recent lease. The costs, all on the side of refusing:
a leaked slot comes back only once its lease is older than
``reconcile_lease_seconds`` (the run at start may leave the newest leaks to the
next scheduled run), and an approval decided during the rebuild, or a lease
whose agent already exists, can leave a counter one high until the next run.
It errs low only for an admission slower than the lease, or a deny/expiry
caught between its state change and its release (one slot; the next run,
which raises any counter below its floor, puts it back).

Only a registry that can list every agent (``Registry.lists_every_agent``: the
built-in one) is trusted to lower counters; with one that may cut a listing
short (the HTTP registry, whose contract has no paging) counters are left as
they are, since a short listing would free slots that real agents hold.

Unfinished creations (issue 9, item 8): an agent whose decision's outcome
records all say it was not created is removed (gateway.registry.agreement), and listed
under ``removed``.

Costs: the tenant's active cost set (the fact SG-APPROVAL-004 compares with
``max_cost_per_day``) is put back in line with the same listing: an agent whose
counting failed after creation is added, an entry for an agent the registry no
longer has is removed (``gateway.costs.rebuild`` says why it is read first and
why that is safe against creations in flight). Changes are listed under
``cost_corrections``.

Orphans: agents whose ``decision_id`` has no decision record
in the log, and outcome records that say ``created`` for an agent the registry
does not have (or has from another decision), are reported, not repaired: which
side is wrong needs a human. Each run that corrects something, or whose findings
differ from the last recorded ones, appends one ``reconcile`` record to the log.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import Counter as Tally
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import orjson
from pydantic import JsonValue

from gateway.approvals.queue import ApprovalStore
from gateway.audit.log import AuditLog, AuditRecord, RecordType
from gateway.costs.rebuild import CostCorrection, CostRebuilder
from gateway.errors import SpawngateError, UpstreamFailed
from gateway.quotas.ledger import Correction, QuotaLedger
from gateway.registry.agreement import Discrepancy, compare, remove_failed
from gateway.registry.base import AgentRecord, Registry
from gateway.storage.redis import RedisStore, redis_errors
from gateway.telemetry import Metrics

__all__ = ["Discrepancy", "ReconcileReport", "Reconciler"]

logger = logging.getLogger("spawngate.reconcile")

#: A tenant listing this long may be cut short by the registry: refuse to rebuild from it.
MAX_AGENTS_PER_TENANT = 1_000_000
MAX_LISTED = 1000  # entries of each kind in one record (the counts are complete)
_NOTHING_FOUND = hashlib.sha256(b"[[],[]]").hexdigest()


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    corrections: tuple[Correction, ...]
    #: Agents of creations the log says did not happen, removed from the registry.
    removed: tuple[Discrepancy, ...]
    #: Agents in the registry with no decision record.
    orphans: tuple[Discrepancy, ...]
    #: Decisions that say created, with no such agent in the registry.
    missing: tuple[Discrepancy, ...]
    agents: int
    pending_approvals: int
    counters_checked: int
    #: Tenants whose active cost set was out of line with the registry.
    cost_corrections: tuple[CostCorrection, ...] = ()
    #: Chain hash of the reconcile record, if one was written.
    recorded: str | None = None

    def result(self) -> dict[str, JsonValue]:
        return {
            "corrected": len(self.corrections),
            "slots_freed": sum(max(0, c.before - c.after) for c in self.corrections),
            "corrections": [asdict(c) for c in self.corrections[:MAX_LISTED]],
            "removed": [asdict(d) for d in self.removed[:MAX_LISTED]],
            "removed_count": len(self.removed),
            "orphans": [asdict(d) for d in self.orphans[:MAX_LISTED]],
            "orphan_count": len(self.orphans),
            "missing": [asdict(d) for d in self.missing[:MAX_LISTED]],
            "missing_count": len(self.missing),
            "agents": self.agents,
            "pending_approvals": self.pending_approvals,
            "counters_checked": self.counters_checked,
            "cost_corrections": [asdict(c) for c in self.cost_corrections[:MAX_LISTED]],
        }


@dataclass(frozen=True, slots=True)
class Reconciler:
    """Built from its parts by the runtime (``Gateway.reconciler``)."""

    store: RedisStore
    ledger: QuotaLedger
    registry: Registry
    approvals: ApprovalStore
    audit: AuditLog
    #: Tenants to look in besides those seen in the log and the counters.
    tenants: frozenset[str]
    instance: str
    metrics: Metrics | None = None
    costs: CostRebuilder | None = None

    def named(self, instance: str) -> Reconciler:
        """The same reconciler, recording under another instance label (e.g. "cli")."""
        return replace(self, instance=instance)

    async def run(self, interval: float) -> None:
        """Reconcile now, then every ``interval`` seconds (a background task)."""
        while True:
            try:
                report = await self.run_once()
            except SpawngateError as exc:
                # A dependency is down: counters stay as they are (high errs on
                # the side of refusing) and the next run tries again.
                logger.warning("reconcile failed (%s): %s", exc.code, exc.reason)
            else:
                if self.metrics is not None:
                    fixed = (
                        len(report.corrections) + len(report.removed) + len(report.cost_corrections)
                    )
                    self.metrics.reconciler_corrections.inc(fixed)
            await asyncio.sleep(interval)

    async def run_once(self) -> ReconcileReport:
        # Truth first, leases at apply time: see the module docstring.
        existing = await self.ledger.existing_held_keys()
        # The log is read page by page: keep only decision ids and "created" claims.
        decided: set[str] = set()
        claims: list[AuditRecord] = []
        said: dict[str, set[str]] = {}
        tenants = set(self.tenants)
        async for r in self.audit.records():
            tenants |= {r.tenant} if r.tenant else set()
            if r.type is RecordType.DECISION:
                decided.add(r.decision_id)
            elif r.type is RecordType.OUTCOME:
                said.setdefault(r.decision_id, set()).add(str(r.result.get("outcome")))
                if r.result.get("outcome") == "created":
                    claims.append(r)
        tenants |= {QuotaLedger.tenant_of(k) for k in existing} - {""}
        agents: list[AgentRecord] = []
        costs_before: dict[str, dict[str, str]] = {}
        for tenant in sorted(tenants):
            if self.costs is not None:  # before the listing: see gateway.costs.rebuild
                costs_before[tenant] = await self.costs.snapshot(tenant)
            agents += await self._list_agents(tenant)
        removed, unremovable = await remove_failed(self.registry, agents, said)
        gone = {(d.agent_id, d.decision_id) for d in removed}
        agents = [a for a in agents if (a.id, a.decision_id) not in gone]
        cost_corrections = await self._rebuild_costs(agents, costs_before)
        floors: Tally[str] = Tally()
        for agent in agents:
            floors.update(
                self.ledger.held_keys(
                    tenant=agent.tenant, principal=agent.created_by, root=agent.root
                )
            )
        pending = 0
        for tenant in sorted(tenants):
            for approval in await self.approvals.pending(tenant):
                pending += 1
                floors.update(k for k in approval.reserved_keys if self.ledger.is_held(k))
        # Total counters exist only where a total limit is configured; do not create others.
        candidates = existing | {k for k in floors if not k.endswith(":total")}
        corrections = (
            await self.ledger.rebuild({k: floors.get(k, 0) for k in candidates}, now=time.time())
            if self.registry.lists_every_agent
            else ()
        )
        orphans, missing = compare(agents, decided, claims)
        report = ReconcileReport(
            corrections=tuple(corrections),
            removed=removed,
            orphans=orphans + unremovable,
            missing=missing,
            agents=len(agents),
            pending_approvals=pending,
            counters_checked=len(candidates),
            cost_corrections=cost_corrections,
        )
        recorded = await self._record(report)
        if corrections or removed or cost_corrections or report.orphans or missing:
            logger.warning("reconcile: %s", {k: v for k, v in report.result().items() if "_" in k})
        return replace(report, recorded=recorded)

    async def _rebuild_costs(
        self, agents: list[AgentRecord], before: dict[str, dict[str, str]]
    ) -> tuple[CostCorrection, ...]:
        if self.costs is None:
            return ()
        listed: dict[str, dict[str, float]] = {tenant: {} for tenant in before}
        for agent in agents:
            listed.setdefault(agent.tenant, {})[agent.name] = agent.estimated_cost_per_day
        out: list[CostCorrection] = []
        for tenant, costs in sorted(listed.items()):
            corrected = await self.costs.rebuild(
                tenant, costs, before.get(tenant, {}), remove=self.registry.lists_every_agent
            )
            if corrected is not None:
                out.append(corrected)
        return tuple(out)

    async def _list_agents(self, tenant: str) -> list[AgentRecord]:
        agents = await self.registry.search(
            tenant, capability=None, name_contains=None, limit=MAX_AGENTS_PER_TENANT
        )
        if len(agents) >= MAX_AGENTS_PER_TENANT:
            raise UpstreamFailed(
                f"tenant '{tenant}' lists {len(agents)} agents, maybe cut short; not rebuilding",
                dependency="registry",
                stage="reconcile",
            )
        return agents

    async def _record(self, report: ReconcileReport) -> str | None:
        """Append the report, unless it only repeats the findings recorded last time."""
        findings = orjson.dumps(
            [[asdict(d) for d in report.orphans], [asdict(d) for d in report.missing]]
        )
        digest, key = hashlib.sha256(findings).hexdigest(), self.store.keys.reconcile_reported()
        async with redis_errors(stage="reconcile"):
            last = await self.store.client.get(key) or _NOTHING_FOUND
        changed = report.corrections or report.removed or report.cost_corrections
        if not changed and digest == last:
            return None
        record = AuditRecord(
            type=RecordType.RECONCILE,
            decision_id="rec_" + uuid.uuid4().hex,
            timestamp=datetime.now(UTC),
            path="spawngate/reconcile",
            tenant=None,
            principal=None,
            input={},
            result=report.result(),
            bundles={},
            labels={"app": "spawngate", "instance": self.instance},
        )
        recorded = await self.audit.append(record)
        async with redis_errors(stage="reconcile"):
            await self.store.client.set(key, digest)
        return recorded
