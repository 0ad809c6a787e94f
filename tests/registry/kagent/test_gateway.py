"""The kagent registry chosen by the settings, through the HTTP app and the real pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.runtime import Gateway
from tests.conftest import MakeSettings, bearer, client_for, write_config
from tests.support.k8s_standin import K8sStandIn, kubeconfig

pytestmark = pytest.mark.asyncio

CONFIG = """tenants:
  acme:
    enabled: true
    danger_threshold: 0.9
    max_cost_per_day: 1000
  globex:
    enabled: true
  initech: {}
"""
#: The ADR's example: a media generator for architecture diagrams.
DIAGRAM = {
    "name": "diagram-agent",
    "template": "media-generator",
    "role": "draws architecture diagrams",
    "capabilities": ["diagram_generation"],
    "ttl_seconds": 3600,
}


async def test_gitops_mode_writes_the_agent_of_an_allowed_creation(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    out = tmp_path / "fleet"
    settings = make_settings(
        config_file=write_config(tmp_path, CONFIG),
        registry="kagent",
        kagent_mode="gitops",
        kagent_gitops_path=out,
    )
    gw = Gateway.build(settings)
    try:
        async with client_for(gw) as c:
            created = await c.post("/v1/create_agent", json=DIAGRAM, headers=bearer("analyst"))
            assert created.status_code == 201, created.json()
            found = await c.get(
                "/v1/agents/search",
                params={"capability": "diagram_generation"},
                headers=bearer("analyst"),
            )
            assert [a["name"] for a in found.json()["agents"]] == ["diagram-agent"]
    finally:
        await gw.stop()
    manifest = yaml.safe_load((out / "acme" / "diagram-agent.yaml").read_text())
    notes = manifest["metadata"]["annotations"]
    assert notes["spawngate.dev/tenant"] == "acme"
    assert notes["spawngate.dev/decision-id"] == created.json()["decision_id"]
    assert notes["spawngate.dev/created-by"] == "acme-analyst"
    assert "spawngate.dev/expires-at" in notes
    assert manifest["metadata"]["namespace"] == "acme"


async def test_apply_mode_creates_the_agent_in_the_cluster(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    api = K8sStandIn()
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig(await api.start()))
    settings = make_settings(
        config_file=write_config(tmp_path, CONFIG),
        registry="kagent",
        kagent_mode="apply",
        kagent_kubeconfig=path,
        kagent_namespace_template="spawngate-{tenant}",
    )
    gw = Gateway.build(settings)
    try:
        async with client_for(gw) as c:
            created = await c.post("/v1/create_agent", json=DIAGRAM, headers=bearer("analyst"))
            assert created.status_code == 201, created.json()
            twin = await c.post("/v1/create_agent", json=DIAGRAM, headers=bearer("analyst"))
            assert twin.status_code != 201
    finally:
        await gw.stop()
        await api.stop()
    stored = api.objects[("spawngate-acme", "diagram-agent")]
    assert stored["metadata"]["labels"]["spawngate.dev/tenant"] == "acme"
    assert stored["spec"]["declarative"]["tools"][0]["mcpServer"]["toolNames"] == [
        "filesystem", "mermaid", "plantuml",
    ]  # fmt: skip
