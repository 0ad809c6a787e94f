"""Where Agent manifests go: a cluster (apply mode) or a directory / git repository
(GitOps mode). The kagent registry renders and checks; a target only stores.

Every target keeps the same contract, the Registry protocol's in small:
``create`` stores a manifest only if the name is free, treats the same decision
seen again as done, raises ``Conflict`` (code ``duplicate_agent``) when another
decision holds the name, and otherwise fails closed with a ``DependencyError``
leaving no agent behind (or saying, with code ``creation_indeterminate``, that
it may have and the reconciler will remove it).
"""

from __future__ import annotations

from typing import Any, Protocol

from gateway.errors import Conflict

__all__ = ["Manifest", "Target", "taken"]

Manifest = dict[str, Any]


def taken(namespace: str, name: str) -> Conflict:
    return Conflict(
        f"an Agent named '{name}' already exists in namespace '{namespace}'",
        code="duplicate_agent",
        stage="create",
    )


class Target(Protocol):
    #: "apply" or "gitops", as the settings name the mode.
    mode: str
    #: Whether ``listing`` returns every agent of a tenant (quota floors may trust it).
    complete: bool

    async def create(self, manifest: Manifest) -> None: ...

    async def read(self, namespace: str, name: str) -> Manifest | None: ...

    async def listing(self, namespace: str, tenant: str) -> list[Manifest]:
        """Every Agent spawngate manages for ``tenant`` in ``namespace``."""
        ...

    async def remove(self, namespace: str, name: str, decision_id: str) -> bool:
        """Delete the Agent only if ``decision_id`` created it; True if one was deleted."""
        ...

    async def annotate(
        self, namespace: str, name: str, annotations: dict[str, str]
    ) -> Manifest | None:
        """Set annotations (activity); the resource as it is now, or None if there is none."""
        ...

    async def aclose(self) -> None: ...
