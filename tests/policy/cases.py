"""Policy decision cases: one input per rule (and the clean baseline), with the expected verdict.

Used twice: against the embedded interpreter (the expected rule ids), and
against the OPA adapter (the same verdict, field for field).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from gateway.policy.engine import Entrypoint

BASE: dict[str, Any] = {
    "kind": "agent",
    "request": {"name": "helper"},
    "creator": {
        "id": "orc",
        "tenant": "acme",
        "kind": "agent",
        "tools": ["web_search", "web_fetch", "create_agent"],
        "parent": None,
        "root": "orc",
        "depth": 0,
    },
    "tenant": {
        "id": "acme",
        "approval_mode": "risk_based",
        "danger_threshold": 0.3,
        "max_cost_per_day": 10,
        "create_inactive": False,
        "lineage": {"max_depth": 3, "max_descendants_per_root": 50, "root_spawns_per_minute": 10},
    },
    "template": {
        "name": "researcher",
        "exists": True,
        "tenants": [],
        "pre_approved": True,
        "allow_spawning": False,
        "capability_modules": ["literature_review", "market_research"],
    },
    "catalog": ["default", "devops", "researcher"],
    "effective": {
        "tools": ["web_search"],
        "capabilities": ["literature_review"],
        "provider": "anthropic",
        "model": "m",
        "estimated_cost_per_day": 3,
        "depth": 1,
    },
    "usage": {"tenant_active": 1, "tenant_day": 1},
    "swarm": {"covering_agents": [], "active_cost_per_day": 0},
    "danger": {"score": 0.05, "categories": []},
}


@dataclass(frozen=True)
class Case:
    name: str
    changes: dict[str, Any]
    deny: frozenset[str] = frozenset()
    review: frozenset[str] = frozenset()
    entrypoint: Entrypoint = Entrypoint.ADMISSION
    remove: tuple[tuple[str, str], ...] = field(default=())

    def document(self) -> dict[str, Any]:
        doc = copy.deepcopy(BASE)
        for key, value in self.changes.items():
            if isinstance(value, dict) and isinstance(doc.get(key), dict):
                doc[key].update(value)
            else:
                doc[key] = value
        for key, sub in self.remove:
            doc[key].pop(sub, None)
        return doc


def _f(*rules: str) -> frozenset[str]:
    return frozenset(rules)


CASES: list[Case] = [
    Case("clean", {}),
    Case("clean-danger", {}, entrypoint=Entrypoint.DANGER),
    Case(
        "missing-creator-tools",
        {},
        deny=_f("SG-INPUT-001", "SG-TOOLS-001"),
        remove=(("creator", "tools"),),
    ),
    Case(
        "empty-input-fields", {"kind": None, "catalog": None}, deny=_f("SG-INPUT-001", "SG-TPL-002")
    ),
    Case("cross-tenant-field", {"request": {"tenant": "globex"}}, deny=_f("SG-TENANT-001")),
    Case(
        "cross-tenant-next-agent",
        {"request": {"next_agent": "globex/boss"}},
        deny=_f("SG-TENANT-002"),
    ),
    Case("foreign-template", {"template": {"tenants": ["globex"]}}, deny=_f("SG-TENANT-003")),
    Case("settings-mismatch", {"tenant": {"id": "globex"}}, deny=_f("SG-TENANT-004")),
    Case(
        "tool-not-held",
        {"effective": {"tools": ["shell"]}},
        deny=_f("SG-TOOLS-001"),
        review=_f("SG-APPROVAL-003"),
    ),
    Case("spawning-tool", {"effective": {"tools": ["create_agent"]}}, deny=_f("SG-TOOLS-002")),
    Case(
        "spawning-template",
        {"effective": {"tools": ["create_agent"]}, "template": {"allow_spawning": True}},
    ),
    Case(
        "capability-not-allowed",
        {"effective": {"capabilities": ["crypto"]}, "template": {"capability_modules": ["crypto"]}},
        deny=_f("SG-CAP-001"),
    ),
    Case(
        "capability-not-offered",
        {"effective": {"capabilities": ["testing"]}},
        deny=_f("SG-CAP-002"),
    ),
    Case(
        "capability-no-modules",
        {"effective": {"capabilities": ["testing"]}, "template": {"capability_modules": []}},
        deny=_f("SG-CAP-003"),
    ),
    Case("provider", {"effective": {"provider": "shady"}}, deny=_f("SG-CAP-004")),
    Case(
        "unknown-template",
        {"template": {"name": "nope", "exists": False, "capability_modules": []}},
        deny=_f("SG-TPL-001"),
    ),
    Case(
        "template-not-allowed",
        {
            "creator": {"tenant": "globex"},
            "tenant": {"id": "globex"},
            "template": {"name": "devops", "capability_modules": []},
            "effective": {"capabilities": []},
        },
        deny=_f("SG-TPL-002"),
        review=_f("SG-APPROVAL-002"),
    ),
    Case(
        "cost-ceiling",
        {"effective": {"estimated_cost_per_day": 101}},
        deny=_f("SG-COST-001"),
        review=_f("SG-APPROVAL-004"),
    ),
    Case("too-deep", {"effective": {"depth": 4}}, deny=_f("SG-LINEAGE-001")),
    Case("mode-always", {"tenant": {"approval_mode": "always"}}, review=_f("SG-APPROVAL-001")),
    Case(
        "devops",
        {
            "template": {"name": "devops", "capability_modules": ["kubernetes"]},
            "effective": {"capabilities": ["kubernetes"]},
        },
        review=_f("SG-APPROVAL-002", "SG-APPROVAL-003"),
    ),
    Case(
        "cost-review", {"effective": {"estimated_cost_per_day": 11}}, review=_f("SG-APPROVAL-004")
    ),
    # The tenant's estimated daily total after this creation (8 + 3) above its limit (10).
    Case("cost-total-review", {"swarm": {"active_cost_per_day": 8}}, review=_f("SG-APPROVAL-004")),
    Case(
        "cost-no-total-fact",
        {},
        deny=_f("SG-INPUT-001"),
        review=_f("SG-APPROVAL-004"),
        remove=(("swarm", "active_cost_per_day"),),
    ),
    Case(
        "auto-approve-unmet",
        {
            "tenant": {"approval_mode": "auto_approve_rules"},
            "usage": {"tenant_active": 30, "tenant_day": 9},
            "template": {"pre_approved": False},
        },
        review=_f("SG-APPROVAL-005"),
    ),
    Case("unknown-mode", {"tenant": {"approval_mode": "yolo"}}, review=_f("SG-APPROVAL-006")),
    Case("create-inactive", {"tenant": {"create_inactive": True}}),
    Case(
        "dedup-review",
        {"swarm": {"covering_agents": ["paper-finder"]}},
        review=_f("SG-DEDUP-001"),
    ),
    Case(
        "dedup-deny",
        {"tenant": {"dedup": "deny"}, "swarm": {"covering_agents": ["paper-finder", "archivist"]}},
        deny=_f("SG-DEDUP-001"),
    ),
    Case(
        "dedup-off",
        {"tenant": {"dedup": "off"}, "swarm": {"covering_agents": ["paper-finder"]}},
    ),
    Case(
        "dedup-no-capabilities",
        {
            "tenant": {"dedup": "deny"},
            "swarm": {"covering_agents": ["paper-finder"]},
            "effective": {"capabilities": []},
        },
    ),
    # The gateway always sends the swarm fact; without it the guard denies (fail closed),
    # rather than the dedup rule seeing no duplicate.
    Case(
        "dedup-no-swarm-fact",
        {"tenant": {"dedup": "deny"}},
        deny=_f("SG-INPUT-001"),
        remove=(("swarm", "covering_agents"),),
    ),
    Case(
        "justification-required",
        {"tenant": {"require_justification": True}},
        deny=_f("SG-DEDUP-002"),
    ),
    Case(
        "justification-given",
        {
            "tenant": {"require_justification": True},
            "request": {"justification": "recurring diagram requests"},
        },
    ),
    Case(
        "danger-review",
        {"danger": {"score": 0.31, "categories": ["deception"]}},
        review=_f("SG-DANGER-001"),
        entrypoint=Entrypoint.DANGER,
    ),
    Case(
        "danger-deny",
        {"danger": {"score": 0.93, "categories": ["data_exfiltration"]}},
        deny=_f("SG-DANGER-002"),
        entrypoint=Entrypoint.DANGER,
    ),
    Case(
        "danger-missing",
        {},
        deny=_f("SG-DANGER-002", "SG-DANGER-003"),
        entrypoint=Entrypoint.DANGER,
        remove=(("danger", "score"),),
    ),
    Case(
        "reviewer-unavailable",
        {"danger": {"score": 0.0, "categories": [], "reviewer_unavailable": True}},
        review=_f("SG-DANGER-004"),
        entrypoint=Entrypoint.DANGER,
    ),
]
