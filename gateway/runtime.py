"""Build a whole gateway from one ``Settings``: nothing is created at import time.

``Gateway.build(settings)`` loads and checks every file (configuration,
policies, Casbin, templates) before it serves anything, so a broken file stops
start-up with a message naming it instead of failing requests later.
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass

import openai

from gateway.admission.idempotency import IdempotencyStore
from gateway.admission.pipeline import Pipeline
from gateway.admission.service import AdmissionService
from gateway.admission.stages.access import AuthorizeStage, FeatureStage
from gateway.admission.stages.approval import ApprovalStage
from gateway.admission.stages.create import CreateStage
from gateway.admission.stages.front import AuthenticateStage, ValidateStage
from gateway.admission.stages.policy import DangerStage, PolicyStage
from gateway.admission.stages.quota import QuotaStage
from gateway.admission.stages.template import TemplateStage
from gateway.approvals.queue import ApprovalStore
from gateway.approvals.service import ApprovalService
from gateway.approvals.webhooks import Notifier
from gateway.audit.log import AuditLog
from gateway.config import GatewayConfig, load_config
from gateway.danger.base import Scorer
from gateway.danger.llm import CombinedScorer, LlmReviewer
from gateway.danger.offline import OfflineAnalyzer
from gateway.identity.authenticator import Authenticator
from gateway.policy.blueprints import TemplateCatalog
from gateway.policy.engine import PolicyEngine
from gateway.policy.snapshot import PolicyHolder, load_snapshot
from gateway.quotas.ledger import QuotaLedger
from gateway.registry.base import Registry
from gateway.registry.builtin import BuiltinRegistry
from gateway.registry.http import HttpRegistry
from gateway.settings import RegistryKind, ScorerKind, Settings
from gateway.storage.redis import RedisStore

__all__ = ["Gateway", "build_reviewer", "build_scorer"]


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


@dataclass
class Gateway:
    settings: Settings
    config: GatewayConfig
    store: RedisStore
    policy: PolicyHolder
    registry: Registry
    audit: AuditLog
    approvals: ApprovalStore
    service: AdmissionService
    approvals_service: ApprovalService
    notifier: Notifier

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
            ]
        )
        service = AdmissionService(
            pipeline=pipeline,
            authenticator=authenticator,
            ledger=ledger,
            policy=policy,
            registry=registry,
            audit=audit,
            approvals=approvals,
            idempotency=IdempotencyStore(store, ttl_seconds=settings.idempotency_ttl_seconds),
            store=store,
            approval_ttl_seconds=settings.approval_ttl_seconds,
        )
        notifier = Notifier(
            settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        )
        approvals_service = ApprovalService(
            approvals=approvals,
            admission=service,
            audit=audit,
            policy=policy,
            notifier=notifier,
            lease_seconds=settings.approval_lease_seconds,
        )
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
            service=service,
        )

    @property
    def engine(self) -> PolicyEngine:
        """The engine of the revision deciding now."""
        return self.policy.current.engine

    @property
    def catalog(self) -> TemplateCatalog:
        return self.policy.current.catalog

    async def aclose(self) -> None:
        await self.audit.aclose()
        await self.notifier.aclose()
        await self.policy.aclose()
        await self.registry.aclose()
        await self.store.aclose()
