"""The API's operations as data, shared by ``Client`` and ``AsyncClient`` (no I/O here).

Each operation is a ``Call``: method, path, query, body, and whether it may be
sent again. ``read`` turns an answer into the API's own response model (from
``gateway.fronts.http``: one source of truth) or the typed exception.

Retries: an admission call carries an ``Idempotency-Key`` chosen once per
logical call, so sending it again returns the first outcome (the gateway stores
it) and never makes a second agent; reads are safe to repeat. Approve and deny
are sent again only when they never left (a connection refused).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter
from tenacity import (
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from gateway.client.errors import APIError, GatewayUnavailable, error_for

__all__ = ["Call", "Retry", "creation", "read", "retry_settings"]

T = TypeVar("T")

#: Statuses a repeatable call is sent again after: the gateway denied for want of a
#: dependency and stored nothing (gateway.admission.idempotency).
_RETRY_STATUSES = frozenset({502, 503, 504})
#: Conflicts that say "this same key is still being decided: try again".
_RETRY_CODES = frozenset({"idempotency_in_progress", "idempotency_retry"})


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    json: object = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Safe to send again (a read, or an admission call with its idempotency key).
    repeatable: bool = True

    def query(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if v is not None}


class Retry(Exception):
    """An answer worth sending the same call again for (raised inside the retry loop)."""

    def __init__(self, error: APIError) -> None:
        super().__init__(str(error))
        self.error = error


def creation(path: str, body: Mapping[str, Any], idempotency_key: str | None) -> Call:
    key = idempotency_key or f"sgc-{uuid.uuid4().hex}"
    return Call("POST", path, json=dict(body), headers={"Idempotency-Key": key})


def check(call: Call, response: httpx.Response) -> httpx.Response:
    """The response if it is an answer; ``Retry`` if the call should be sent again."""
    if response.status_code < 400:
        return response
    error = error_for(response.status_code, _json(response))
    if call.repeatable and (
        response.status_code in _RETRY_STATUSES
        or (response.status_code == 409 and error.code in _RETRY_CODES)
    ):
        raise Retry(error)
    raise error


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return {"error": {"code": "not_json", "reason": response.text[:200]}}


def read(response: httpx.Response, model: type[T] | Any) -> T:
    """The answer as ``model`` (a pydantic model or a type such as ``list[Model]``)."""
    data = _json(response)
    if isinstance(model, type) and issubclass(model, BaseModel):
        parsed: T = model.model_validate(data)  # type: ignore[assignment]
        return parsed
    adapted: T = TypeAdapter(model).validate_python(data)
    return adapted


def _retryable(call: Call) -> Any:
    def decide(exc: BaseException) -> bool:
        if isinstance(exc, Retry):
            return True
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return True  # never reached the gateway
        return call.repeatable and isinstance(exc, httpx.TransportError)

    return retry_if_exception(decide)


def give_up(state: RetryCallState) -> Any:
    """After the last attempt: the typed error, never tenacity's wrapper."""
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    if isinstance(exc, Retry):
        raise exc.error
    if isinstance(exc, httpx.TransportError):
        raise GatewayUnavailable(
            None,
            {"error": {"code": "unreachable", "reason": f"no answer from the gateway: {exc!r}"}},
        ) from exc
    if exc is not None:
        raise exc
    return outcome.result() if outcome is not None else None


def retry_settings(call: Call, attempts: int) -> dict[str, Any]:
    """Keyword arguments for tenacity's ``Retrying`` / ``AsyncRetrying``."""
    return {
        "retry": _retryable(call),
        "stop": stop_after_attempt(attempts),
        "wait": wait_exponential(multiplier=0.2, max=2.0),
        "retry_error_callback": give_up,
    }
