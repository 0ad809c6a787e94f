"""Templates, the writing side: create, edit, retire and restore blueprints.

Casbin ``template`` / ``decide`` (admins) in the user's own tenant. A blueprint
is checked first by its model (``blueprint_form``), then by ``spawngate policy
check`` over the directory with the change (``blueprint_files``); a refused one
comes back with each problem beside its field and nothing written. *Check and
preview* runs the same checks and shows the agent without saving.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.errors import InvalidRequest, NotFound, PermissionDenied, SpawngateError
from gateway.fronts.console.blueprint_files import TemplateFiles, digest
from gateway.fronts.console.blueprint_form import (
    FIELDS,
    GENERAL,
    FormProblems,
    blueprint_yaml,
    field_of,
    parse,
    to_form,
)
from gateway.fronts.console.sessions import Session
from gateway.fronts.console.templates_page import preview_of
from gateway.fronts.console.web import (
    PREFIX,
    Form,
    allowed,
    checked_form,
    csrf_refused,
    failure,
    gateway_of,
    page,
    signed_in,
    to_signin,
)
from gateway.policy.blueprints import Blueprint
from gateway.policy.casbin import Action, Obj
from gateway.policy.tooling.check import Problem

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _require(request: Request, session: Session) -> None:
    tenant = session.principal.tenant
    if not allowed(gateway_of(request), session, tenant, Obj.TEMPLATE, Action.DECIDE):
        raise PermissionDenied(
            f"'{session.principal.id}' may not change templates in tenant '{tenant}'",
            code="not_an_admin",
        )


def _by_field(problems: list[Problem]) -> FormProblems:
    out: FormProblems = {}
    for p in problems:
        out.setdefault(field_of(p.message), []).append(f"{p.location}: {p.message}")
    return out


async def _form(
    request: Request,
    session: Session,
    values: Form,
    *,
    editing: bool,
    status: int = 200,
    problems: FormProblems | None = None,
    checked: bool = False,
) -> Response:
    preview = None
    if checked and not problems:
        blueprint = Blueprint.model_validate(parse(values)[0])
        preview = preview_of(blueprint, "preview-agent", "", list(blueprint.capability_modules))
    return page(
        request,
        "template_form.html",
        session,
        status=status,
        current="templates",
        values=values,
        fields=FIELDS,
        editing=editing,
        problems=problems or {},
        general=(problems or {}).get(GENERAL, []),
        preview=preview,
        uncommitted=await asyncio.to_thread(TemplateFiles(gateway_of(request)).uncommitted),
    )


@router.get(f"{PREFIX}/templates/new")
async def new(request: Request) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    try:
        _require(request, session)
    except SpawngateError as exc:
        return failure(request, session, exc)
    values = {"estimated_cost_per_day": "0", "pre_approved": "false", "allow_spawning": "false"}
    return await _form(request, session, values, editing=False)


@router.get(f"{PREFIX}/templates/{{name}}/edit")
async def edit(request: Request, name: str) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    gw = gateway_of(request)
    files = TemplateFiles(gw)
    try:
        _require(request, session)
        blueprint = gw.catalog.get(name)
        text = files.text(name)
        if blueprint is None or text is None:
            raise NotFound(f"no template '{name}'")
    except SpawngateError as exc:
        return failure(request, session, exc)
    return await _form(request, session, {**to_form(blueprint), "base": digest(text)}, editing=True)


@router.post(f"{PREFIX}/templates")
async def save(request: Request) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    form = await checked_form(request, session)
    if form is None:
        return csrf_refused(request, session)
    try:
        _require(request, session)
    except SpawngateError as exc:
        return failure(request, session, exc)
    editing = bool(form.get("base"))
    data, problems = parse(form)
    if problems:
        return await _form(request, session, form, editing=editing, status=422, problems=problems)
    files = TemplateFiles(gateway_of(request))
    name = str(data["name"])
    text = blueprint_yaml(data)
    if form.get("intent") == "check":
        found = await asyncio.to_thread(files.problems, {name: text})
        status = 422 if found else 200
        return await _form(
            request, session, form, editing=editing, status=status,
            problems=_by_field(found), checked=True,
        )  # fmt: skip
    try:
        found = await files.save(session.principal, name, text, base=form.get("base") or None)
    except SpawngateError as exc:
        refused = {GENERAL: [f"{exc.reason} ({exc.code})"]}
        return await _form(
            request, session, form, editing=editing, status=exc.status, problems=refused
        )
    if found:
        return await _form(
            request, session, form, editing=editing, status=422, problems=_by_field(found)
        )
    return RedirectResponse(f"{PREFIX}/templates/{name}?saved=1", status_code=303)


@router.post(f"{PREFIX}/templates/{{name}}/{{action}}")
async def retire_or_restore(request: Request, name: str, action: str) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    form = await checked_form(request, session)
    if form is None:
        return csrf_refused(request, session)
    files = TemplateFiles(gateway_of(request))
    try:
        _require(request, session)
        if action == "retire":
            found = await files.retire(session.principal, name)
        elif action == "restore":
            found = await files.restore(session.principal, name)
        else:
            raise NotFound(f"no action '{action}' on templates")
    except SpawngateError as exc:
        return failure(request, session, exc)
    if found:
        reasons = "; ".join(str(p) for p in found)
        return failure(
            request,
            session,
            InvalidRequest(
                f"not {action}d, spawngate policy check says: {reasons}",
                code="template_refused",
                stage=None,
            ),
        )
    return RedirectResponse(f"{PREFIX}/templates?{action}d={name}", status_code=303)
