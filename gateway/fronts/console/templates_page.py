"""Templates: the blueprints of the deciding policy revision, one blueprint, and a
preview of the agent it produces (system prompt, tools).

Casbin ``template`` / ``read`` decides who sees them (admins); writing them
(create, edit, retire, restore) is ``templates_edit``, into the templates
directory of this deployment (``blueprint_files`` says why there).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from gateway.contract.request import AgentRequest
from gateway.errors import NotFound, PermissionDenied, SpawngateError
from gateway.fronts.console.blueprint_files import TemplateFiles
from gateway.fronts.console.sessions import Session
from gateway.fronts.console.web import (
    PREFIX,
    allowed,
    failure,
    gateway_of,
    page,
    signed_in,
    to_signin,
)
from gateway.policy.blueprints import Blueprint, render_system_prompt
from gateway.policy.casbin import Action, Obj

__all__ = ["preview_of", "router"]

router = APIRouter(include_in_schema=False)


def preview_of(
    blueprint: Blueprint, agent: str, role: str, capabilities: list[str]
) -> dict[str, object]:
    """The agent a request naming this blueprint would get (ValidationError if the
    sample request itself is not valid)."""
    sample = AgentRequest(
        name=agent, role=role or None, template=blueprint.name, capabilities=capabilities
    )
    return {
        "system_prompt": render_system_prompt(blueprint, sample),
        "tools": blueprint.tools_for(capabilities),
    }


def _require(request: Request, session: Session) -> None:
    if not allowed(
        gateway_of(request), session, session.principal.tenant, Obj.TEMPLATE, Action.READ
    ):
        raise PermissionDenied(
            f"'{session.principal.id}' may not read templates in tenant "
            f"'{session.principal.tenant}'",
            code="not_an_admin",
        )


@router.get(f"{PREFIX}/templates")
async def templates(
    request: Request, retired: str | None = None, restored: str | None = None
) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    try:
        _require(request, session)
    except SpawngateError as exc:
        return failure(request, session, exc)
    gw = gateway_of(request)
    catalog = gw.catalog
    blueprints = [b for n in catalog.names() if (b := catalog.get(n)) is not None]
    files = TemplateFiles(gw)
    return page(
        request,
        "templates.html",
        session,
        current="templates",
        blueprints=blueprints,
        revision=gw.policy_revision,
        retired_names=files.retired(),
        uncommitted=await asyncio.to_thread(files.uncommitted),
        directory=files.directory,
        can_change=allowed(gw, session, session.principal.tenant, Obj.TEMPLATE, Action.DECIDE),
        done_retired=retired,
        done_restored=restored,
    )


@router.get(f"{PREFIX}/templates/{{name}}")
async def template(
    request: Request,
    name: str,
    agent: str = "preview-agent",
    role: str = "",
    capabilities: str = "",
    saved: str | None = None,
) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    try:
        _require(request, session)
        blueprint = gateway_of(request).catalog.get(name)
        if blueprint is None:
            raise NotFound(f"no template '{name}'")
    except SpawngateError as exc:
        return failure(request, session, exc)
    chosen = [c.strip() for c in capabilities.split(",") if c.strip()]
    preview: dict[str, object] | None = None
    error: str | None = None
    try:
        preview = preview_of(blueprint, agent, role, chosen)
    except ValidationError as exc:
        error = "; ".join(str(e["msg"]) for e in exc.errors())
    return page(
        request,
        "template.html",
        session,
        current="templates",
        blueprint=blueprint,
        preview=preview,
        error=error,
        agent=agent,
        role=role,
        capabilities=capabilities,
        saved=saved,
        can_change=allowed(
            gateway_of(request), session, session.principal.tenant, Obj.TEMPLATE, Action.DECIDE
        ),
    )
