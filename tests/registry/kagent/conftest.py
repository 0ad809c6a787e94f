"""Shared pieces of the kagent registry tests: real settings, the real policy, agent records
made from the real templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.contract.request import AgentKind, parse_request
from gateway.policy.blueprints import TemplateCatalog, render_system_prompt
from gateway.policy.snapshot import PolicyHolder, load_snapshot
from gateway.registry.base import AgentRecord
from gateway.settings import PROJECT_ROOT, Settings

TEMPLATES = TemplateCatalog.load(PROJECT_ROOT / "templates")


def record_for(
    template: str,
    *,
    name: str = "diagram-agent",
    tenant: str = "acme",
    decision: str = "dec_0123456789abcdef0123456789abcdef",
    ttl: int | None = None,
    tools: tuple[str, ...] | None = None,
) -> AgentRecord:
    """The record the create stage would make from ``template`` with every capability module."""
    blueprint = TEMPLATES.get(template)
    assert blueprint is not None, template
    capabilities = tuple(sorted(blueprint.capability_modules))
    request = parse_request(
        AgentKind.AGENT,
        {"name": name, "template": template, "role": "draws architecture diagrams",
         "capabilities": list(capabilities)},
    )  # fmt: skip
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    return AgentRecord(
        id=f"{tenant}/{name}",
        tenant=tenant,
        name=name,
        kind=AgentKind.AGENT,
        template=template,
        role="draws architecture diagrams",
        instructions=None,
        system_prompt=render_system_prompt(blueprint, request),
        tools=blueprint.tools_for(capabilities) if tools is None else tools,
        capabilities=capabilities,
        provider=blueprint.provider or "openai",
        model=blueprint.model or "gpt-4o-mini",
        auto_reply=None,
        next_agent="user",
        estimated_cost_per_day=blueprint.estimated_cost_per_day,
        ttl_seconds=ttl,
        expires_at=now + timedelta(seconds=ttl) if ttl else None,
        active=True,
        created_by=f"{tenant}-orchestrator",
        parent=f"{tenant}-orchestrator",
        root=f"{tenant}-orchestrator",
        depth=1,
        created_at=now,
        decision_id=decision,
    )


@pytest.fixture(scope="session")
def policy() -> PolicyHolder:
    """The live policy of the checkout (policies/ and templates/), as the runtime loads it."""
    settings = Settings(data_dir=Path("/nonexistent-unused"), policy_reload_seconds=0)
    return PolicyHolder(settings, load_snapshot(settings))
