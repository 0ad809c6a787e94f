"""The one error hierarchy of spawngate.

Every error the domain raises carries a machine-readable ``code``, a human
``reason``, the pipeline ``stage`` it happened in (when there is one) and the
HTTP status a front should answer with. The HTTP layer has exactly one handler
that turns these into responses; the CLI prints them. Nothing else maps errors.

    SpawngateError
    ├── RequestError                 the caller can fix it (4xx)
    │   ├── InvalidRequest           422  a field is missing, mistyped or unknown
    │   │   └── PayloadTooLarge      413  the body is over the size limit
    │   ├── AuthenticationFailed     401  no key, or a key nobody holds
    │   ├── PermissionDenied         403  Casbin or a role check said no
    │   ├── NotFound                 404
    │   ├── Conflict                 409  duplicate agent, idempotency key in flight
    │   └── QuotaExceeded            429  a rate, total, swarm or lineage limit
    └── DependencyError              the gateway could not decide safely (5xx)
        ├── DependencyUnavailable    503  Redis, the policy engine or the scorer
        ├── UpstreamFailed           502  the registry answered badly or not at all
        └── InternalError            500  a bug; still audited and still a deny

A ``DependencyError`` anywhere in the admission pipeline is a deny: the gateway
fails closed (see ``gateway.admission.pipeline``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = [
    "AuthenticationFailed",
    "Conflict",
    "DependencyError",
    "DependencyUnavailable",
    "FieldProblem",
    "InternalError",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "QuotaExceeded",
    "RequestError",
    "SpawngateError",
    "UpstreamFailed",
]


class SpawngateError(Exception):
    """Base of every error spawngate raises on purpose."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "error"

    def __init__(
        self,
        reason: str,
        *,
        code: str | None = None,
        stage: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code or self.default_code
        self.stage = stage
        self.details: dict[str, Any] = dict(details or {})

    def with_stage(self, stage: str) -> SpawngateError:
        """Return self, recording the stage if none was set where it was raised."""
        if self.stage is None:
            self.stage = stage
        return self

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "reason": self.reason}
        if self.stage is not None:
            body["stage"] = self.stage
        body.update(self.details)
        return body

    def headers(self) -> dict[str, str]:
        return {}


class RequestError(SpawngateError):
    status = 400
    default_code = "bad_request"


class FieldProblem(dict[str, Any]):
    """One problem with one field: ``{"field": "tools[2]", "problem": "..."}``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field=field, problem=problem)


class InvalidRequest(RequestError):
    status = 422
    default_code = "invalid_request"

    def __init__(
        self,
        reason: str,
        *,
        problems: Sequence[FieldProblem] = (),
        code: str | None = None,
        stage: str | None = "validate",
    ) -> None:
        super().__init__(reason, code=code, stage=stage, details={"problems": list(problems)})
        self.problems = list(problems)


class PayloadTooLarge(InvalidRequest):
    status = 413
    default_code = "body_too_large"


class AuthenticationFailed(RequestError):
    status = 401
    default_code = "unauthenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="spawngate"'}


class PermissionDenied(RequestError):
    status = 403
    default_code = "forbidden"


class NotFound(RequestError):
    status = 404
    default_code = "not_found"


class Conflict(RequestError):
    status = 409
    default_code = "conflict"


class QuotaExceeded(RequestError):
    status = 429
    default_code = "quota_exceeded"

    def __init__(self, reason: str, *, limit: str, retry_after: int, stage: str = "quota") -> None:
        super().__init__(reason, stage=stage, details={"limit": limit, "retry_after": retry_after})
        self.limit = limit
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class DependencyError(SpawngateError):
    status = 503
    default_code = "dependency_error"

    def __init__(
        self,
        reason: str,
        *,
        dependency: str,
        code: str | None = None,
        stage: str | None = None,
    ) -> None:
        super().__init__(reason, code=code, stage=stage, details={"dependency": dependency})
        self.dependency = dependency


class DependencyUnavailable(DependencyError):
    status = 503
    default_code = "dependency_unavailable"


class UpstreamFailed(DependencyError):
    status = 502
    default_code = "upstream_failed"


class InternalError(DependencyError):
    status = 500
    default_code = "internal_error"

    def __init__(self, reason: str, *, stage: str | None = None) -> None:
        super().__init__(reason, dependency="gateway", stage=stage)
