"""What ``spawngate receipt verify`` reads: a bare token, an agent record, or a manifest.

A file holds one of:

* a bare receipt token (``<payload>.<signature>``);
* a kagent ``Agent`` manifest (YAML or JSON; several YAML documents, or a ``List``
  with ``items`` as ``kubectl get -o yaml`` prints it): the receipt is the
  ``spawngate.dev/receipt`` annotation, the agent's name ``metadata.name``, and its
  tools those of ``spec.declarative.tools``;
* an agent as the registry or ``GET /v1/agents/{name}`` shows it (JSON with
  ``receipt``, ``id``, ``decision_id`` and ``tools``).

Tools of a manifest, compared with the receipt's grant: every ``toolNames`` entry of
an ``McpServer`` reference. A server referenced with no ``toolNames`` gives the agent
every tool of that server, which no receipt grants: it counts as ``<server>:*``. A
reference to another agent (``type: Agent``) counts as ``agent:<name>``: calling an
agent is a capability too, and a receipt lists none, so such a manifest is refused
unless the receipt grants that name (fail closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from gateway.receipts.token import RECEIPT_ANNOTATION, receipt_error

__all__ = ["Subject", "manifest_tools", "subjects_of"]

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


@dataclass(frozen=True, slots=True)
class Subject:
    """One receipt to check, with what it must match (None: nothing to compare)."""

    what: str
    token: str
    name: str | None = None
    agent_id: str | None = None
    decision_id: str | None = None
    tools: tuple[str, ...] | None = None


def manifest_tools(manifest: dict[str, Any]) -> tuple[str, ...]:
    spec = manifest.get("spec")
    declarative = spec.get("declarative") if isinstance(spec, dict) else None
    refs = declarative.get("tools") if isinstance(declarative, dict) else None
    found: set[str] = set()
    for ref in refs if isinstance(refs, list) else []:
        if not isinstance(ref, dict):
            continue
        server, agent = ref.get("mcpServer"), ref.get("agent")
        if isinstance(server, dict):
            names = server.get("toolNames")
            if names:
                found.update(str(n) for n in names)
            else:
                found.add(f"{server.get('name', '?')}:*")
        elif isinstance(agent, dict):
            found.add(f"agent:{agent.get('name', '?')}")
    return tuple(sorted(found))


def _of_manifest(doc: dict[str, Any]) -> Subject:
    metadata = doc.get("metadata") or {}
    name = str(metadata.get("name") or "?")
    annotations = metadata.get("annotations") or {}
    token = annotations.get(RECEIPT_ANNOTATION) if isinstance(annotations, dict) else None
    if not isinstance(token, str) or not token:
        raise receipt_error("missing", f"Agent {name} has no {RECEIPT_ANNOTATION} annotation")
    return Subject(f"Agent {name}", token, name=name, tools=manifest_tools(doc))


def _of_record(doc: dict[str, Any]) -> Subject:
    token = doc.get("receipt")
    agent_id = str(doc.get("id") or "?")
    if not isinstance(token, str) or not token:
        raise receipt_error("missing", f"agent {agent_id} carries no receipt")
    tools = doc.get("tools")
    return Subject(
        f"agent {agent_id}",
        token,
        agent_id=agent_id,
        decision_id=str(doc["decision_id"]) if doc.get("decision_id") else None,
        tools=tuple(str(t) for t in tools) if isinstance(tools, list) else None,
    )


def _subjects(doc: Any) -> list[Subject]:
    if not isinstance(doc, dict):
        raise receipt_error("malformed", "not a receipt, an Agent manifest or an agent record")
    if isinstance(doc.get("items"), list):
        return [s for item in doc["items"] for s in _subjects(item)]
    if doc.get("kind") == "Agent":
        return [_of_manifest(doc)]
    if "receipt" in doc:
        return [_of_record(doc)]
    raise receipt_error("malformed", f"a {doc.get('kind', 'document')} has no receipt to verify")


def subjects_of(text: str) -> list[Subject]:
    """Every receipt in the file, with what each must match; raises if there is none."""
    stripped = text.strip()
    if _TOKEN.match(stripped):
        return [Subject("receipt", stripped)]
    try:
        docs = [d for d in yaml.safe_load_all(stripped) if d is not None]
    except yaml.YAMLError as exc:
        raise receipt_error("malformed", f"neither a receipt nor YAML/JSON: {exc}") from exc
    found = [s for d in docs for s in _subjects(d)]
    if not found:
        raise receipt_error("malformed", "the file holds no receipt")
    return found
