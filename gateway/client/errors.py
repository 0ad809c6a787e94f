"""The client's errors: one class per kind of refusal, each carrying the API's error body.

Every 4xx/5xx answer of the API has an ``error`` object (``code``, ``reason``,
``stage``, ``problems`` ...); admission refusals are whole decisions, whose
``reasons`` each carry a ``fix``. The exception keeps all of it: ``code``,
``reason``, ``reasons``, ``fixes``, the ``decision_id`` and the full ``answer``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "Conflict",
    "Denied",
    "GatewayUnavailable",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "Unauthenticated",
    "WaitTimeout",
    "error_for",
]


class APIError(Exception):
    """A refusal or failure answered by the gateway (or no answer at all: ``status`` None)."""

    def __init__(self, status: int | None, body: dict[str, Any] | None = None) -> None:
        self.status = status
        #: The whole answer as sent (a decision for admission refusals).
        self.answer: dict[str, Any] = body or {}
        error = self.answer.get("error")
        self.error: dict[str, Any] = error if isinstance(error, dict) else {}
        self.code: str = str(self.error.get("code", "unknown_error"))
        self.reason: str = str(self.error.get("reason", f"HTTP {status}"))
        self.stage: str | None = self.error.get("stage")
        self.problems: list[dict[str, Any]] = list(self.error.get("problems") or [])
        self.retry_after: int | None = self.error.get("retry_after")
        raw_reasons = self.answer.get("reasons")
        #: Every policy reason (``code``, ``message``, ``fix`` ...), for admission refusals.
        self.reasons: list[dict[str, Any]] = (
            [r for r in raw_reasons if isinstance(r, dict)] if isinstance(raw_reasons, list) else []
        )
        #: The fixes of those reasons, in order, without repeats.
        self.fixes: list[str] = list(
            dict.fromkeys(str(r["fix"]) for r in self.reasons if r.get("fix"))
        )
        self.decision_id: str | None = self.answer.get("decision_id")
        self.request_id: str | None = self.error.get("request_id")
        super().__init__(f"{self.code}: {self.reason}" if status else self.reason)


class Unauthenticated(APIError):
    """401: no API key, or one nobody holds."""


class Denied(APIError):
    """403: denied by policy, a role or Casbin; ``reasons`` and ``fixes`` say why and what to do."""


class NotFound(APIError):
    """404."""


class Conflict(APIError):
    """409: a duplicate agent, a request already decided, an idempotency key in flight."""


class PayloadTooLarge(APIError):
    """413."""


class InvalidRequest(APIError):
    """422: ``problems`` names every field."""


class RateLimited(APIError):
    """429: a quota or rate limit; ``retry_after`` seconds."""


class ServerError(APIError):
    """500: a bug in the gateway (the request was denied and logged)."""


class GatewayUnavailable(APIError):
    """502/503 (a dependency is down, so the gateway denied), or no answer at all."""


class WaitTimeout(APIError):
    """``wait_for`` gave up before the request reached a final state."""


_BY_STATUS: dict[int, type[APIError]] = {
    401: Unauthenticated,
    403: Denied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
    429: RateLimited,
    500: ServerError,
    502: GatewayUnavailable,
    503: GatewayUnavailable,
    504: GatewayUnavailable,
}


def error_for(status: int, body: object) -> APIError:
    """The exception for an error answer (any other status: the base class)."""
    kind = _BY_STATUS.get(status, APIError)
    return kind(status, body if isinstance(body, dict) else None)
