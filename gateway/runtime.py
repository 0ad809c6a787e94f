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

This module is the lifecycle (build, start, stop) and the status (readiness,
policy status, metrics, drift); the parts and their wiring are
``gateway.assembly``, the periodic tasks ``gateway.background``.
"""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.assembly import assemble, build_reviewer, build_scorer
from gateway.background import start_background, stop_background
from gateway.danger.base import Scorer
from gateway.errors import DependencyError
from gateway.parts import Parts
from gateway.policy.blueprints import TemplateCatalog
from gateway.policy.engine import PolicyEngine
from gateway.registry.base import Registry
from gateway.registry.drift import KINDS, DriftReport, audit_drift
from gateway.settings import Settings
from gateway.storage.overrides import SettingsOverrides
from gateway.storage.redis import RedisStore

# build_reviewer and build_scorer live in gateway.assembly; named here too, as before.
__all__ = ["Gateway", "build_reviewer", "build_scorer"]


class _Phase(enum.Enum):
    BUILT = "built"
    STARTED = "started"
    STOPPED = "stopped"


@dataclass
class Gateway(Parts):
    """The parts of ``gateway.parts.Parts``, with their lifecycle and status."""

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
        """Every part the settings ask for (``gateway.assembly``), checked; nothing started."""
        return assemble(cls, settings, store=store, scorer=scorer, registry=registry)

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
        await start_background(self, self._tasks)

    async def stop(self) -> None:
        """Stop the background tasks, then close every connection; a second call does nothing."""
        if self._phase is _Phase.STOPPED:
            return
        self._phase = _Phase.STOPPED
        # First, so that the deliveries it holds go back to the outbox while Redis is open.
        await self.delivery.aclose()
        await stop_background(self._tasks)
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

    async def reload_overrides(self) -> None:
        """Apply the tenant settings overrides kept in Redis over the config file."""
        self.config.apply_overrides(await SettingsOverrides(self.store).load())

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
