"""The policy engine interface and the verdict it returns.

Three engines implement it over the same ``policies/`` files: two in-process
Rego interpreters, regorus (Rust, the default: measured fastest) and rego-cpp
(``embedded``), and an OPA server. Either one failing, timing out or
returning something that is not a complete verdict raises ``DependencyUnavailable``
naming the "policy engine" (by role; the cause goes to the log only): the caller
then denies (fail closed). ``parse_verdict`` is the one place that decides what
a verdict is, for every engine.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.errors import DependencyUnavailable

__all__ = [
    "DEPENDENCY",
    "Entrypoint",
    "PolicyEngine",
    "PolicyReason",
    "PolicyVerdict",
    "parse_verdict",
    "policy_unavailable",
    "rego_verdict",
]

logger = logging.getLogger("spawngate.policy")


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


def rego_verdict(admission: PolicyVerdict, danger: PolicyVerdict | None) -> str:
    """What the two policy queries decide together: "deny", "review" or "allow".

    ``danger`` is None when the danger query did not run (admission denied, or a
    live run stopped before scoring). Used wherever policy alone is judged: shadow
    revisions and ``policy replay``; the request's own verdict is the pipeline's.
    """
    if admission.deny or (danger is not None and danger.deny):
        return "deny"
    if admission.review or (danger is not None and danger.review):
        return "review"
    return "allow"


#: How every engine is named to callers and in the log: by its role, never its address.
DEPENDENCY = "policy engine"


class _RawVerdict(BaseModel):
    """What an entry point must return: all three lists, present and of the right types.

    A missing list is not an empty one: ``{}`` is what OPA answers for a package whose
    rules are not loaded, and reading it as "nothing to deny" would fail open.
    Strict: no coercion, so ``"none"`` is not a list and ``1`` is not an obligation.
    """

    model_config = ConfigDict(strict=True, extra="ignore")

    deny: list[PolicyReason]
    review: list[PolicyReason]
    obligations: list[str]


def _key(reason: PolicyReason) -> tuple[str, str]:
    return (reason.rule, reason.message)


def policy_unavailable(
    detail: str, *, reason: str = "the policy engine gave no usable verdict"
) -> DependencyUnavailable:
    """The one error every engine raises: ``detail`` (which may name an address or echo
    the engine's answer) goes to the gateway log, ``reason`` to the caller and the record."""
    logger.warning("policy engine failed: %s", detail)
    return DependencyUnavailable(
        reason + "; the request is denied",
        dependency=DEPENDENCY,
        stage="policy",
    )


def parse_verdict(raw: Any) -> PolicyVerdict:
    """Validate what an engine returned; anything but a complete verdict is an engine failure."""
    try:
        found = _RawVerdict.model_validate(raw)
    except ValidationError as exc:
        raise policy_unavailable(
            f"malformed verdict ({exc.error_count()} problem(s)): "
            + "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'result'}: {e['msg']}" for e in exc.errors()
            )
        ) from exc
    return PolicyVerdict(
        deny=tuple(sorted(found.deny, key=_key)),
        review=tuple(sorted(found.review, key=_key)),
        obligations=tuple(sorted(found.obligations)),
    )


class PolicyEngine(Protocol):
    name: str

    @property
    def revision(self) -> str: ...

    async def evaluate(
        self, entrypoint: Entrypoint, document: Mapping[str, Any]
    ) -> PolicyVerdict: ...

    async def ready(self) -> bool: ...

    async def aclose(self) -> None: ...
