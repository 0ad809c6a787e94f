"""What the kagent registry asks of the live policy: may a tenant use a template, and
which revision decides now.

Policy decided the creation already (policies/spawngate/templates); this is the
second look the issue asks for at the last moment, so that a manifest never
names a template its tenant may not use, even one rendered by a caller that
bypassed the pipeline. It reads the same data as the policy, the same way
``gateway.registry.discovery`` does.
"""

from __future__ import annotations

from gateway.policy.snapshot import PolicyHolder
from gateway.registry.discovery import tenant_listing

__all__ = ["PolicyView"]


class PolicyView:
    def __init__(self, holder: PolicyHolder) -> None:
        self._holder = holder

    def revision(self) -> str:
        return self._holder.current.revision

    def refusal(self, tenant: str, template: str) -> str | None:
        """Why ``tenant`` may not use ``template``; None if it may."""
        snapshot = self._holder.current
        blueprint = snapshot.catalog.get(template)
        if blueprint is None:
            return f"template '{template}' is not in the catalog"
        if blueprint.tenants and tenant not in blueprint.tenants:
            return f"template '{template}' is not offered to tenant '{tenant}'"
        allowed = tenant_listing(snapshot.data, "templates", tenant)
        if allowed is not None and template not in allowed:
            return f"template '{template}' is not on tenant '{tenant}''s allowlist"
        return None
