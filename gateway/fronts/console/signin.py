"""Sign-in with an API key, sign-out.

The key is checked by the same authenticator as the API (``gw.reads.authenticate``)
and exchanged for a session cookie: HttpOnly, SameSite=Strict, Secure when the
request came over TLS. The sign-in form carries a CSRF token too, double-submitted
in a short-lived cookie since no session exists yet.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.errors import AuthenticationFailed
from gateway.fronts.console.sessions import (
    COOKIE,
    CSRF_COOKIE,
    new_token,
    same_token,
)
from gateway.fronts.console.web import (
    PREFIX,
    checked_form,
    csrf_refused,
    gateway_of,
    page,
    sessions,
    signed_in,
    to_signin,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )


@router.get(PREFIX)
async def home(request: Request) -> Response:
    if await signed_in(request) is None:
        return to_signin(request)
    return RedirectResponse(f"{PREFIX}/overview", status_code=303)


@router.get(f"{PREFIX}/signin")
async def signin_form(request: Request, error: str | None = None) -> Response:
    token = new_token()
    response = page(request, "signin.html", None, csrf=token, error=error)
    _cookie(request, response, CSRF_COOKIE, token, 600)
    return response


@router.post(f"{PREFIX}/signin")
async def signin(request: Request) -> Response:
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    if not same_token(form.get("csrf_token"), request.cookies.get(CSRF_COOKIE)):
        return csrf_refused(request, None)
    key = form.get("api_key", "").strip()
    try:
        principal = await gateway_of(request).reads.authenticate(f"Bearer {key}")
    except AuthenticationFailed:
        token = new_token()
        response = page(
            request,
            "signin.html",
            None,
            status=401,
            csrf=token,
            error="That API key was not accepted.",
        )
        _cookie(request, response, CSRF_COOKIE, token, 600)
        return response
    store = sessions(request)
    session = await store.create(principal)
    done = RedirectResponse(f"{PREFIX}/overview", status_code=303)
    _cookie(request, done, COOKIE, session.token, store.seconds)
    done.delete_cookie(CSRF_COOKIE, path=PREFIX)
    return done


@router.post(f"{PREFIX}/signout")
async def signout(request: Request) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    if await checked_form(request, session) is None:
        return csrf_refused(request, session)
    await sessions(request).delete(session.token)
    response = RedirectResponse(f"{PREFIX}/signin", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response
