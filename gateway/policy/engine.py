"""The policy engine interface and the verdict it returns.

Two engines implement it over the same ``policies/`` files: the embedded Rego
interpreter (default) and an OPA server. Either one failing, timing out or
returning something that is not a verdict raises ``DependencyUnavailable``
naming the engine: the caller then denies (fail closed).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.errors import DependencyUnavailable

__all__ = ["Entrypoint", "PolicyEngine", "PolicyReason", "PolicyVerdict", "parse_verdict"]


class Entrypoint(StrEnum):
    """The documents the gateway queries (see policies/spawngate/main/main.rego)."""

    ADMISSION = "spawngate/main/admission"
    DANGER = "spawngate/main/danger"


class PolicyReason(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    message: str
    fix: str | None = None


class PolicyVerdict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    deny: tuple[PolicyReason, ...] = ()
    review: tuple[PolicyReason, ...] = ()
    obligations: tuple[str, ...] = ()
    #: The revision the engine itself reports for this answer (OPA's bundle
    #: revision); None when the engine is the gateway's own embedded one.
    revision: str | None = None


def _sorted_reasons(items: Any) -> list[Any]:
    if not isinstance(items, list):
        return items  # type: ignore[no-any-return]  # let validation name the problem
    return sorted(
        items,
        key=lambda r: (
            (str(r.get("rule")), str(r.get("message"))) if isinstance(r, dict) else ("", "")
        ),
    )


def parse_verdict(raw: Any, *, engine: str) -> PolicyVerdict:
    """Validate what an engine returned; anything else is an engine failure."""
    if not isinstance(raw, dict):
        raise DependencyUnavailable(
            f"policy engine returned no verdict (got {type(raw).__name__})",
            dependency=engine,
            stage="policy",
        )
    try:
        return PolicyVerdict.model_validate(
            {
                "deny": _sorted_reasons(raw.get("deny", [])),
                "review": _sorted_reasons(raw.get("review", [])),
                "obligations": sorted(raw.get("obligations", [])),
            }
        )
    except (ValidationError, TypeError) as exc:
        raise DependencyUnavailable(
            f"policy engine returned a malformed verdict: {exc}", dependency=engine, stage="policy"
        ) from exc


class PolicyEngine(Protocol):
    name: str

    @property
    def revision(self) -> str: ...

    async def evaluate(self, entrypoint: Entrypoint, document: dict[str, Any]) -> PolicyVerdict: ...

    async def ready(self) -> bool: ...

    async def aclose(self) -> None: ...
