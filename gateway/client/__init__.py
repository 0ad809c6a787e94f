"""A typed Python client for spawngate's HTTP API (sync and async, on httpx).

::

    from gateway.client import Client

    with Client(base_url="http://127.0.0.1:8080", api_key="sg_demo_acme_orchestrator") as sg:
        answer = sg.create_agent(name="paper-finder", template="researcher")
        print(answer.outcome, answer.agent)

Answers are the API's own response models; refusals raise ``APIError`` subclasses
(``Denied``, ``InvalidRequest`` ...) carrying ``code``, ``reasons`` and ``fixes``.
Creation calls are retried with one ``Idempotency-Key`` per call, so a retry
never makes a second agent.
"""

from __future__ import annotations

from gateway.client.aio import AsyncClient
from gateway.client.errors import (
    APIError,
    Conflict,
    Denied,
    GatewayUnavailable,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Unauthenticated,
    WaitTimeout,
)
from gateway.client.operations import DecisionPage
from gateway.client.sync import Client

__all__ = [
    "APIError",
    "AsyncClient",
    "Client",
    "Conflict",
    "DecisionPage",
    "Denied",
    "GatewayUnavailable",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "Unauthenticated",
    "WaitTimeout",
]
