"""Truth table for the real Casbin model and policy files, unknown subjects included."""

from __future__ import annotations

import pytest

from gateway.policy.casbin import Action, Authorizer, Obj
from gateway.settings import PROJECT_ROOT

TABLE = [
    # subject, tenant, object, action, allowed
    ("acme-orchestrator", "acme", Obj.AGENT, Action.CREATE, True),
    ("acme-orchestrator", "acme", Obj.SME, Action.CREATE, True),
    ("acme-orchestrator", "globex", Obj.AGENT, Action.CREATE, False),  # role is per tenant
    ("acme-orchestrator", "acme", Obj.APPROVAL, Action.DECIDE, False),
    ("globex-orchestrator", "globex", Obj.AGENT, Action.CREATE, False),  # tenant deny overrides
    ("globex-orchestrator", "globex", Obj.SME, Action.CREATE, True),
    ("role:spawned-agent", "acme", Obj.SME, Action.CREATE, True),
    ("role:spawned-agent", "acme", Obj.AGENT, Action.CREATE, True),
    ("alice", "acme", Obj.APPROVAL, Action.DECIDE, True),
    ("alice", "acme", Obj.APPROVAL, Action.READ, True),
    ("alice", "acme", Obj.AGENT, Action.CREATE, False),
    ("alice", "globex", Obj.APPROVAL, Action.DECIDE, False),
    ("bob", "acme", Obj.DECISION, Action.READ, True),
    ("bob", "acme", Obj.APPROVAL, Action.DECIDE, False),
    ("carol", "acme", Obj.DECISION, Action.READ, True),
    ("carol", "acme", Obj.AGENT, Action.CREATE, True),
    ("carol", "globex", Obj.DECISION, Action.READ, False),
    ("gina", "globex", Obj.APPROVAL, Action.DECIDE, True),
    ("root-auditor", "globex", Obj.DECISION, Action.READ, True),  # role granted in "*"
    ("root-auditor", "initech", Obj.APPROVAL, Action.DECIDE, False),
    ("acme-intern", "acme", Obj.AGENT, Action.CREATE, False),  # known principal, no role
    ("mallory", "acme", Obj.AGENT, Action.CREATE, False),  # unknown subject
    ("acme-orchestrator", "nowhere", Obj.AGENT, Action.CREATE, False),  # unknown tenant
    # A principal named like a role gets nothing from the name: roles are "role:*".
    ("orchestrator", "acme", Obj.AGENT, Action.CREATE, False),
    ("admin", "nowhere", Obj.DECISION, Action.READ, False),
]


@pytest.fixture(scope="module")
def authorizer() -> Authorizer:
    return Authorizer(PROJECT_ROOT / "policies")


@pytest.mark.parametrize(("subject", "tenant", "obj", "action", "allowed"), TABLE)
def test_truth_table(
    authorizer: Authorizer, subject: str, tenant: str, obj: Obj, action: Action, allowed: bool
) -> None:
    result = authorizer.check(subject, tenant, obj, action)
    assert result.allowed is allowed
    if allowed:
        assert result.matched.endswith("allow")


def test_a_deny_line_is_reported_as_the_deciding_rule(authorizer: Authorizer) -> None:
    result = authorizer.check("globex-orchestrator", "globex", Obj.AGENT, Action.CREATE)
    assert result.matched == "role:orchestrator, globex, agent, create, deny"


def test_roles_are_per_tenant(authorizer: Authorizer) -> None:
    assert authorizer.roles("acme-orchestrator", "acme") == ("role:orchestrator",)
    assert authorizer.roles("acme-orchestrator", "globex") == ()
