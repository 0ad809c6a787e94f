"""The console's settings layer: which fields an admin may change, where each value
comes from, and a change validated like the file, logged, then applied.

A change is an override over the configuration file, kept in Redis
(``gateway.storage.overrides``) and applied by every replica
(``Gateway.reload_overrides``); git keeps the file, and the layer exports as a
YAML patch of it (README "Web console").
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from gateway.audit.record import AuditRecord, RecordType
from gateway.config import ApprovalMode, DedupMode, TenantSettings
from gateway.errors import InvalidRequest
from gateway.identity.authenticator import Principal
from gateway.runtime import Gateway
from gateway.storage.overrides import SettingsOverrides

__all__ = ["FIELDS", "Field", "apply_change", "flatten", "sources"]


@dataclass(frozen=True, slots=True)
class Field:
    path: str
    label: str
    #: bool | choice | float | int | optional_int | names
    kind: str
    choices: tuple[str, ...] = ()


def _limits(scope: str, label: str) -> list[Field]:
    return [
        Field(
            f"quotas.{scope}.{w}",
            f"{label}: creations per {w.removeprefix('per_')}",
            "optional_int",
        )
        for w in ("per_minute", "per_hour", "per_day")
    ] + [Field(f"quotas.{scope}.total", f"{label}: creations in total", "optional_int")]


#: What the Settings page lets an admin change (every other field is read-only there).
FIELDS: tuple[Field, ...] = (
    Field("enabled", "Agent self-service enabled", "bool"),
    Field("approval_mode", "Approval mode", "choice", tuple(m.value for m in ApprovalMode)),
    Field("danger_threshold", "Danger threshold (0 to 1)", "float"),
    Field("max_cost_per_day", "Estimated cost per day needing review ($)", "float"),
    *_limits("per_agent", "Per agent"),
    *_limits("per_tenant", "Per tenant"),
    Field("quotas.max_active_agents", "Active agents at most", "int"),
    Field("lineage.max_depth", "Lineage: deepest level", "int"),
    Field("lineage.max_descendants_per_root", "Lineage: agents per root", "int"),
    Field("lineage.root_spawns_per_minute", "Lineage: creations per minute per root", "int"),
    Field("dedup", "Capability deduplication", "choice", tuple(m.value for m in DedupMode)),
    Field("require_justification", "Require a justification", "bool"),
    Field("retire_after_days", "Retirement: propose agents idle for (days)", "int"),
    Field("protected_agents", "Retirement: protected agents (comma-separated)", "names"),
)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def sources(gw: Gateway, tenant: str, override: Mapping[str, Any]) -> dict[str, str]:
    """Where each effective value comes from: override, tenant file, file defaults, built-in."""
    layers = (
        ("console override", flatten(override)),
        ("tenant file", flatten(gw.config.tenants.get(tenant) or {})),
        ("file defaults", flatten(gw.config.defaults)),
    )
    effective = flatten(gw.config.tenant_settings(tenant).model_dump(mode="json"))
    return {
        path: next((name for name, flat in layers if path in flat), "built-in default")
        for path in effective
    }


def _parse(field: Field, raw: str) -> Any:
    raw = raw.strip()
    try:
        if field.kind == "bool":
            if raw not in ("true", "false"):
                raise ValueError("choose yes or no")
            return raw == "true"
        if field.kind == "choice":
            if raw not in field.choices:
                raise ValueError(f"choose one of {', '.join(field.choices)}")
            return raw
        if field.kind == "float":
            return float(raw)
        if field.kind == "optional_int":
            return int(raw) if raw else None
        if field.kind == "int":
            return int(raw)
        return [x.strip() for x in raw.split(",") if x.strip()]
    except ValueError as exc:
        raise InvalidRequest(f"{field.label}: {exc}", code="invalid_setting") from exc


def _set(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


async def apply_change(
    gw: Gateway, principal: Principal, tenant: str, form: Mapping[str, str], *, reset: bool
) -> list[str]:
    """Validate the submitted values over the file, log the change, store and apply it.

    Returns the paths that changed. Raises ``InvalidRequest`` (with the model's
    message) when the result would not validate as the file would not.
    """
    layer = SettingsOverrides(gw.store)
    current = (await layer.load()).get(tenant, {})
    effective = flatten(gw.config.tenant_settings(tenant).model_dump(mode="json"))
    override: dict[str, Any] = {} if reset else copy.deepcopy(current)
    if not reset:
        for field in FIELDS:
            if field.path in form:
                value = _parse(field, form[field.path])
                if value != effective.get(field.path):
                    _set(override, field.path, value)
    try:
        merged = flatten(_validated(gw, tenant, override))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidRequest(f"not saved: {problems}", code="invalid_setting") from exc
    changed = sorted(p for p in set(merged) | set(effective) if merged.get(p) != effective.get(p))
    if not changed and override == current:
        return []
    # The log first: a change that cannot be recorded is not made.
    await gw.audit.append(
        AuditRecord(
            type=RecordType.SETTINGS,
            decision_id="dec_" + uuid.uuid4().hex,
            timestamp=datetime.now(UTC),
            path="spawngate/settings",
            tenant=tenant,
            principal=principal.id,
            input={"override": override, "reset": reset},
            result={
                "action": "settings_changed",
                "changed": changed,
                "before": {p: effective.get(p) for p in changed},
                "after": {p: merged.get(p) for p in changed},
            },
            bundles={"spawngate": {"revision": gw.policy_revision}},
            labels={"app": "spawngate", "front": "console"},
        )
    )
    await layer.save(tenant, override)
    await gw.reload_overrides()
    return changed


def _validated(gw: Gateway, tenant: str, override: dict[str, Any]) -> dict[str, Any]:
    merged = _merge(gw.config.file_layer(tenant), override)
    return TenantSettings.model_validate(merged).model_dump(mode="json")


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
