"""The wiring: which parts one Settings asks for, and which part gets which.

It exists so that the choice of store, registry, scorer and engines, the stage
order and the services' dependencies read in one place, apart from running
them (``gateway.runtime``). It loads and checks every file first and starts
nothing: a broken file stops start-up with a message naming it.
"""

from __future__ import annotations

import socket
import uuid
from typing import TypeVar

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
from gateway.identity.authenticator import Authenticator
from gateway.lifecycle.retire import Retirement
from gateway.lifecycle.service import Lifecycle
from gateway.lifecycle.sweep import RetirementSweep
from gateway.notifications.delivery import Delivery
from gateway.notifications.events import Notifier
from gateway.parts import Parts
from gateway.policy.snapshot import PolicyHolder, load_snapshot
from gateway.quotas.ledger import QuotaLedger
from gateway.quotas.reconcile import Reconciler
from gateway.receipts.issuer import ReceiptIssuer
from gateway.registry.base import Registry
from gateway.registry.builtin import BuiltinRegistry
from gateway.registry.http import HttpRegistry
from gateway.registry.kagent.build import kagent_registry
from gateway.settings import Environment, RegistryKind, ScorerKind, Settings
from gateway.storage.redis import RedisStore
from gateway.telemetry import Metrics

__all__ = ["assemble", "build_reviewer", "build_scorer"]

#: The class to build: ``Gateway`` (its own ``build`` passes itself), or ``Parts``.
P = TypeVar("P", bound=Parts)


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


def assemble(
    cls: type[P],
    settings: Settings,
    *,
    store: RedisStore | None = None,
    scorer: Scorer | None = None,
    registry: Registry | None = None,
) -> P:
    """Load and check every file, then build and wire every part; start nothing.

    ``store``, ``scorer`` and ``registry`` replace the ones the settings ask for.
    """
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
