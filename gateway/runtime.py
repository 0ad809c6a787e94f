"""The runtime: one object that owns a gateway's connections and background tasks.

Every front (HTTP, CLI, tests) uses it the same way::

    gw = Gateway.build(settings)   # loads and checks every file, starts nothing
    await gw.start()               # the background tasks the settings ask for
    ...                            # serve: gw.admission.admit(...), gw.reads
    await gw.stop()                # tasks first, then connections

or ``async with Gateway.build(settings) as gw: ...``. ``build`` loads and checks
every file (configuration, policies, Casbin, templates) before anything is
served, so a broken file stops start-up with a message naming it instead of
failing requests later. Nothing is created at import time.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import socket
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import openai
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.admission.approved import ApprovedRequests
from gateway.admission.idempotency import IdempotencyStore
from gateway.admission.pipeline import Pipeline
from gateway.admission.reads import Reads
from gateway.admission.stages.approval import ApprovalStage
from gateway.admission.stages.authenticate import AuthenticateStage
from gateway.admission.stages.authorize import AuthorizeStage
from gateway.admission.stages.create import CreateStage
from gateway.admission.stages.danger import DangerStage
from gateway.admission.stages.feature import FeatureStage
from gateway.admission.stages.policy import PolicyStage
from gateway.admission.stages.quota import QuotaStage
from gateway.admission.stages.template import TemplateStage
from gateway.admission.stages.validate import ValidateStage
from gateway.admission.steps import AuditStep, IdempotencyStep, QueueStep, ReleaseStep
from gateway.approvals.queue import ApprovalStore
from gateway.approvals.service import ApprovalService
from gateway.approvals.webhooks import Notifier as Callbacks
from gateway.audit.log import AuditLog
from gateway.audit.shipping import Shipper
from gateway.config import GatewayConfig, load_config
from gateway.costs.ledger import CostLedger
from gateway.costs.rebuild import CostRebuilder
from gateway.costs.service import Costs
from gateway.danger.base import Scorer
from gateway.danger.llm import CombinedScorer, LlmReviewer
from gateway.danger.offline import OfflineAnalyzer
from gateway.errors import DependencyError, SpawngateError
from gateway.identity.authenticator import Authenticator
from gateway.lifecycle.retire import Retirement
from gateway.lifecycle.service import Lifecycle
from gateway.lifecycle.sweep import RetirementSweep
from gateway.notifications.delivery import Delivery
from gateway.notifications.events import Notifier
from gateway.policy.blueprints import TemplateCatalog
from gateway.policy.engine import PolicyEngine
from gateway.policy.snapshot import PolicyHolder, load_snapshot
from gateway.quotas.ledger import QuotaLedger
from gateway.quotas.reconcile import Reconciler
from gateway.receipts.issuer import ReceiptIssuer
from gateway.registry.base import Registry
from gateway.registry.builtin import BuiltinRegistry
from gateway.registry.drift import KINDS, DriftReport, audit_drift
from gateway.registry.http import HttpRegistry
from gateway.registry.kagent.build import kagent_registry
from gateway.settings import Environment, RegistryKind, ScorerKind, Settings
from gateway.storage.overrides import SettingsOverrides
from gateway.storage.redis import RedisStore
from gateway.telemetry import Metrics

__all__ = ["Gateway", "build_reviewer", "build_scorer"]

logger = logging.getLogger("spawngate.runtime")

#: Rounds of 0.2 s in which background tasks must end at shutdown (10 s in all).
_STOP_ROUNDS = 50


def build_scorer(settings: Settings, store: RedisStore | None) -> Scorer:
    """The danger scorer the settings ask for (also used by `spawngate danger eval`)."""
    if settings.scorer is ScorerKind.LLM:
        return CombinedScorer(OfflineAnalyzer(), build_reviewer(settings, store))
    return OfflineAnalyzer()


def build_reviewer(settings: Settings, store: RedisStore | None) -> LlmReviewer:
    client = openai.AsyncOpenAI(
        base_url=settings.llm_base_url,
        # A local OpenAI-compatible server may need no key; the client insists on one.
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else "unused",
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
    )
    return LlmReviewer(
        client,
        model=settings.llm_model,
        store=store,
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        cache_ttl=settings.llm_cache_ttl_seconds,
    )


def _registry(
    settings: Settings, store: RedisStore, policy: PolicyHolder, config: GatewayConfig
) -> Registry:
    if settings.registry is RegistryKind.KAGENT:
        # The live policy: the last look at the template allowlist, and its revision.
        tenants = tuple(sorted(set(config.tenants) | {p.tenant for p in config.principals}))
        return kagent_registry(settings, policy, tenants=tenants)
    if settings.registry is RegistryKind.HTTP:
        assert settings.registry_url is not None  # checked by Settings
        return HttpRegistry(settings.registry_url, timeout=settings.registry_timeout_seconds)
    return BuiltinRegistry(store)


class _Phase(enum.Enum):
    BUILT = "built"
    STARTED = "started"
    STOPPED = "stopped"


@dataclass
class Gateway:
    settings: Settings
    config: GatewayConfig
    store: RedisStore
    policy: PolicyHolder
    registry: Registry
    audit: AuditLog
    approvals: ApprovalStore
    #: The one decision path: every front calls ``admission.admit``.
    admission: Pipeline
    #: Decisions for auditors, agents for callers (authorised like admission).
    reads: Reads
    approvals_service: ApprovalService
    #: Swarm events (gateway.notifications): ``await gw.notifier.publish(event)``.
    notifier: Notifier
    #: Approval callbacks (callback_url of a queued request).
    callbacks: Callbacks
    #: Drains the swarm webhook outbox (started with the other background tasks).
    delivery: Delivery
    reconciler: Reconciler
    #: Retirement of idle agents and ttl expiry (gateway.lifecycle).
    lifecycle: Lifecycle
    #: Cost tracking: usage reports, swarm figures, ``costs.record_retired`` for retirement.
    costs: Costs
    #: Prometheus metrics (served at /metrics) for this runtime.
    metrics: Metrics
    #: Ships the decision log to ``decision_log_sink_url``; None when no sink is set.
    shipper: Shipper | None = None
    #: Signs admission receipts (gateway.receipts); its public key is published.
    receipts: ReceiptIssuer | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False, repr=False)
    _phase: _Phase = field(default=_Phase.BUILT, init=False, repr=False)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        store: RedisStore | None = None,
        scorer: Scorer | None = None,
        registry: Registry | None = None,
    ) -> Gateway:
        config = load_config(
            settings.config_file, production=settings.environment is Environment.PRODUCTION
        )
        metrics = Metrics(config.tenants)
        policy = PolicyHolder(settings, load_snapshot(settings), metrics=metrics)
        store = store or RedisStore.from_settings(settings)
        registry = registry or _registry(settings, store, policy, config)
        scorer = scorer or build_scorer(settings, store)
        authenticator = Authenticator(config, store)
        ledger = QuotaLedger(store, lease_seconds=settings.reconcile_lease_seconds)
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        notifier = Notifier(store, config, signing=secret is not None)
        audit = AuditLog.for_settings(
            store, settings, instance=f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        )
        approvals = ApprovalStore(store, retention_seconds=settings.approval_ttl_seconds * 2)
        cost_ledger = CostLedger(store)
        receipts = ReceiptIssuer.from_settings(settings)
        pipeline = Pipeline(
            [
                ValidateStage(),
                AuthenticateStage(authenticator),
                FeatureStage(config),
                AuthorizeStage(),
                QuotaStage(ledger),
                TemplateStage(),
                PolicyStage(registry, cost_ledger, hold_seconds=settings.reconcile_lease_seconds),
                DangerStage(scorer, timeout=settings.scorer_timeout_seconds),
                ApprovalStage(),
                CreateStage(
                    registry,
                    authenticator,
                    cost_ledger,
                    receipts=receipts,
                    public_url=settings.public_url,
                ),
            ],
            policy=policy,
            idempotency=IdempotencyStep(
                IdempotencyStore(store, ttl_seconds=settings.idempotency_ttl_seconds)
            ),
            audit=AuditStep(audit, notifier, metrics=metrics),
            queue=QueueStep(approvals),
            release=ReleaseStep(ledger, cost_ledger),
            metrics=metrics,
        )
        approved = ApprovedRequests(
            pipeline=pipeline,
            authenticator=authenticator,
            policy=policy,
            ledger=ledger,
            registry=registry,
        )
        callbacks = Callbacks(secret)
        retirement = Retirement(
            registry=registry,
            ledger=ledger,
            audit=audit,
            policy=policy,
            publisher=notifier,
            costs=cost_ledger,
        )
        lifecycle = Lifecycle(
            retirement=retirement,
            sweep=RetirementSweep(
                store=store,
                config=config,
                approvals=approvals,
                policy=policy,
                retirement=retirement,
            ),
            policy=policy,
        )
        approvals_service = ApprovalService(
            approvals=approvals,
            admission=approved,
            audit=audit,
            policy=policy,
            notifier=callbacks,
            swarm=notifier,
            lease_seconds=settings.approval_lease_seconds,
            retirer=retirement,
        )
        reconciler = Reconciler(
            store=store,
            ledger=QuotaLedger(store, lease_seconds=settings.reconcile_lease_seconds),
            registry=registry,
            approvals=approvals,
            audit=audit,
            tenants=frozenset(config.tenants) | {p.tenant for p in config.principals},
            instance=f"{socket.gethostname()}-reconciler",
            metrics=metrics,
            costs=CostRebuilder(store),
        )
        sink = settings.decision_log_sink_url
        return cls(
            settings=settings,
            metrics=metrics,
            approvals_service=approvals_service,
            notifier=notifier,
            callbacks=callbacks,
            delivery=Delivery(
                store,
                secret=secret,
                consumer=f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}",
                attempts=settings.notification_attempts,
                backoff_seconds=settings.notification_backoff_seconds,
            ),
            config=config,
            store=store,
            policy=policy,
            registry=registry,
            audit=audit,
            approvals=approvals,
            admission=pipeline,
            reads=Reads(
                authenticator=authenticator,
                policy=policy,
                audit=audit,
                registry=registry,
                store=store,
            ),
            reconciler=reconciler,
            lifecycle=lifecycle,
            costs=Costs(
                ledger=cost_ledger,
                policy=policy,
                registry=registry,
                audit=audit,
                config=config,
                instance=f"{socket.gethostname()}-costs",
            ),
            shipper=Shipper(store, sink) if sink else None,
            receipts=receipts,
        )

    @property
    def engine(self) -> PolicyEngine:
        """The engine of the revision deciding now."""
        return self.policy.current.engine

    @property
    def catalog(self) -> TemplateCatalog:
        return self.policy.current.catalog

    @property
    def running(self) -> bool:
        """Whether background tasks were started and are not stopped yet."""
        return self._phase is _Phase.STARTED

    async def start(self) -> None:
        """Start the background tasks the settings ask for; a second call does nothing."""
        if self._phase is _Phase.STOPPED:
            raise RuntimeError("a stopped Gateway cannot start again; build a new one")
        if self._phase is _Phase.STARTED:
            return
        self._phase = _Phase.STARTED
        settings = self.settings
        if settings.policy_reload_seconds > 0:
            self._spawn("policy-reload", self.policy.watch(settings.policy_reload_seconds))
        if self.shipper is not None:
            self._spawn(
                "decision-log-shipping", self.shipper.run(settings.decision_log_ship_seconds)
            )
        # Always once at start (half-done approvals of a gateway that died),
        # then on a schedule unless the sweep is off.
        self._spawn("approval-sweep", self.approvals_service.sweep(settings.approval_sweep_seconds))
        self._spawn("swarm-delivery", self.delivery.run())
        # The web console's settings layer (gateway.storage.overrides): applied before
        # serving, then kept current on every replica at the policy-reload cadence.
        applied = await self._apply_overrides()
        if settings.policy_reload_seconds > 0:
            self._spawn("settings-overrides", self._watch_overrides(settings.policy_reload_seconds))
        elif not applied:
            self._spawn("settings-overrides", self._retry_overrides())
        if settings.retirement_sweep_seconds > 0:
            self._spawn(
                "retirement-sweep", self.lifecycle.run_sweeps(settings.retirement_sweep_seconds)
            )
        if settings.expiry_sweep_seconds > 0:
            self._spawn("ttl-expiry", self.lifecycle.run_expiry(settings.expiry_sweep_seconds))
        if settings.drift_audit_seconds > 0:
            self._spawn("drift-audit", self._audit_drift_every(settings.drift_audit_seconds))
        if settings.reconcile_seconds > 0:
            # Once now (counters leaked by a crash before this start), then on a schedule.
            self._spawn("reconcile", self.reconciler.run(settings.reconcile_seconds))

    async def stop(self) -> None:
        """Stop the background tasks, then close every connection; a second call does nothing."""
        if self._phase is _Phase.STOPPED:
            return
        self._phase = _Phase.STOPPED
        # First, so that the deliveries it holds go back to the outbox while Redis is open.
        await self.delivery.aclose()
        await _stop(self._tasks)
        self._tasks.clear()
        if self.shipper is not None:
            await self.shipper.aclose()
        await self.audit.aclose()
        await self.notifier.aclose()
        await self.callbacks.aclose()
        await self.policy.aclose()
        await self.registry.aclose()
        await self.store.aclose()
        self.store.shutdown_embedded()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def scrape(self) -> bytes:
        """The /metrics text, with the gauges that are read from Redis brought up to date."""
        m = self.metrics
        tenants = sorted(set(self.config.tenants) | {p.tenant for p in self.config.principals})
        oldest: float | None = None
        now = time.time()
        for tenant in tenants:
            pending = await self.approvals.pending(tenant)
            m.approvals_pending.labels(m.tenant_label(tenant)).set(len(pending))
            for record in pending:
                age = now - record.created_at.timestamp()
                oldest = age if oldest is None else max(oldest, age)
        m.approvals_oldest_seconds.set(oldest or 0.0)
        m.audit_backlog.set(self.audit.spooled())
        return m.render()

    async def audit_drift(self, key: Ed25519PublicKey | None = None) -> DriftReport:
        """The registry against the decision log; the drift gauge shows what it found."""
        assert self.receipts is not None  # built by every Gateway
        tenants = set(self.config.tenants) | {p.tenant for p in self.config.principals}
        report = await audit_drift(
            self.registry,
            self.audit.records(),
            key=key or self.receipts.public_key,
            tenants=tenants,
        )
        counts = report.counts()
        for kind in KINDS:
            self.metrics.drift_items.labels(kind).set(counts.get(kind, 0))
        return report

    async def _audit_drift_every(self, interval: float) -> None:
        while True:
            try:
                report = await self.audit_drift()
            except SpawngateError as exc:
                logger.warning("registry audit failed (%s): %s", exc.code, exc.reason)
            else:
                if report.items:
                    logger.warning("registry drift: %s", report.counts())
            await asyncio.sleep(interval)

    async def reload_overrides(self) -> None:
        """Apply the tenant settings overrides kept in Redis over the config file."""
        self.config.apply_overrides(await SettingsOverrides(self.store).load())

    async def _apply_overrides(self) -> bool:
        try:
            await self.reload_overrides()
        except (DependencyError, ValueError):
            # The file's settings stay in force; the watcher tries again.
            logger.exception("tenant settings overrides not applied")
            return False
        return True

    async def _watch_overrides(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self._apply_overrides()

    async def _retry_overrides(self) -> None:
        """Without a watcher, try until the overrides are applied once: an override
        that disabled a tenant or lowered a limit must not stay unapplied because
        Redis was down when this replica started."""
        delay = 0.5
        while not await self._apply_overrides():
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def readiness(self) -> dict[str, bool]:
        """Whether each connection the gateway needs answers now."""
        checks: dict[str, bool] = {}
        try:
            checks["redis"] = await self.store.ping()
        except DependencyError:
            checks["redis"] = False
        checks["policy"] = await self.policy.current.engine.ready()
        return checks

    @property
    def policy_revision(self) -> str:
        return self.policy.current.revision

    def policy_status(self) -> dict[str, Any]:
        """For /healthz: the deciding revision and the outcome of the last reload."""
        holder = self.policy
        return {
            "policy_revision": holder.current.revision,
            "policy_loaded_at": holder.current.loaded_at.isoformat(),
            "policy_reloads": holder.reloads,
            "policy_reload_error": holder.last_error,
            "shadow_revision": holder.shadow.revision if holder.shadow else None,
            "shadow_error": holder.shadow_error,
        }

    def _spawn(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(work, name=f"spawngate-{name}"))


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the background tasks and wait until each has ended.

    A cancellation can be lost (a library that catches it, or a race inside a
    timeout), which would hang shutdown forever: whatever is still running is
    cancelled again, and after a bounded wait named in the log instead.
    """
    pending = set(tasks)
    for _ in range(_STOP_ROUNDS):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)
    for task in tasks:
        if task in pending:
            logger.error("background task %s did not stop: %s", task.get_name(), task.get_stack())
        elif not task.cancelled() and task.exception() is not None:
            logger.error("background task %s failed", task.get_name(), exc_info=task.exception())
