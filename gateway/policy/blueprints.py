"""Agent blueprints (``templates/*.yaml``) and the system prompt of a new agent.

A blueprint gives a new agent its defaults: tools, capability modules (named
bundles of tools the requester may pick), provider and model, an estimated
cost, and optionally a prompt template. Whether a blueprint may be used, and
whether it may auto-approve, is decided by policy with these facts as input.

Prompt placeholders are ``{{name}}``, ``{{role}}`` (rendered as the sentence
"Your role is ..."), ``{{next_agent}}``,
``{{expertise}}`` and ``{{capabilities}}`` (a bulleted list). Any other
placeholder is refused when the blueprint is loaded, not when an agent is made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from gateway.contract.request import IDENT_PATTERN, CreateRequest, SmeRequest

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_NEXT_AGENT",
    "DEFAULT_PROVIDER",
    "DEFAULT_TEMPLATE",
    "Blueprint",
    "EffectiveAgent",
    "TemplateCatalog",
    "render_system_prompt",
    "seed002_prompt",
]

#: Used when neither the request, the blueprint nor the tenant names one.
DEFAULT_PROVIDER = "openai"
DEFAULT_MODEL = "gpt-4o-mini"
#: Seed 002: when ``next_agent`` is not given, replies are addressed to the human.
DEFAULT_NEXT_AGENT = "human"
#: The blueprint used when a request names none (seed 002's plain agent).
DEFAULT_TEMPLATE = "default"

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_KNOWN_PLACEHOLDERS = frozenset({"name", "role", "next_agent", "expertise", "capabilities"})

Ident = Annotated[str, StringConstraints(pattern=IDENT_PATTERN)]


class CapabilityModule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = ""
    tools: tuple[Ident, ...] = ()


class Blueprint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Ident
    description: str
    #: Tenants that may use this blueprint; empty means every tenant.
    tenants: tuple[str, ...] = ()
    #: Eligible for auto-approval under the seed 003 rules.
    pre_approved: bool = False
    provider: str | None = None
    model: str | None = None
    estimated_cost_per_day: float = Field(default=0.0, ge=0)
    default_tools: tuple[Ident, ...] = ()
    capability_modules: dict[Ident, CapabilityModule] = Field(default_factory=dict)
    #: May agents made from this blueprint hold create_agent / create_sme?
    #: Policy still decides (see policies/spawngate/tools).
    allow_spawning: bool = False
    system_prompt_template: str | None = None

    @field_validator("system_prompt_template")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        if value is None:
            return value
        unknown = sorted(set(_PLACEHOLDER.findall(value)) - _KNOWN_PLACEHOLDERS)
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_KNOWN_PLACEHOLDERS))}"
            )
        return value

    def tools_for(self, capabilities: Iterable[str]) -> tuple[str, ...]:
        """Tools the blueprint brings for the chosen capability modules (unknown ones add none)."""
        tools = set(self.default_tools)
        for cap in capabilities:
            module = self.capability_modules.get(cap)
            if module is not None:
                tools.update(module.tools)
        return tuple(sorted(tools))


class TemplateCatalog:
    """All blueprints of one templates/ directory, loaded and checked at once."""

    def __init__(self, blueprints: Mapping[str, Blueprint]) -> None:
        self._by_name = dict(blueprints)

    @classmethod
    def load(cls, directory: Path) -> TemplateCatalog:
        found: dict[str, Blueprint] = {}
        if not directory.is_dir():
            raise ValueError(f"templates directory not found: {directory}")
        for path in sorted(directory.glob("*.yaml")):
            if path.name.startswith("."):
                # An editor's or tool's hidden file is not a blueprint (as for policies/).
                continue
            try:
                raw = yaml.safe_load(path.read_text(encoding="utf-8"))
                blueprint = Blueprint.model_validate(raw)
            except (yaml.YAMLError, ValidationError) as exc:
                raise ValueError(f"template {path.name}: {exc}") from exc
            if blueprint.name != path.stem:
                raise ValueError(
                    f"template {path.name}: name '{blueprint.name}' must match the file name"
                )
            found[blueprint.name] = blueprint
        if DEFAULT_TEMPLATE not in found:
            raise ValueError(f"templates directory {directory} has no '{DEFAULT_TEMPLATE}.yaml'")
        return cls(found)

    def get(self, name: str) -> Blueprint | None:
        return self._by_name.get(name)

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_name))

    def __len__(self) -> int:
        return len(self._by_name)


def _role_sentence(role: str | None) -> str:
    if not role:
        return ""
    role = role.strip()
    sentence = role if role.lower().startswith("your role is") else f"Your role is {role}"
    return sentence if sentence.endswith((".", "!", "?")) else sentence + "."


def seed002_prompt(name: str, role: str | None, next_agent: str | None) -> str:
    """The exact structure seed 002 requires for a plain agent's system prompt."""
    first = f"You are agent {name}."
    sentence = _role_sentence(role)
    if sentence:
        first = f"{first} {sentence}"
    target = next_agent or DEFAULT_NEXT_AGENT
    return f"{first}\n\nAlways respond in exactly this structure:\n@{target}\n{{Your response}}"


def render_system_prompt(blueprint: Blueprint, request: CreateRequest) -> str:
    if blueprint.system_prompt_template is None:
        return seed002_prompt(request.name, request.role, request.next_agent)
    values = {
        "name": request.name,
        "role": _role_sentence(request.role),
        "next_agent": request.next_agent or DEFAULT_NEXT_AGENT,
        "expertise": request.expertise if isinstance(request, SmeRequest) else "",
        "capabilities": "\n".join(f"- {c}" for c in request.capabilities) or "- (none)",
    }
    rendered = _PLACEHOLDER.sub(lambda m: values[m.group(1)], blueprint.system_prompt_template)
    # An empty placeholder (no role given) must not leave trailing blanks behind.
    return "\n".join(line.rstrip() for line in rendered.splitlines()).strip()


@dataclass(frozen=True, slots=True)
class EffectiveAgent:
    """The agent that would be created: the request merged with its blueprint."""

    template: str
    template_found: bool
    tools: tuple[str, ...]
    capabilities: tuple[str, ...]
    provider: str
    model: str
    estimated_cost_per_day: float
    depth: int
    system_prompt: str
    next_agent: str
    #: Where the tools came from (issue 10): granted by the blueprint and its chosen
    #: capability modules, added by the creator (charged to it), or listed in the
    #: request although the blueprint grants them already. Empty: all charged.
    tools_from_template: tuple[str, ...] = ()
    tools_from_request: tuple[str, ...] = ()
    tools_dropped: tuple[str, ...] = ()

    def tool_sources(self) -> dict[str, list[str]]:
        """The provenance as the answer, the record and the policy input show it."""
        return {
            "from_template": list(self.tools_from_template),
            "from_request": list(self.tools_from_request),
            "dropped": list(self.tools_dropped),
        }
