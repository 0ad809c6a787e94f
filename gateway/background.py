"""The background work of a running gateway: which periodic tasks start, and how they end.

It exists so that the schedule (policy reload, log shipping, approval and
retirement sweeps, swarm delivery, settings overrides, drift audit, reconcile)
is read in one place, apart from the lifecycle that calls it:
``gateway.runtime.Gateway.start`` calls ``start_background`` and ``stop`` calls
``stop_background``. What it needs of the gateway is the ``Supervised``
protocol, so it does not import the runtime (which imports it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from gateway.approvals.service import ApprovalService
from gateway.audit.shipping import Shipper
from gateway.errors import DependencyError, SpawngateError
from gateway.lifecycle.service import Lifecycle
from gateway.notifications.delivery import Delivery
from gateway.policy.snapshot import PolicyHolder
from gateway.quotas.reconcile import Reconciler
from gateway.registry.drift import DriftReport
from gateway.settings import Settings

__all__ = ["Supervised", "start_background", "stop_background"]

# The runtime's logger, as before these tasks had a module of their own: log
# filters and alerts keyed on its name keep working.
logger = logging.getLogger("spawngate.runtime")

#: Rounds of 0.2 s in which background tasks must end at shutdown (10 s in all).
_STOP_ROUNDS = 50


class Supervised(Protocol):
    """What the background tasks use of a gateway (``gateway.runtime.Gateway``)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def policy(self) -> PolicyHolder: ...
    @property
    def shipper(self) -> Shipper | None: ...
    @property
    def approvals_service(self) -> ApprovalService: ...
    @property
    def delivery(self) -> Delivery: ...
    @property
    def lifecycle(self) -> Lifecycle: ...
    @property
    def reconciler(self) -> Reconciler: ...
    async def audit_drift(self) -> DriftReport: ...
    async def reload_overrides(self) -> None: ...


async def start_background(gw: Supervised, tasks: list[asyncio.Task[None]]) -> None:
    """Start the background tasks the settings ask for; each is added to ``tasks``."""

    def spawn(name: str, work: Coroutine[Any, Any, None]) -> None:
        tasks.append(asyncio.create_task(work, name=f"spawngate-{name}"))

    settings = gw.settings
    if settings.policy_reload_seconds > 0:
        spawn("policy-reload", gw.policy.watch(settings.policy_reload_seconds))
    if gw.shipper is not None:
        spawn("decision-log-shipping", gw.shipper.run(settings.decision_log_ship_seconds))
    # Always once at start (half-done approvals of a gateway that died),
    # then on a schedule unless the sweep is off.
    spawn("approval-sweep", gw.approvals_service.sweep(settings.approval_sweep_seconds))
    spawn("swarm-delivery", gw.delivery.run())
    # The web console's settings layer (gateway.storage.overrides): applied before
    # serving, then kept current on every replica at the policy-reload cadence.
    applied = await _apply_overrides(gw)
    if settings.policy_reload_seconds > 0:
        spawn("settings-overrides", _watch_overrides(gw, settings.policy_reload_seconds))
    elif not applied:
        spawn("settings-overrides", _retry_overrides(gw))
    if settings.retirement_sweep_seconds > 0:
        spawn("retirement-sweep", gw.lifecycle.run_sweeps(settings.retirement_sweep_seconds))
    if settings.expiry_sweep_seconds > 0:
        spawn("ttl-expiry", gw.lifecycle.run_expiry(settings.expiry_sweep_seconds))
    if settings.drift_audit_seconds > 0:
        spawn("drift-audit", _audit_drift_every(gw, settings.drift_audit_seconds))
    if settings.reconcile_seconds > 0:
        # Once now (counters leaked by a crash before this start), then on a schedule.
        spawn("reconcile", gw.reconciler.run(settings.reconcile_seconds))


async def stop_background(tasks: list[asyncio.Task[None]]) -> None:
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


async def _audit_drift_every(gw: Supervised, interval: float) -> None:
    while True:
        try:
            report = await gw.audit_drift()
        except SpawngateError as exc:
            logger.warning("registry audit failed (%s): %s", exc.code, exc.reason)
        else:
            if report.items:
                logger.warning("registry drift: %s", report.counts())
        await asyncio.sleep(interval)


async def _apply_overrides(gw: Supervised) -> bool:
    try:
        await gw.reload_overrides()
    except (DependencyError, ValueError):
        # The file's settings stay in force; the watcher tries again.
        logger.exception("tenant settings overrides not applied")
        return False
    return True


async def _watch_overrides(gw: Supervised, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        await _apply_overrides(gw)


async def _retry_overrides(gw: Supervised) -> None:
    """Without a watcher, try until the overrides are applied once: an override
    that disabled a tenant or lowered a limit must not stay unapplied because
    Redis was down when this replica started."""
    delay = 0.5
    while not await _apply_overrides(gw):
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)
