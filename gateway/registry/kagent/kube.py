"""The Kubernetes client as the kagent registry uses it: how it connects, and what its
failures mean to a caller (gateway.errors)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from gateway.errors import FieldProblem, UpstreamFailed

__all__ = ["Lost", "api_client", "causes", "failed"]

logger = logging.getLogger("spawngate.registry")
DEPENDENCY = "registry"


class Lost(Exception):
    """Sent, but no answer: the server may have acted on it."""


def api_client(kubeconfig: Path | None, context: str | None) -> client.ApiClient:
    """A client for the kubeconfig given, or for the pod's service account."""
    configuration = client.Configuration()
    if kubeconfig is not None:
        # The client's config loaders carry no annotations (its API classes do).
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), context=context, client_configuration=configuration
        )
    else:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    # One attempt per call: a retried create could not tell its own agent from another's.
    configuration.retries = False
    return client.ApiClient(configuration)


def failed(
    detail: str, reason: str, *, code: str | None = None, stage: str | None = "create"
) -> UpstreamFailed:
    """``detail`` (server bodies) to the log; ``reason`` to the caller and the record."""
    logger.warning("kagent registry: %s", detail)
    return UpstreamFailed(reason, dependency=DEPENDENCY, code=code, stage=stage)


def causes(exc: ApiException) -> list[FieldProblem]:
    try:
        details = json.loads(exc.body or "{}").get("details") or {}
        listed = details.get("causes") or []
        return [
            FieldProblem(str(c.get("field", "")), str(c.get("message", ""))[:200]) for c in listed
        ]
    except (ValueError, AttributeError):
        return []
