"""The Templates page's form: a blueprint's fields as an admin edits them, and back.

The form is turned into the YAML a blueprint file holds and validated by the
same model the loader and ``spawngate policy check`` use (``Blueprint``); each
problem is attached to the form field it is about, so the page can show it
beside that field. Capability modules are nested, so they are edited as YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.policy.blueprints import Blueprint

__all__ = ["FIELDS", "GENERAL", "FormProblems", "blueprint_yaml", "field_of", "parse", "to_form"]

#: Form field names, in page order (the blueprint keys they edit).
FIELDS = (
    "name",
    "description",
    "tenants",
    "pre_approved",
    "allow_spawning",
    "provider",
    "model",
    "estimated_cost_per_day",
    "default_tools",
    "capability_modules",
    "system_prompt_template",
)
#: Where a problem that is about no one field is shown (top of the form).
GENERAL = "_general"
_LISTS = ("tenants", "default_tools")
_FLAGS = ("pre_approved", "allow_spawning")
_OPTIONAL = ("provider", "model", "system_prompt_template")

#: field -> the problems found with it.
FormProblems = dict[str, list[str]]


def _names(raw: str) -> list[str]:
    return [x.strip() for x in raw.replace("\n", ",").split(",") if x.strip()]


def parse(form: Mapping[str, str]) -> tuple[dict[str, Any], FormProblems]:
    """The blueprint the form describes (as a file holds it) and the problems found.

    Problems come from the ``Blueprint`` model, keyed by form field; an empty dict
    of problems means the blueprint validates.
    """
    problems: FormProblems = {}
    data: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip(),
    }
    for key in _LISTS:
        if names := _names(form.get(key, "")):
            data[key] = names
    for key in _FLAGS:
        if form.get(key) == "true":
            data[key] = True
    for key in _OPTIONAL:
        value = form.get(key, "")
        if key != "system_prompt_template":
            value = value.strip()
        if value.strip():
            # A text area sends CRLF line ends; the file keeps LF.
            data[key] = value.replace("\r\n", "\n")
    cost = form.get("estimated_cost_per_day", "").strip()
    if cost:
        try:
            data["estimated_cost_per_day"] = float(cost)
        except ValueError:
            problems["estimated_cost_per_day"] = ["a number of dollars, e.g. 2.5"]
    modules = form.get("capability_modules", "").strip()
    if modules:
        try:
            data["capability_modules"] = yaml.safe_load(modules)
        except yaml.YAMLError as exc:
            problems["capability_modules"] = [f"not YAML: {exc}"]
    if problems:
        return data, problems
    try:
        Blueprint.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = [str(p) for p in err["loc"]]
            field = loc[0] if loc and loc[0] in FIELDS else GENERAL
            where = ".".join(loc[1:])
            problems.setdefault(field, []).append(f"{where}: {err['msg']}" if where else err["msg"])
    return data, problems


def field_of(message: str) -> str:
    """The form field a ``spawngate policy check`` message is about (GENERAL if none)."""
    if "capability module" in message:
        return "capability_modules"
    if "placeholder" in message:
        return "system_prompt_template"
    if "name '" in message and "file name" in message:
        return "name"
    return GENERAL


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # A prompt reads as a block in the file, as the hand-written ones do.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def blueprint_yaml(data: Mapping[str, Any]) -> str:
    """The file text of a blueprint, keys in the order the page shows them."""
    ordered = {k: data[k] for k in FIELDS if k in data}
    prompt = ordered.get("system_prompt_template")
    if isinstance(prompt, str) and "\n" in prompt and not prompt.endswith("\n"):
        ordered["system_prompt_template"] = prompt + "\n"
    return yaml.dump(ordered, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def to_form(blueprint: Blueprint) -> dict[str, str]:
    """A loaded blueprint as the form's field values."""
    modules = {
        name: m.model_dump(exclude_defaults=True)
        for name, m in blueprint.capability_modules.items()
    }
    return {
        "name": blueprint.name,
        "description": blueprint.description,
        "tenants": ", ".join(blueprint.tenants),
        "pre_approved": "true" if blueprint.pre_approved else "false",
        "allow_spawning": "true" if blueprint.allow_spawning else "false",
        "provider": blueprint.provider or "",
        "model": blueprint.model or "",
        "estimated_cost_per_day": f"{blueprint.estimated_cost_per_day:g}",
        "default_tools": ", ".join(blueprint.default_tools),
        "capability_modules": yaml.safe_dump(
            {k: {**v, "tools": list(v.get("tools", ()))} for k, v in modules.items()},
            sort_keys=False,
        )
        if modules
        else "",
        "system_prompt_template": blueprint.system_prompt_template or "",
    }
