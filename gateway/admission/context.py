"""The typed state of one admission, filled in by the stages in order.

Each field is owned by exactly one stage (named beside it) and read by later
ones; nothing is a free-form dict. A stage whose inputs are missing (because
an earlier stage did not run) raises ``InternalError``: that is a bug, and it
denies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gateway.config import TenantSettings
from gateway.contract.request import AgentKind, CreateRequest
from gateway.danger.base import DangerReport
from gateway.errors import InternalError
from gateway.identity.authenticator import Principal
from gateway.policy.blueprints import Blueprint, EffectiveAgent
from gateway.policy.engine import PolicyReason, PolicyVerdict
from gateway.policy.input import DangerFacts, PolicyInput
from gateway.policy.snapshot import PolicySnapshot
from gateway.quotas.ledger import Reservation

__all__ = ["AdmissionContext"]


@dataclass(slots=True)
class AdmissionContext:
    kind: AgentKind
    raw_body: object
    authorization: str | None
    decision_id: str
    #: When the run began (perf_counter), for the recorded duration.
    began: float = field(default_factory=time.perf_counter)
    #: The policy revision that decides this request, taken once when it starts.
    policy: PolicySnapshot | None = None
    #: A shadow revision decided beside the live one, never enforced (shadow mode).
    shadow_policy: PolicySnapshot | None = None
    shadow_admission: PolicyVerdict | None = None  # policy
    shadow_danger: PolicyVerdict | None = None  # danger
    shadow_error: str | None = None
    #: The revision the policy engine reported deciding (OPA's bundle revision).
    engine_revision: str | None = None
    request: CreateRequest | None = None  # validate
    principal: Principal | None = None  # authenticate
    settings: TenantSettings | None = None  # feature
    authz_rule: str = ""  # authorize
    reservation: Reservation | None = None  # quota
    blueprint: Blueprint | None = None  # template
    effective: EffectiveAgent | None = None  # template
    policy_document: PolicyInput | None = None  # policy
    #: The tenant whose cost total holds this admission's cost (policy); the hold
    #: ends when the agent is counted (create) or the request is released.
    cost_held: str | None = None
    obligations: tuple[str, ...] = ()  # policy
    review_reasons: list[PolicyReason] = field(default_factory=list)  # policy, danger
    danger: DangerReport | None = None  # danger
    danger_facts: DangerFacts | None = None  # danger: what policy saw of the score
    shadow: dict[str, Any] | None = None  # policy, danger: a differing shadow verdict
    approval_id: str | None = None  # approval
    created: dict[str, Any] | None = None  # create
    #: A key issued to the new agent (create); returned once, never recorded.
    issued_key: str | None = field(default=None, repr=False)
    #: An approved request: the creator collects the key later, the approver never sees it.
    defer_credential: bool = False

    def need_policy(self) -> PolicySnapshot:
        if self.policy is None:
            raise InternalError("the request was not given a policy revision")
        return self.policy

    def need_request(self) -> CreateRequest:
        if self.request is None:
            raise InternalError("stage ran before the request was validated")
        return self.request

    def need_principal(self) -> Principal:
        if self.principal is None:
            raise InternalError("stage ran before the caller was authenticated")
        return self.principal

    def need_settings(self) -> TenantSettings:
        if self.settings is None:
            raise InternalError("stage ran before the tenant settings were loaded")
        return self.settings

    def need_effective(self) -> EffectiveAgent:
        if self.effective is None:
            raise InternalError("stage ran before the template was resolved")
        return self.effective
