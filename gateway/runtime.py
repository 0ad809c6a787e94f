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
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import openai

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
from gateway.approvals.webhooks import Notifier
from gateway.audit.log import AuditLog
from gateway.audit.shipping import Shipper
from gateway.config import GatewayConfig, load_config
from gateway.danger.base import Scorer
from gateway.danger.llm import CombinedScorer, LlmReviewer
from gateway.danger.offline import OfflineAnalyzer
from gateway.errors import DependencyError
from gateway.identity.authenticator import Authenticator
from gateway.policy.blueprints import TemplateCatalog
from gateway.policy.engine import PolicyEngine
from gateway.policy.snapshot import PolicyHolder, load_snapshot
from gateway.quotas.ledger import QuotaLedger
from gateway.quotas.reconcile import Reconciler
from gateway.registry.base import Registry
from gateway.registry.builtin import BuiltinRegistry
from gateway.registry.http import HttpRegistry
from gateway.settings import RegistryKind, ScorerKind, Settings
from gateway.storage.redis import RedisStore

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


def _registry(settings: Settings, store: RedisStore) -> Registry:
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
    notifier: Notifier
    reconciler: Reconciler
    #: Ships the decision log to ``decision_log_sink_url``; None when no sink is set.
    shipper: Shipper | None = None
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
        config = load_config(settings.config_file)
        policy = PolicyHolder(settings, load_snapshot(settings))
        store = store or RedisStore.from_settings(settings)
        registry = registry or _registry(settings, store)
        scorer = scorer or build_scorer(settings, store)
        authenticator = Authenticator(config, store)
        ledger = QuotaLedger(store, lease_seconds=settings.reconcile_lease_seconds)
        audit = AuditLog.for_settings(
            store, settings, instance=f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
        )
        approvals = ApprovalStore(store, retention_seconds=settings.approval_ttl_seconds * 2)
        pipeline = Pipeline(
            [
                ValidateStage(),
                AuthenticateStage(authenticator),
                FeatureStage(config),
                AuthorizeStage(),
                QuotaStage(ledger),
                TemplateStage(),
                PolicyStage(registry),
                DangerStage(scorer, timeout=settings.scorer_timeout_seconds),
                ApprovalStage(),
                CreateStage(registry, authenticator),
            ],
            policy=policy,
            idempotency=IdempotencyStep(
                IdempotencyStore(store, ttl_seconds=settings.idempotency_ttl_seconds)
            ),
            audit=AuditStep(audit),
            queue=QueueStep(approvals),
            release=ReleaseStep(ledger),
        )
        approved = ApprovedRequests(
            pipeline=pipeline,
            authenticator=authenticator,
            policy=policy,
            ledger=ledger,
            registry=registry,
        )
        notifier = Notifier(
            settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        )
        approvals_service = ApprovalService(
            approvals=approvals,
            admission=approved,
            audit=audit,
            policy=policy,
            notifier=notifier,
            lease_seconds=settings.approval_lease_seconds,
        )
        reconciler = Reconciler(
            store=store,
            ledger=QuotaLedger(store, lease_seconds=settings.reconcile_lease_seconds),
            registry=registry,
            approvals=approvals,
            audit=audit,
            tenants=frozenset(config.tenants) | {p.tenant for p in config.principals},
            instance=f"{socket.gethostname()}-reconciler",
        )
        sink = settings.decision_log_sink_url
        return cls(
            settings=settings,
            approvals_service=approvals_service,
            notifier=notifier,
            config=config,
            store=store,
            policy=policy,
            registry=registry,
            audit=audit,
            approvals=approvals,
            admission=pipeline,
            reads=Reads(authenticator=authenticator, policy=policy, audit=audit, registry=registry),
            reconciler=reconciler,
            shipper=Shipper(store, sink) if sink else None,
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
        if settings.reconcile_seconds > 0:
            # Once now (counters leaked by a crash before this start), then on a schedule.
            self._spawn("reconcile", self.reconciler.run(settings.reconcile_seconds))

    async def stop(self) -> None:
        """Stop the background tasks, then close every connection; a second call does nothing."""
        if self._phase is _Phase.STOPPED:
            return
        self._phase = _Phase.STOPPED
        await _stop(self._tasks)
        self._tasks.clear()
        if self.shipper is not None:
            await self.shipper.aclose()
        await self.audit.aclose()
        await self.notifier.aclose()
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
