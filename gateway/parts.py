"""What a gateway holds: the one list of its parts, each named once.

It exists so that the parts have one home that both sides read without
importing each other: ``gateway.assembly`` builds and wires them from one
Settings, and ``gateway.runtime.Gateway`` (a ``Parts`` with a lifecycle) runs
them. A new part is a field here and a line in ``assembly.assemble``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.admission.pipeline import Pipeline
from gateway.admission.reads import Reads
from gateway.approvals.queue import ApprovalStore
from gateway.approvals.service import ApprovalService
from gateway.approvals.webhooks import Notifier as Callbacks
from gateway.audit.log import AuditLog
from gateway.audit.shipping import Shipper
from gateway.config import GatewayConfig
from gateway.costs.service import Costs
from gateway.lifecycle.service import Lifecycle
from gateway.notifications.delivery import Delivery
from gateway.notifications.events import Notifier
from gateway.policy.snapshot import PolicyHolder
from gateway.quotas.reconcile import Reconciler
from gateway.receipts.issuer import ReceiptIssuer
from gateway.registry.base import Registry
from gateway.settings import Settings
from gateway.storage.redis import RedisStore
from gateway.telemetry import Metrics

__all__ = ["Parts"]


@dataclass
class Parts:
    """Every part of one gateway, wired together; ``Gateway`` adds the lifecycle."""

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
