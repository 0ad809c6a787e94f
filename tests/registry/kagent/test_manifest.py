"""Manifest generation and its checks: every template, the demo configuration, refusals."""

from __future__ import annotations

import pytest

from gateway.config import load_config
from gateway.errors import InvalidRequest
from gateway.policy.snapshot import PolicyHolder
from gateway.registry.kagent.allowlist import PolicyView
from gateway.registry.kagent.gitops import GitOpsTarget
from gateway.registry.kagent.manifest import ManifestOptions, record_of, render
from gateway.registry.kagent.registry import KagentRegistry
from gateway.registry.kagent.validate import problems
from gateway.settings import PROJECT_ROOT
from tests.registry.kagent.conftest import TEMPLATES, record_for


def registry(policy: PolicyHolder, options: ManifestOptions | None = None) -> KagentRegistry:
    # Rendering and checking only: the target is never reached in these tests.
    target = GitOpsTarget(PROJECT_ROOT / "nonexistent", branch=None, timeout=1)
    return KagentRegistry(target, options or ManifestOptions(), PolicyView(policy))


@pytest.mark.parametrize("template", TEMPLATES.names())
def test_every_template_renders_a_valid_agent(policy: PolicyHolder, template: str) -> None:
    record = record_for(template)
    manifest = registry(policy).manifest(record)
    assert problems(manifest) == []
    assert manifest["apiVersion"] == "kagent.dev/v1alpha2" and manifest["kind"] == "Agent"
    meta = manifest["metadata"]
    assert (meta["name"], meta["namespace"]) == (record.name, "acme")
    notes = meta["annotations"]
    assert notes["spawngate.dev/tenant"] == "acme"
    assert notes["spawngate.dev/decision-id"] == record.decision_id
    assert notes["spawngate.dev/template"] == template
    assert notes["spawngate.dev/policy-revision"] == policy.current.revision
    assert (notes["spawngate.dev/parent"], notes["spawngate.dev/depth"]) == (
        "acme-orchestrator",
        "1",
    )
    declarative = manifest["spec"]["declarative"]
    assert declarative["systemMessage"] == record.system_prompt
    granted = sorted(t for e in declarative.get("tools", []) for t in e["mcpServer"]["toolNames"])
    assert granted == sorted(record.tools)
    assert all(e["type"] == "McpServer" for e in declarative.get("tools", []))
    # What the registry reads back is the agent as registered.
    assert record_of(manifest) == record


def test_demo_config_tenants_render_valid_agents(policy: PolicyHolder) -> None:
    config = load_config(PROJECT_ROOT / "config" / "demo.yaml", production=False)
    for tenant in config.tenants:
        record = record_for("default", tenant=tenant, name="helper-agent")
        manifest = registry(policy).manifest(record)
        assert manifest["metadata"]["namespace"] == tenant
        assert problems(manifest) == []


def test_settings_choose_namespace_model_config_and_tool_servers(policy: PolicyHolder) -> None:
    options = ManifestOptions(
        namespaces={"acme": "acme-agents"},
        namespace_template="spawngate-{tenant}",
        model_configs={"anthropic": "claude-config"},
        tool_servers={"dalle": "image-tools"},
        tool_server="media-tools",
    )
    manifest = registry(policy, options).manifest(record_for("media-generator"))
    assert manifest["metadata"]["namespace"] == "acme-agents"
    declarative = manifest["spec"]["declarative"]
    assert declarative["modelConfig"] == "claude-config"
    servers = {e["mcpServer"]["name"]: e["mcpServer"]["toolNames"] for e in declarative["tools"]}
    assert servers == {
        "image-tools": ["dalle"],
        "media-tools": ["filesystem", "mermaid", "plantuml", "runway"],
    }
    other = registry(policy, options).manifest(record_for("default", tenant="initech"))
    assert other["metadata"]["namespace"] == "spawngate-initech"


def test_receipt_and_expiry_travel_in_annotations() -> None:
    record = record_for("default", ttl=3600)
    manifest = render(record, ManifestOptions(), policy_revision="rev1", receipt="sgr1.abc.def")
    notes = manifest["metadata"]["annotations"]
    assert notes["spawngate.dev/receipt"] == "sgr1.abc.def"
    assert notes["spawngate.dev/expires-at"] == "2026-03-01T13:00:00+00:00"
    assert (
        "spawngate.dev/receipt"
        not in render(record, ManifestOptions(), policy_revision=None, receipt=None)["metadata"][
            "annotations"
        ]
    )


def test_template_outside_the_tenant_allowlist_is_refused(policy: PolicyHolder) -> None:
    # policies/spawngate/templates/data.yaml: globex may not use media-generator.
    with pytest.raises(InvalidRequest) as caught:
        registry(policy).manifest(record_for("media-generator", tenant="globex"))
    assert (caught.value.code, caught.value.stage) == ("invalid_manifest", "create")
    assert [p["field"] for p in caught.value.problems] == [
        "metadata.annotations.spawngate.dev/template"
    ]
    assert "allowlist" in caught.value.problems[0]["problem"]


def test_schema_and_kubernetes_problems_are_all_reasons(policy: PolicyHolder) -> None:
    # 51 tools on one MCP server break the schema's maxItems; a namespace that is no
    # RFC 1123 label breaks Kubernetes' rules.
    many = tuple(f"tool{i:02d}" for i in range(51))
    options = ManifestOptions(namespace_template="Team_{tenant}")
    with pytest.raises(InvalidRequest) as caught:
        registry(policy, options).manifest(record_for("default", tools=many))
    fields = {p["field"] for p in caught.value.problems}
    assert fields == {"spec.declarative.tools[0].mcpServer.toolNames", "metadata.namespace"}
    assert caught.value.to_body()["code"] == "invalid_manifest"
    assert "is too long" in caught.value.reason


def test_the_record_receipt_is_annotated_and_read_back(policy: PolicyHolder) -> None:
    record = record_for("default").model_copy(update={"receipt": "sgr1.payload.signature"})
    manifest = registry(policy).manifest(record)
    assert manifest["metadata"]["annotations"]["spawngate.dev/receipt"] == record.receipt
    assert "sgr1" not in manifest["metadata"]["annotations"]["spawngate.dev/record"]
    assert record_of(manifest) == record
