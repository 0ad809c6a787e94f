"""The web console at ``/console``: server-rendered pages for admins, approvers and
auditors (Settings, Approvals, Templates, Logs, an overview), over the same
services and Casbin policy as the API. README "Web console" describes it.

``install(app)`` adds its routes (kept out of the OpenAPI document) and its
static files (the vendored htmx, the stylesheet).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gateway.fronts.console import (
    approvals,
    logs,
    overview,
    settings_page,
    signin,
    templates_edit,
    templates_page,
)
from gateway.fronts.console.web import PREFIX

__all__ = ["install"]

# templates_edit before templates_page: /templates/new is not a template's name.
ROUTERS = (signin, overview, approvals, logs, settings_page, templates_edit, templates_page)


def install(app: FastAPI) -> None:
    for module in ROUTERS:
        app.include_router(module.router)
    app.mount(
        f"{PREFIX}/static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="console-static",
    )
