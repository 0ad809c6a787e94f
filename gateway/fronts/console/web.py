"""What every console page shares: templates, the signed-in user, CSRF, errors.

Pages never decide who may do what: they call the runtime's services, which ask
Casbin, and show the ``SpawngateError`` those raise (its status, code and reason).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.errors import SpawngateError
from gateway.fronts.console.sessions import COOKIE, Session, SessionStore, same_token
from gateway.policy.casbin import Action, Obj
from gateway.runtime import Gateway

__all__ = [
    "PREFIX",
    "Form",
    "allowed",
    "checked_form",
    "csrf_refused",
    "failure",
    "gateway_of",
    "page",
    "sessions",
    "signed_in",
    "to_signin",
    "visible_tenants",
]

PREFIX = "/console"
_HERE = Path(__file__).parent
_ENV = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

#: A submitted form's fields (one value each).
Form = dict[str, str]


def _age(when: datetime) -> str:
    seconds = max(0, int((datetime.now(UTC) - when).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


_ENV.filters["age"] = _age


def gateway_of(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


def sessions(request: Request) -> SessionStore:
    gw = gateway_of(request)
    return SessionStore(gw.store, gw.config, seconds=gw.settings.console_session_seconds)


async def signed_in(request: Request) -> Session | None:
    return await sessions(request).get(request.cookies.get(COOKIE))


def to_signin(request: Request) -> Response:
    if request.headers.get("HX-Request"):
        # htmx follows this header with a full page load instead of swapping a fragment.
        return Response(status_code=401, headers={"HX-Redirect": f"{PREFIX}/signin"})
    return RedirectResponse(f"{PREFIX}/signin", status_code=303)


def page(
    request: Request,
    template: str,
    session: Session | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    html = _ENV.get_template(template).render(
        request=request,
        session=session,
        user=session.principal if session else None,
        csrf=session.csrf if session else context.pop("csrf", ""),
        prefix=PREFIX,
        **context,
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            # No external requests, no framing, no inline script beyond our own files.
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                "script-src 'self'; frame-ancestors 'none'; form-action 'self'"
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        },
    )


def failure(request: Request, session: Session | None, exc: SpawngateError) -> HTMLResponse:
    """A service's refusal as a page: its status, code and reason."""
    return page(
        request,
        "error.html",
        session,
        status=exc.status,
        code=exc.code,
        reason=exc.reason,
    )


async def checked_form(request: Request, session: Session) -> Form | None:
    """The form's fields, or None when its CSRF token is missing or wrong (answer 403)."""
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    if not same_token(form.get("csrf_token"), session.csrf):
        return None
    return form


def csrf_refused(request: Request, session: Session | None) -> HTMLResponse:
    return page(
        request,
        "error.html",
        session,
        status=403,
        code="csrf_token_missing",
        reason="the form's CSRF token is missing or wrong: reload the page and try again",
    )


def visible_tenants(gw: Gateway, session: Session, obj: Obj) -> list[str]:
    """Tenants in which the user may read ``obj`` (Casbin, as the services check it)."""
    principal = session.principal
    tenants = sorted(set(gw.config.tenants) | {principal.tenant})
    check = gw.policy.current.authorizer.check
    return [t for t in tenants if check(principal.subject, t, obj, Action.READ).allowed]


def allowed(gw: Gateway, session: Session, tenant: str, obj: Obj, action: Action) -> bool:
    check = gw.policy.current.authorizer.check
    return check(session.principal.subject, tenant, obj, action).allowed
