"""Prometheus metrics: what operators watch, one object per runtime.

Every metric lives on the runtime's own ``CollectorRegistry`` (no module-level
metric objects: two runtimes in one process, as the tests build, never collide).
Label sets are bounded: ``tenant`` is one of the configured tenants or
``"none"`` (an unauthenticated or unknown caller must not mint label values),
stages, outcomes and verdicts are enums, and a dependency is one of the names
the error tree uses.

With ``spawngate serve --workers N`` each worker is a process; the supervisor
sets ``PROMETHEUS_MULTIPROC_DIR`` before it starts them, prometheus-client then
keeps every value in a file per process, and a scrape of any worker adds them
all up (``MultiProcessCollector``). Gauges that are read at scrape time
(pending approvals, backlog) are set by whichever worker answers the scrape,
from Redis, so they are the same whoever answers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from gateway.telemetry.facts import DecisionFacts

__all__ = ["CONTENT_TYPE", "NO_TENANT", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
NO_TENANT = "none"

#: Decision and stage latency: sub-millisecond stages up to a slow LLM reviewer.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SCORE_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The gateway's metrics; ``tenants`` bounds the tenant label."""

    def __init__(self, tenants: Iterable[str]) -> None:
        self._tenants = frozenset(tenants)
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.decisions = Counter(
            "spawngate_decisions",
            "Creation requests decided, by outcome, verdict, kind and tenant.",
            ("outcome", "verdict", "kind", "tenant"),
            registry=r,
        )
        self.decision_seconds = Histogram(
            "spawngate_decision_duration_seconds",
            "Time from the request reaching the pipeline to its answer.",
            ("outcome",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.stage_seconds = Histogram(
            "spawngate_stage_duration_seconds",
            "Time spent in each admission stage.",
            ("stage",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.danger_score = Histogram(
            "spawngate_danger_score",
            "Danger scores of the proposals that were scored.",
            buckets=_SCORE_BUCKETS,
            registry=r,
        )
        self.quota_rejections = Counter(
            "spawngate_quota_rejections",
            "Requests refused by a quota, by tenant.",
            ("tenant",),
            registry=r,
        )
        self.dependency_failures = Counter(
            "spawngate_dependency_failures",
            "Decisions taken without a dependency (each one failed closed), by dependency.",
            ("dependency",),
            registry=r,
        )
        self.audit_write_seconds = Histogram(
            "spawngate_audit_write_duration_seconds",
            "Time to make one decision-log record durable.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.audit_write_failures = Counter(
            "spawngate_audit_write_failures",
            "Decision-log writes that failed (the request was refused or the record spooled).",
            registry=r,
        )
        self.hot_reloads = Counter(
            "spawngate_policy_reloads",
            "Policy hot reloads, by result (applied or rejected).",
            ("result",),
            registry=r,
        )
        self.reconciler_corrections = Counter(
            "spawngate_reconciler_corrections",
            "Quota counters, agents or tenant cost sets the reconciler corrected.",
            registry=r,
        )
        # Read at scrape time (see refresh in the /metrics route).
        mode = {"multiprocess_mode": "mostrecent"}
        self.drift_items = Gauge(
            "spawngate_registry_drift_items",
            "Drift items the last registry audit found (registry vs decision log), by kind.",
            ("kind",),
            registry=r,
            **mode,  # type: ignore[arg-type]
        )
        self.approvals_pending = Gauge(
            "spawngate_approvals_pending",
            "Requests waiting for a human, by tenant.",
            ("tenant",),
            registry=r,
            **mode,  # type: ignore[arg-type]
        )
        self.approvals_oldest_seconds = Gauge(
            "spawngate_approvals_oldest_age_seconds",
            "Age of the oldest pending approval.",
            registry=r,
            **mode,  # type: ignore[arg-type]
        )
        self.audit_backlog = Gauge(
            "spawngate_audit_backlog",
            "Decision-log records spooled locally and not yet in Redis (this process).",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.policy_revision = Gauge(
            "spawngate_policy_revision_info",
            "The policy revision this process decides with (value 1).",
            ("revision", "engine"),
            registry=r,
            multiprocess_mode="livemax",
        )

        self._revision: tuple[str, str] | None = None

    def tenant_label(self, tenant: str | None) -> str:
        return tenant if tenant is not None and tenant in self._tenants else NO_TENANT

    def decided(self, decision: DecisionFacts) -> None:
        """Count one answered creation request (a few µs: called on every decision)."""
        tenant = self.tenant_label(decision.tenant)
        self.decisions.labels(decision.outcome, decision.verdict, decision.kind, tenant).inc()
        self.decision_seconds.labels(decision.outcome).observe(decision.seconds)
        for stage, seconds in decision.stages:
            self.stage_seconds.labels(stage).observe(seconds)
        if decision.danger_score is not None:
            self.danger_score.observe(decision.danger_score)
        if decision.quota_refused:
            self.quota_rejections.labels(tenant).inc()
        if decision.dependency is not None:
            self.dependency_failures.labels(decision.dependency).inc()

    def set_revision(self, revision: str, engine: str) -> None:
        # Zero the previous revision rather than clearing it: in multiprocess
        # mode a cleared child stays in this process's file.
        if self._revision is not None and self._revision != (revision, engine):
            self.policy_revision.labels(*self._revision).set(0)
        self._revision = (revision, engine)
        self.policy_revision.labels(revision, engine).set(1)

    def render(self) -> bytes:
        """The exposition text: this registry, or every worker's files in multiprocess mode."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(combined)
