"""The kagent registry the settings ask for (called by gateway.assembly)."""

from __future__ import annotations

from gateway.policy.snapshot import PolicyHolder
from gateway.registry.kagent.allowlist import PolicyView
from gateway.registry.kagent.cluster import ClusterTarget
from gateway.registry.kagent.gitops import GitOpsTarget
from gateway.registry.kagent.kube import api_client
from gateway.registry.kagent.manifest import ManifestOptions
from gateway.registry.kagent.registry import KagentRegistry
from gateway.registry.kagent.target import Target
from gateway.settings import KagentMode, Settings

__all__ = ["kagent_registry", "options_of"]


def options_of(settings: Settings) -> ManifestOptions:
    return ManifestOptions(
        namespaces=dict(settings.kagent_namespaces),
        namespace_template=settings.kagent_namespace_template,
        model_config=settings.kagent_model_config,
        model_configs=dict(settings.kagent_model_configs),
        tool_servers=dict(settings.kagent_tool_servers),
        tool_server=settings.kagent_tool_server,
        tool_server_kind=settings.kagent_tool_server_kind,
    )


def kagent_registry(
    settings: Settings, policy: PolicyHolder, *, tenants: tuple[str, ...]
) -> KagentRegistry:
    target: Target
    if settings.kagent_mode is KagentMode.GITOPS:
        assert settings.kagent_gitops_path is not None  # checked by Settings
        target = GitOpsTarget(
            settings.kagent_gitops_path,
            branch=settings.kagent_gitops_branch,
            timeout=settings.registry_timeout_seconds,
        )
    else:
        api = api_client(settings.kagent_kubeconfig, settings.kagent_context)
        target = ClusterTarget(api, timeout=settings.registry_timeout_seconds)
    return KagentRegistry(target, options_of(settings), PolicyView(policy), tenants=tenants)
