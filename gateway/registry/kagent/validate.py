"""Every manifest is checked before it leaves: the vendored Agent schema, the
Kubernetes rules the schema does not carry, and the tenant's template allowlist.

A manifest that fails is a refused creation with every reason listed
(``InvalidRequest``, code ``invalid_manifest``, stage ``create``): nothing is
sent to the cluster or written to the repository.

``jsonschema`` ignores the schema's CEL rules (``x-kubernetes-validations``);
the ones that concern what spawngate renders (type Declarative with its
``declarative`` part, an McpServer tool with its ``mcpServer``) are checked
here, and the API server checks them all on the dry-run in apply mode.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator

from gateway.errors import FieldProblem, InvalidRequest
from gateway.registry.kagent.manifest import API_VERSION, KIND

__all__ = ["SCHEMA_FILE", "TemplateCheck", "check", "problems", "schema"]

SCHEMA_FILE = "agent-v1alpha2.openapi.json"
#: (tenant, template) -> a reason the tenant may not use it, or None if it may.
TemplateCheck = Callable[[str, str], str | None]

#: RFC 1123 label: an Agent name becomes a Deployment and a Service name.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
#: The API server's limit on all annotations of one object together.
_ANNOTATIONS_BYTES = 256 * 1024


@cache
def schema() -> dict[str, Any]:
    """The vendored schema (gateway/registry/kagent/schema/README.md says whence)."""
    text = resources.files("gateway.registry.kagent").joinpath("schema", SCHEMA_FILE).read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def _path(parts: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".") or "$"


def _kubernetes(manifest: dict[str, Any]) -> list[FieldProblem]:
    """What the CRD schema leaves to the API server or to CEL."""
    found: list[FieldProblem] = []
    if manifest.get("apiVersion") != API_VERSION or manifest.get("kind") != KIND:
        found.append(FieldProblem("apiVersion", f"must be {API_VERSION} {KIND}"))
    metadata = manifest.get("metadata") or {}
    for key in ("name", "namespace"):
        if not _DNS_LABEL.match(str(metadata.get(key, ""))):
            found.append(FieldProblem(f"metadata.{key}", "must be an RFC 1123 label"))
    for key, value in (metadata.get("labels") or {}).items():
        if not isinstance(value, str) or not _LABEL_VALUE.match(value):
            found.append(FieldProblem(f"metadata.labels.{key}", "is not a valid label value"))
    size = sum(len(k) + len(str(v)) for k, v in (metadata.get("annotations") or {}).items())
    if size > _ANNOTATIONS_BYTES:
        found.append(FieldProblem("metadata.annotations", "exceed 256 KiB"))
    spec = manifest.get("spec") or {}
    if spec.get("type") != "Declarative" or "declarative" not in spec:
        found.append(FieldProblem("spec.type", "must be Declarative with spec.declarative"))
    tools = (spec.get("declarative") or {}).get("tools") or []
    for i, tool in enumerate(tools):
        if tool.get("type") == "McpServer" and "mcpServer" not in tool:
            found.append(FieldProblem(f"spec.declarative.tools[{i}]", "needs mcpServer"))
    return found


def problems(manifest: dict[str, Any]) -> list[FieldProblem]:
    """Every way the manifest breaks the schema or the Kubernetes rules; [] if none."""
    found = [
        FieldProblem(_path(e.absolute_path), e.message)
        for e in sorted(_validator().iter_errors(manifest), key=lambda e: list(e.absolute_path))
    ]
    return found + _kubernetes(manifest)


def check(manifest: dict[str, Any], *, tenant: str, template: str, allowed: TemplateCheck) -> None:
    """Raise ``InvalidRequest`` (stage create) naming every problem of the manifest."""
    found = problems(manifest)
    refused = allowed(tenant, template)
    if refused is not None:
        found.append(FieldProblem("metadata.annotations.spawngate.dev/template", refused))
    if found:
        name = (manifest.get("metadata") or {}).get("name", "?")
        raise InvalidRequest(
            f"the kagent Agent manifest of '{name}' is invalid: "
            + "; ".join(f"{p['field']}: {p['problem']}" for p in found[:5]),
            problems=found,
            code="invalid_manifest",
            stage="create",
        )
