"""Operator configuration: tenant settings and the static principals, from one YAML file.

Tenant settings are the knobs of seed 000's Settings page (enable the feature,
approval workflow, rate limits, safety threshold) plus lineage limits and the
default provider/model of seed 002. Every field has a documented default; a
tenant's entry only lists what it changes. Governance *rules* (allowlists,
which templates may auto-approve ...) are not here: they are policy data under
``policies/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "ApprovalMode",
    "DedupMode",
    "GatewayConfig",
    "LineageLimits",
    "NotificationSettings",
    "PrincipalConfig",
    "PrincipalKind",
    "QuotaSettings",
    "RateLimits",
    "TemplateLineage",
    "TenantSettings",
    "TtlPolicy",
    "WebhookConfig",
    "load_config",
]

TenantId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApprovalMode(StrEnum):
    #: Seed 002: every creation waits for a human, whatever the score.
    ALWAYS = "always"
    #: Seed 000 (default): a human decides when a require-approval rule fires or
    #: the danger score is at or above the threshold; otherwise auto-approved.
    RISK_BASED = "risk_based"
    #: Seed 003: auto-approve only when every auto-approve condition holds
    #: (pre-approved template, allowlisted capabilities, swarm and daily limits).
    AUTO_APPROVE_RULES = "auto_approve_rules"


class DedupMode(StrEnum):
    """What happens to a proposal whose capabilities an active agent already covers
    (policies/spawngate/dedup, SG-DEDUP-001)."""

    #: Refused, naming the agent to ask instead.
    DENY = "deny"
    #: Default: a human decides, with the covering agent named in the reason.
    REVIEW = "review"
    #: Not checked.
    OFF = "off"


class RateLimits(_Strict):
    """Creations allowed per window; ``None`` means no limit for that window."""

    per_minute: int | None = Field(default=None, ge=0)
    per_hour: int | None = Field(default=None, ge=0)
    per_day: int | None = Field(default=None, ge=0)
    total: int | None = Field(default=None, ge=0)


class QuotaSettings(_Strict):
    per_agent: RateLimits = RateLimits(per_minute=10, per_hour=50, per_day=200)
    per_tenant: RateLimits = RateLimits(per_minute=60, per_hour=500, per_day=2000)
    #: Swarm size: agents created through the gateway that are active in the tenant.
    max_active_agents: int = Field(default=20, ge=0)


TemplateName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.:-]{0,63}$")]


class TemplateLineage(_Strict):
    #: Deepest level at which an agent made from this template may be created;
    #: replaces the tenant's ``max_depth`` for that template.
    max_depth: int = Field(ge=1)


class LineageLimits(_Strict):
    #: Depth of a new agent below its root orchestrator (the orchestrator's children are 1).
    #: It also decides who may spawn: a new agent may hold create_agent / create_sme
    #: (from a template that allows spawning) only above this depth, so that its own
    #: children still fit (policies/spawngate/tools).
    max_depth: int = Field(default=3, ge=1)
    #: Per-template overrides of ``max_depth``, e.g. ``{orchestrator: {max_depth: 1}}``.
    templates: dict[TemplateName, TemplateLineage] = Field(default_factory=dict)
    #: All agents ever created under one root orchestrator.
    max_descendants_per_root: int = Field(default=50, ge=0)
    #: Creations per minute anywhere in one root's family tree.
    root_spawns_per_minute: int = Field(default=10, ge=0)


#: Hosts a plain-http webhook may point at outside production.
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
SwarmEventName = Annotated[
    str, StringConstraints(pattern=r"^(created|approved|denied|retired|expired)$")
]


class WebhookConfig(_Strict):
    """One receiver of swarm events (signed, see README "Swarm notifications")."""

    #: https; plain http only to a loopback host, and never in production.
    url: str
    #: Events to send (created, approved, denied, retired, expired); empty = all.
    events: tuple[SwarmEventName, ...] = ()
    #: Carried in the body as ``channel`` (e.g. "#agents", or "@lead" for a DM).
    channel: str | None = None

    @field_validator("url")
    @classmethod
    def _checked_url(cls, value: str, info: ValidationInfo) -> str:
        production = bool((info.context or {}).get("production"))
        parts = urlsplit(value)
        if not parts.hostname or parts.scheme not in ("https", "http"):
            raise ValueError(f"webhook url {value!r} must be an absolute https URL")
        if parts.scheme == "http" and (production or parts.hostname not in _LOOPBACK):
            raise ValueError(
                f"webhook url {value!r} must use https (plain http is accepted only for "
                "loopback hosts outside production)"
            )
        return value


class NotificationSettings(_Strict):
    webhooks: tuple[WebhookConfig, ...] = ()
    #: Channel names by role, carried in every event body as ``channels``
    #: (e.g. ``{community: "#agents", human: "@lead"}``).
    channels: dict[str, str] = Field(default_factory=dict)


class TtlPolicy(_Strict):
    """Ephemeral (job-style) agents: a creation's ``ttl_seconds`` (gateway.lifecycle)."""

    #: Whether a creation may ask for a ttl at all.
    allowed: bool = True
    #: The longest ttl a creation may ask for; short ones (seconds) are fine.
    max_seconds: int = Field(default=30 * 24 * 3600, ge=1)


#: An agent name, or a shell-style pattern of names (``fnmatch``: ``ops-*``).
AgentPattern = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class TenantSettings(_Strict):
    #: Agent self-service is off until an administrator turns it on (seed 000).
    enabled: bool = False
    approval_mode: ApprovalMode = ApprovalMode.RISK_BASED
    #: Danger score at or above which a human must approve (seed 000: 30%).
    danger_threshold: float = Field(default=0.30, ge=0, le=1)
    #: Create new agents inactive, for a human to switch on.
    create_inactive: bool = False
    #: Seed 002's world chatLLMProvider / chatLLMModel; when unset, the fixed
    #: defaults in ``gateway.policy.blueprints`` apply.
    default_provider: str | None = None
    default_model: str | None = None
    #: Estimated $/day above which a human must approve (seed 003: 10).
    max_cost_per_day: float = Field(default=10.0, ge=0)
    quotas: QuotaSettings = QuotaSettings()
    lineage: LineageLimits = LineageLimits()
    #: How long a request waits for an approver before it expires (final: denied).
    approval_timeout_seconds: int = Field(default=24 * 3600, ge=1)
    #: Hosts a request's callback_url may point at; empty means no callbacks.
    callback_hosts: tuple[str, ...] = ()
    #: Capability deduplication (seed 003 safeguard): a proposal whose requested
    #: capabilities are all offered by one active agent of the tenant is denied,
    #: sent to a human, or let through.
    dedup: DedupMode = DedupMode.REVIEW
    #: Proposals must carry a non-blank ``justification`` (SG-DEDUP-002).
    require_justification: bool = False
    #: The retirement sweep proposes agents unused this long (gateway.lifecycle).
    retire_after_days: int = Field(default=30, ge=1)
    #: Agents the sweep never proposes for retirement: names or patterns (``core-*``).
    protected_agents: tuple[AgentPattern, ...] = ()
    #: Whether creations may ask for a ttl, and the longest one.
    ttl: TtlPolicy = TtlPolicy()
    #: Swarm notifications: webhooks and channel names (gateway.notifications).
    notifications: NotificationSettings = NotificationSettings()

    @field_validator("dedup", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare ``dedup: off`` as false; that is what the operator meant.
        return DedupMode.OFF if value is False else value


class PrincipalKind(StrEnum):
    AGENT = "agent"
    HUMAN = "human"


class PrincipalConfig(_Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,127}$")]
    tenant: TenantId
    kind: PrincipalKind = PrincipalKind.AGENT
    #: SHA-256 (hex) of the API key. Keys are random high-entropy tokens, so a
    #: fast hash is enough; the plain key is never stored.
    api_key_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    tools: tuple[str, ...] = ()


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class GatewayConfig(_Strict):
    defaults: dict[str, Any] = Field(default_factory=dict)
    tenants: dict[TenantId, dict[str, Any]] = Field(default_factory=dict)
    principals: tuple[PrincipalConfig, ...] = ()

    # Resolved once at load time, so that a bad tenant entry fails at start-up.
    resolved: dict[str, TenantSettings] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> Self:
        TenantSettings.model_validate(self.defaults, context=info.context)
        resolved: dict[str, TenantSettings] = {}
        for tenant, overrides in self.tenants.items():
            try:
                resolved[tenant] = TenantSettings.model_validate(
                    _deep_merge(self.defaults, overrides or {}), context=info.context
                )
            except ValidationError as exc:
                raise ValueError(f"tenant '{tenant}': {exc}") from exc
        ids: set[str] = set()
        hashes: set[str] = set()
        for p in self.principals:
            if p.tenant not in resolved:
                raise ValueError(f"principal '{p.id}' names unknown tenant '{p.tenant}'")
            if p.id in ids:
                raise ValueError(f"principal '{p.id}' is declared twice")
            if p.api_key_sha256 in hashes:
                raise ValueError(f"principal '{p.id}' reuses another principal's API key")
            ids.add(p.id)
            hashes.add(p.api_key_sha256)
        object.__setattr__(self, "resolved", resolved)
        return self

    def file_layer(self, tenant: str) -> dict[str, Any]:
        """The tenant's settings as the file gives them (defaults merged with its entry)."""
        return _deep_merge(self.defaults, self.tenants.get(tenant) or {})

    def apply_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> None:
        """Resolve every tenant again with ``overrides`` (tenant -> partial settings, the
        web console's layer) merged over the file; all checked before any is used.

        Raises ``ValueError`` naming the tenant when one does not validate; the
        settings in use then stay as they were.
        """
        resolved: dict[str, TenantSettings] = {}
        for tenant in self.tenants:
            try:
                resolved[tenant] = TenantSettings.model_validate(
                    _deep_merge(self.file_layer(tenant), overrides.get(tenant) or {})
                )
            except ValidationError as exc:
                raise ValueError(f"tenant '{tenant}': {exc}") from exc
        # One reference swap: a reader sees the old settings or the new, never a mix.
        object.__setattr__(self, "resolved", resolved)

    def tenant_settings(self, tenant: str) -> TenantSettings:
        """Settings of a tenant; an unknown tenant gets the defaults, which keep the feature off."""
        found = self.resolved.get(tenant)
        if found is not None:
            return found
        return TenantSettings.model_validate(self.defaults)


def load_config(path: Path, *, production: bool = False) -> GatewayConfig:
    """``production`` refuses plain-http webhook URLs (even loopback ones)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ValueError(f"cannot read configuration {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"configuration {path} is not valid YAML: {exc}") from exc
    try:
        return GatewayConfig.model_validate(raw, context={"production": production})
    except ValidationError as exc:
        raise ValueError(f"configuration {path} is invalid: {exc}") from exc
