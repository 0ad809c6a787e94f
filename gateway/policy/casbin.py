"""Role checks with Casbin, against ``policies/casbin/model.conf`` and ``policy.csv``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import casbin
from casbin.util import key_match

__all__ = ["Action", "Authorizer", "AuthzResult", "Obj"]


class Obj(StrEnum):
    AGENT = "agent"
    SME = "sme"
    APPROVAL = "approval"
    DECISION = "decision"
    #: Usage reports of an agent (tokens, actual $): gateway.costs.
    USAGE = "usage"
    #: The swarm's cost figures (GET /v1/metrics/swarm).
    COST = "cost"
    #: Swarm-notification dead letters (GET /v1/notifications/dead-letters): admins only.
    NOTIFICATION = "notification"
    #: A tenant's settings as the web console shows and changes them: admins only.
    SETTINGS = "settings"
    #: Blueprints (templates/) as the web console shows them: admins only.
    TEMPLATE = "template"


class Action(StrEnum):
    CREATE = "create"
    DECIDE = "decide"
    READ = "read"
    REPORT = "report"


@dataclass(frozen=True, slots=True)
class AuthzResult:
    allowed: bool
    #: The policy line that decided, as written in policy.csv ("" when none matched).
    matched: str


class Authorizer:
    def __init__(self, policies_dir: Path) -> None:
        model = policies_dir / "casbin" / "model.conf"
        policy = policies_dir / "casbin" / "policy.csv"
        for f in (model, policy):
            if not f.is_file():
                raise ValueError(f"Casbin file missing: {f}")
        self._enforcer = casbin.Enforcer(str(model), str(policy))
        # A role granted in tenant "*" holds in every tenant (e.g. a global auditor);
        # any other tenant name matches only itself.
        self._enforcer.add_named_domain_matching_func("g", key_match)
        # An answer depends only on the files this instance loaded (a policy
        # change builds a new Authorizer), so it can be remembered: principals
        # x tenants x 4 objects x 3 actions is small.
        self._cached = lru_cache(maxsize=65_536)(self._enforce)

    def _enforce(self, subject: str, tenant: str, obj: Obj, action: Action) -> AuthzResult:
        allowed, explain = self._enforcer.enforce_ex(subject, tenant, obj.value, action.value)
        return AuthzResult(
            allowed=bool(allowed),
            matched=", ".join(str(x) for x in explain),
        )

    def check(self, subject: str, tenant: str, obj: Obj, action: Action) -> AuthzResult:
        return self._cached(subject, tenant, obj, action)

    def roles(self, subject: str, tenant: str) -> tuple[str, ...]:
        return tuple(sorted(self._enforcer.get_roles_for_user_in_domain(subject, tenant)))
