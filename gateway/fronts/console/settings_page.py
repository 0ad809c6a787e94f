"""Settings: a tenant's effective settings with the source of each value; admins
change them (an override layer over the file, see ``overrides``) and export the
layer as a YAML patch of the configuration file.

Casbin decides: ``settings`` / ``read`` to see, ``settings`` / ``decide`` to change
(both held by admins only in policies/casbin/policy.csv).
"""

from __future__ import annotations

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.errors import NotFound, PermissionDenied, SpawngateError
from gateway.fronts.console.overrides import FIELDS, apply_change, flatten, sources
from gateway.fronts.console.sessions import Session
from gateway.fronts.console.web import (
    PREFIX,
    allowed,
    checked_form,
    csrf_refused,
    failure,
    gateway_of,
    page,
    signed_in,
    to_signin,
    visible_tenants,
)
from gateway.policy.casbin import Action, Obj
from gateway.storage.overrides import SettingsOverrides

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _tenant(request: Request, session: Session, tenant: str | None, action: Action) -> str:
    gw = gateway_of(request)
    tenant = tenant or session.principal.tenant
    if not allowed(gw, session, tenant, Obj.SETTINGS, action):
        verb = "change" if action is Action.DECIDE else "read"
        raise PermissionDenied(
            f"'{session.principal.id}' may not {verb} the settings of tenant '{tenant}'",
            code="not_an_admin",
        )
    if tenant not in gw.config.tenants:
        raise NotFound(f"no tenant '{tenant}' in the configuration file")
    return tenant


async def _show(
    request: Request,
    session: Session,
    tenant: str | None,
    *,
    status: int = 200,
    error: str | None = None,
    saved: str | None = None,
) -> Response:
    gw = gateway_of(request)
    try:
        tenant = _tenant(request, session, tenant, Action.READ)
        override = (await SettingsOverrides(gw.store).load()).get(tenant, {})
    except SpawngateError as exc:
        return failure(request, session, exc)
    effective = flatten(gw.config.tenant_settings(tenant).model_dump(mode="json"))
    return page(
        request,
        "settings.html",
        session,
        status=status,
        current="settings",
        tenant=tenant,
        tenants=visible_tenants(gw, session, Obj.SETTINGS),
        effective=effective,
        sources=sources(gw, tenant, override),
        fields=FIELDS,
        override=override,
        can_change=allowed(gw, session, tenant, Obj.SETTINGS, Action.DECIDE),
        error=error,
        saved=saved,
    )


@router.get(f"{PREFIX}/settings")
async def settings(
    request: Request, tenant: str | None = None, saved: str | None = None
) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    return await _show(request, session, tenant, saved=saved)


@router.post(f"{PREFIX}/settings")
async def change(request: Request) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    form = await checked_form(request, session)
    if form is None:
        return csrf_refused(request, session)
    gw = gateway_of(request)
    try:
        tenant = _tenant(request, session, form.get("tenant"), Action.DECIDE)
    except SpawngateError as exc:
        return failure(request, session, exc)
    try:
        changed = await apply_change(
            gw, session.principal, tenant, form, reset=form.get("reset") == "1"
        )
    except SpawngateError as exc:
        return await _show(request, session, tenant, status=exc.status, error=exc.reason)
    saved = ",".join(changed) or "nothing"
    return RedirectResponse(f"{PREFIX}/settings?tenant={tenant}&saved={saved}", status_code=303)


@router.get(f"{PREFIX}/settings/export")
async def export(request: Request, tenant: str | None = None) -> Response:
    """The tenant's console override as a patch of the configuration file (YAML)."""
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    gw = gateway_of(request)
    try:
        tenant = _tenant(request, session, tenant, Action.READ)
        override = (await SettingsOverrides(gw.store).load()).get(tenant, {})
    except SpawngateError as exc:
        return failure(request, session, exc)
    text = (
        "# Console overrides of the configuration file: merge under `tenants:`, then reset\n"
        '# them in the console (README, "Web console").\n'
        + yaml.safe_dump({"tenants": {tenant: override}}, sort_keys=True)
    )
    return Response(
        text,
        media_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{tenant}-overrides.yaml"'},
    )
