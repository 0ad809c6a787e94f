"""The one place where errors become HTTP answers, all in the shape of ``shapes.ErrorBody``.

Our own errors (``gateway.errors.SpawngateError``) carry their status, code and
headers; the framework's (invalid parameters, unknown path, wrong method, an
unparsable body) and anything unexpected are mapped to the same shape here.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.errors import DependencyError, FieldProblem, InvalidRequest, SpawngateError
from gateway.fronts.http.shapes import REQUEST_ID_HEADER, request_id_of

__all__ = ["error_response", "install_error_handlers"]

logger = logging.getLogger("spawngate.api")


def error_response(exc: SpawngateError, request_id: str | None) -> JSONResponse:
    body = exc.to_body()
    if request_id is not None:
        body["request_id"] = request_id
    return JSONResponse({"error": body}, status_code=exc.status, headers=exc.headers())


async def _spawngate_error(request: Request, exc: SpawngateError) -> JSONResponse:
    if isinstance(exc, DependencyError):
        # The answer names the dependency by role; the cause stays here.
        logger.warning(
            "request %s: %s failed: %s (cause: %r)",
            request_id_of(request),
            exc.dependency,
            exc.reason,
            exc.__cause__,
        )
    return error_response(exc, request_id_of(request))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [FieldProblem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
    fields = ", ".join(p["field"] for p in problems)
    return error_response(
        InvalidRequest(f"invalid parameters: {fields}", problems=problems, stage=None),
        request_id_of(request),
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # The framework's own answers (unknown path, wrong method, a body it could not
    # parse) in the one error shape; an unparsable body is a 422 like any other.
    if exc.status_code == 400:
        return error_response(
            InvalidRequest(
                f"invalid body: {exc.detail}",
                problems=[FieldProblem("body", str(exc.detail))],
                stage=None,
            ),
            request_id_of(request),
        )
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    body = {"code": code, "reason": str(exc.detail), "request_id": request_id_of(request)}
    return JSONResponse({"error": body}, status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request_id_of(request)
    logger.exception("request %s: unhandled error", request_id, exc_info=exc)
    return JSONResponse(
        {
            "error": {
                "code": "internal_error",
                "reason": "internal error; see the gateway log",
                "request_id": request_id,
            }
        },
        status_code=500,
        headers={REQUEST_ID_HEADER: request_id} if request_id else None,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.exception_handler(SpawngateError)(_spawngate_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(StarletteHTTPException)(_http_error)
    app.exception_handler(Exception)(_unexpected)
