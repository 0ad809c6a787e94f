"""The creation request contract: what an agent may send to ``create_agent`` / ``create_sme``.

Field names are canonical snake_case. The aliases of seed 002 (``auto-reply``,
``next agent`` ...) are accepted and folded into the canonical field before
validation; giving a field under two names with different values is an error
rather than a silent pick. Unknown fields are refused so that a typo such as
``tool`` for ``tools`` can never be dropped on the floor. Free text ends up in
system prompts, so control characters (NUL, ESC, DEL, C1, bidirectional
overrides) are refused, naming the field; long text may hold newline and tab.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from gateway.contract.body import MalformedBody, first_problem
from gateway.errors import FieldProblem, InvalidRequest, PayloadTooLarge

__all__ = [
    "ALIASES",
    "NAME_PATTERN",
    "RESERVED_NAMES",
    "SPAWNING_TOOLS",
    "AgentKind",
    "AgentRequest",
    "CreateRequest",
    "MalformedBody",
    "SmeRequest",
    "parse_request",
]

#: DNS-1123 label: lowercase letters, digits and dashes, 2 to 63 characters,
#: starting with a letter and not ending with a dash, so that the name is also a
#: valid Kubernetes resource name (seed 001).
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$"
#: Tools, capabilities and templates: identifiers as they appear in policy data.
IDENT_PATTERN = r"^[a-z0-9][a-z0-9_.:-]{0,63}$"
#: A reference to another agent: ``name`` in the caller's tenant or ``tenant/name``.
AGENT_REF_PATTERN = r"^([a-z0-9][a-z0-9-]{0,62}/)?[a-z][a-z0-9-]{0,61}[a-z0-9]$"

#: Names that ``GET /v1/agents/<name>`` cannot reach because a route has that path
#: (``/v1/agents/search``, discovery); refused at validation.
RESERVED_NAMES = frozenset({"search"})
#: Tools that let an agent create agents: granting one hands on spawning rights.
SPAWNING_TOOLS = frozenset({"create_agent", "create_sme"})

AgentName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Ident = Annotated[str, StringConstraints(pattern=IDENT_PATTERN)]
AgentRef = Annotated[str, StringConstraints(pattern=AGENT_REF_PATTERN)]
#: Bidirectional overrides and isolates: they reorder what a reader (or a
#: reviewer) sees without changing what a model reads (Trojan Source).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _control_problem(value: str, allowed: frozenset[str]) -> str | None:
    for index, char in enumerate(value):
        if char in allowed:
            continue
        if unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS:
            return f"contains control character U+{ord(char):04X} at position {index}"
    return None


def _no_controls(value: str) -> str:
    """Short text: no control characters at all (it is copied into system prompts)."""
    problem = _control_problem(value, frozenset())
    if problem is not None:
        raise ValueError(problem)
    return value


def _no_controls_but_lines(value: str) -> str:
    """Long text: newline and tab only."""
    problem = _control_problem(value, frozenset("\n\t"))
    if problem is not None:
        raise ValueError(f"{problem} (only newline and tab are allowed)")
    return value


ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=2_000), AfterValidator(_no_controls)
]
LongText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=20_000),
    AfterValidator(_no_controls_but_lines),
]
#: A short paragraph (a justification): may run over lines, like long text.
Paragraph = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2_000),
    AfterValidator(_no_controls_but_lines),
]
ModelName = Annotated[
    str, StringConstraints(min_length=1, max_length=128), AfterValidator(_no_controls)
]

#: alias -> canonical field (seed 002 spellings and the usual camelCase).
ALIASES: Mapping[str, str] = {
    "auto-reply": "auto_reply",
    "autoReply": "auto_reply",
    "next agent": "next_agent",
    "next-agent": "next_agent",
    "nextAgent": "next_agent",
}


class AgentKind(StrEnum):
    AGENT = "agent"
    SME = "sme"


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: AgentName
    tenant: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")] | None = Field(
        default=None,
        description="Optional. The tenant always comes from the credential; if given here "
        "it must match, and policy denies a request naming another tenant.",
    )
    role: ShortText | None = None
    instructions: LongText | None = None
    template: Ident | None = None
    tools: Annotated[list[Ident], Field(max_length=64)] = Field(default_factory=list)
    capabilities: Annotated[list[Ident], Field(max_length=64)] = Field(default_factory=list)
    auto_reply: bool | None = None
    next_agent: AgentRef | None = None
    provider: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")] | None = (
        None
    )
    model: ModelName | None = None
    estimated_cost_per_day: Annotated[float, Field(ge=0, le=1_000_000)] | None = None
    justification: Paragraph | None = None
    #: Ephemeral agents: retired this many seconds after creation. Any positive ttl
    #: is well-formed; the tenant's ``ttl`` settings allow and cap it (feature stage).
    ttl_seconds: Annotated[int, Field(ge=1, le=365 * 24 * 3600)] | None = None
    #: Where to POST the final outcome of a request queued for approval (HMAC-signed);
    #: its host must be in the tenant's callback_hosts.
    callback_url: AnyUrl | None = None

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(f"'{value}' is reserved (it names a route under /v1/agents/)")
        return value

    @field_validator("tools", "capabilities")
    @classmethod
    def _no_duplicates(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for item in value:
            if item in seen:
                raise ValueError(f"'{item}' is listed twice")
            seen.add(item)
        return value


class AgentRequest(_Base):
    """``create_agent``: a general agent."""

    @property
    def kind(self) -> AgentKind:
        return AgentKind.AGENT


class SmeRequest(_Base):
    """``create_sme``: a specialist agent, which must say what it is expert in."""

    expertise: ShortText
    knowledge_sources: Annotated[list[AnyUrl | Ident], Field(max_length=32)] = Field(
        default_factory=list
    )

    @property
    def kind(self) -> AgentKind:
        return AgentKind.SME


CreateRequest = AgentRequest | SmeRequest


def _fold_aliases(body: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldProblem]]:
    folded: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    origin: dict[str, str] = {}
    for key, value in body.items():
        canonical = ALIASES.get(key, key)
        if canonical in folded and folded[canonical] != value:
            problems.append(
                FieldProblem(
                    canonical,
                    f"given twice with different values (as '{origin[canonical]}' and '{key}')",
                )
            )
            continue
        folded[canonical] = value
        origin[canonical] = key
    return folded, problems


_PATTERN_HELP: Mapping[str, str] = {
    NAME_PATTERN: "must be 2-63 lowercase letters, digits or dashes, start with a letter "
    "and not end with a dash",
    IDENT_PATTERN: "must be 1-64 lowercase letters, digits or '_.:-', starting with a letter "
    "or digit",
    AGENT_REF_PATTERN: "must be an agent name, or 'tenant/name'",
}


def _problems(exc: ValidationError) -> list[FieldProblem]:
    out: list[FieldProblem] = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        if err["type"] == "extra_forbidden":
            out.append(FieldProblem(loc, "unknown field"))
        elif err["type"] == "missing":
            out.append(FieldProblem(loc, "field required"))
        elif err["type"] == "string_pattern_mismatch":
            pattern = str((err.get("ctx") or {}).get("pattern", ""))
            help_text = _PATTERN_HELP.get(pattern, f"must match {pattern}")
            out.append(FieldProblem(loc, f"{err['input']!r} {help_text}"))
        else:
            out.append(FieldProblem(loc, err["msg"]))
    return out


def parse_request(kind: AgentKind, body: object) -> CreateRequest:
    """Validate and normalise a raw JSON body; raise ``InvalidRequest`` naming every problem."""
    if isinstance(body, MalformedBody):
        problems = [FieldProblem(body.field, body.problem)]
        if body.limit is not None:
            raise PayloadTooLarge(
                f"the request body is larger than the limit of {body.limit} bytes",
                problems=problems,
            )
        raise InvalidRequest(
            f"the request body is not acceptable JSON: {body.field}: {body.problem}",
            problems=problems,
        )
    if not isinstance(body, Mapping):
        raise InvalidRequest(
            "the request body must be a JSON object",
            problems=[FieldProblem("body", f"expected an object, got {type(body).__name__}")],
        )
    # Bodies from any front (the CLI, a stored request) get the door's checks too:
    # what cannot be recorded and hashed is refused, naming the field.
    found = first_problem(body)
    if found is not None:
        field, problem = found
        raise InvalidRequest(
            f"the request body is not acceptable JSON: {field}: {problem}",
            problems=[FieldProblem(field, problem)],
        )
    folded, problems = _fold_aliases(body)
    model: type[AgentRequest] | type[SmeRequest] = (
        SmeRequest if kind is AgentKind.SME else AgentRequest
    )
    try:
        parsed = model.model_validate(folded)
    except ValidationError as exc:
        problems.extend(_problems(exc))
        parsed = None
    if problems or parsed is None:
        fields = ", ".join(sorted({p["field"] for p in problems}))
        raise InvalidRequest(f"invalid {kind.value} request: {fields}", problems=problems)
    return parsed
