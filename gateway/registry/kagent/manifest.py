"""An allowed creation as a kagent ``Agent`` (v1alpha2) manifest, and back.

The manifest is what a cluster (apply mode) or a GitOps repository receives:
``metadata.name`` is the agent's name, the namespace comes from the tenant
mapping, ``spec.declarative.systemMessage`` is the agent's system prompt, and
the granted tools are MCP tool references (one ``McpServer`` entry per server,
listing the tool names it serves). Labels carry what a selector needs (managed
by spawngate, the tenant, the decision); annotations carry the provenance:
tenant, creator, lineage, template, decision id, policy revision, the expiry of
a ttl agent and the admission receipt.

The ``spawngate.dev/record`` annotation keeps the rest of the agent record, so
that ``get`` and ``search`` give back the agent as it was registered; its system
prompt and tools are read from the spec, so that an edit made to the resource
behind the gateway's back shows in what the registry reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from gateway.registry.base import AgentRecord

__all__ = [
    "ANNOTATIONS",
    "API_VERSION",
    "GROUP",
    "KIND",
    "LABEL_DECISION",
    "LABEL_MANAGED",
    "LABEL_TENANT",
    "MANAGER",
    "PLURAL",
    "VERSION",
    "ManifestOptions",
    "decision_of",
    "record_of",
    "render",
]

GROUP = "kagent.dev"
VERSION = "v1alpha2"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "Agent"
PLURAL = "agents"
#: The field manager and the managed-by label value.
MANAGER = "spawngate"

LABEL_MANAGED = "app.kubernetes.io/managed-by"
LABEL_TENANT = "spawngate.dev/tenant"
LABEL_DECISION = "spawngate.dev/decision-id"

_P = "spawngate.dev/"
#: Annotation names, by what they carry.
ANNOTATIONS = {
    "tenant": _P + "tenant",
    "creator": _P + "created-by",
    "parent": _P + "parent",
    "root": _P + "root",
    "depth": _P + "depth",
    "template": _P + "template",
    "decision": _P + "decision-id",
    "revision": _P + "policy-revision",
    "expires": _P + "expires-at",
    "receipt": _P + "receipt",
    "activity": _P + "last-activated-at",
    "record": _P + "record",
}
#: Fields of the record the spec or their own annotations carry instead of the record one.
_IN_SPEC = {"system_prompt", "tools", "last_activated_at", "receipt"}


@dataclass(frozen=True, slots=True)
class ManifestOptions:
    """What the settings say about rendering (gateway.settings, ``kagent_*``)."""

    namespaces: dict[str, str] = field(default_factory=dict)
    namespace_template: str = "{tenant}"
    model_config: str = "default-model-config"
    model_configs: dict[str, str] = field(default_factory=dict)
    tool_servers: dict[str, str] = field(default_factory=dict)
    tool_server: str = "spawngate-tools"
    tool_server_kind: str = "RemoteMCPServer"

    def namespace(self, tenant: str) -> str:
        return self.namespaces.get(tenant) or self.namespace_template.format(tenant=tenant)


def _tools(record: AgentRecord, options: ManifestOptions) -> list[dict[str, Any]]:
    """One McpServer reference per server, in server order, its tools sorted."""
    by_server: dict[str, list[str]] = {}
    for tool in sorted(set(record.tools)):
        by_server.setdefault(options.tool_servers.get(tool, options.tool_server), []).append(tool)
    return [
        {
            "type": "McpServer",
            "mcpServer": {
                "apiGroup": GROUP,
                "kind": options.tool_server_kind,
                "name": server,
                "toolNames": tools,
            },
        }
        for server, tools in sorted(by_server.items())
    ]


def render(
    record: AgentRecord,
    options: ManifestOptions,
    *,
    policy_revision: str | None,
    receipt: str | None,
) -> dict[str, Any]:
    """The Agent manifest of an allowed creation (validate it before it leaves)."""
    annotations = {
        ANNOTATIONS["tenant"]: record.tenant,
        ANNOTATIONS["creator"]: record.created_by,
        ANNOTATIONS["parent"]: record.parent,
        ANNOTATIONS["root"]: record.root,
        ANNOTATIONS["depth"]: str(record.depth),
        ANNOTATIONS["template"]: record.template,
        ANNOTATIONS["decision"]: record.decision_id,
        ANNOTATIONS["record"]: record.model_dump_json(exclude=_IN_SPEC),
    }
    if policy_revision:
        annotations[ANNOTATIONS["revision"]] = policy_revision
    if record.expires_at is not None:
        annotations[ANNOTATIONS["expires"]] = record.expires_at.astimezone(UTC).isoformat()
    if receipt:
        annotations[ANNOTATIONS["receipt"]] = receipt
    declarative: dict[str, Any] = {
        "systemMessage": record.system_prompt,
        "modelConfig": options.model_configs.get(record.provider, options.model_config),
    }
    if record.tools:
        declarative["tools"] = _tools(record, options)
    if record.capabilities:
        # kagent serves each agent over A2A; its skills are the agent's capabilities.
        declarative["a2aConfig"] = {
            "skills": [{"id": c, "name": c, "tags": [c]} for c in record.capabilities]
        }
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": record.name,
            "namespace": options.namespace(record.tenant),
            "labels": {
                LABEL_MANAGED: MANAGER,
                LABEL_TENANT: record.tenant,
                LABEL_DECISION: record.decision_id,
            },
            "annotations": annotations,
        },
        "spec": {
            "type": "Declarative",
            "description": record.role or f"{record.template} agent made by spawngate",
            "declarative": declarative,
        },
    }


def decision_of(manifest: dict[str, Any]) -> str:
    """The decision id a resource says created it ("" if none)."""
    annotations = manifest.get("metadata", {}).get("annotations") or {}
    return str(annotations.get(ANNOTATIONS["decision"], ""))


def _spec_tools(manifest: dict[str, Any]) -> tuple[str, ...]:
    """Every tool the resource grants, as the cluster has it (MCP tool names)."""
    declarative = manifest.get("spec", {}).get("declarative") or {}
    names: set[str] = set()
    for entry in declarative.get("tools") or []:
        server = entry.get("mcpServer") or {}
        names.update(str(t) for t in server.get("toolNames") or [])
    return tuple(sorted(names))


def record_of(manifest: dict[str, Any]) -> AgentRecord | None:
    """The agent record of a resource spawngate rendered; None if it is not one."""
    metadata = manifest.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    try:
        stored = json.loads(annotations[ANNOTATIONS["record"]])
        seen = annotations.get(ANNOTATIONS["activity"])
        declarative = manifest.get("spec", {}).get("declarative") or {}
        stored.update(
            system_prompt=str(declarative.get("systemMessage", "")),
            tools=_spec_tools(manifest),
            last_activated_at=datetime.fromisoformat(seen) if seen else None,
            receipt=annotations.get(ANNOTATIONS["receipt"]),
        )
        record = AgentRecord.model_validate(stored)
    except (KeyError, TypeError, ValueError, ValidationError):
        return None
    # The record annotation must describe this very resource, not one copied from another.
    if record.name != metadata.get("name") or record.decision_id != decision_of(manifest):
        return None
    return record
