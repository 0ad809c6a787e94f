"""Every route handler and dependency of the HTTP front is a coroutine function.

FastAPI runs a plain ``def`` handler or dependency in its thread pool: a thread
hop on every request. One such dependency (handing routes the runtime) cost the
gateway about 40% of its CPU under load (README "Benchmarks").
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

import gateway.fronts.http.routes as routes_package


def _routes() -> Iterator[APIRoute]:
    for info in pkgutil.iter_modules(routes_package.__path__):
        module = importlib.import_module(f"{routes_package.__name__}.{info.name}")
        router = getattr(module, "router", None)
        for route in getattr(router, "routes", []):
            if isinstance(route, APIRoute):
                yield route


def _calls(dependant: Dependant) -> Iterator[object]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def test_every_handler_and_dependency_is_async() -> None:
    routes = list(_routes())
    assert len(routes) >= 13  # every operation of tests/fronts/http/test_openapi.py
    blocking = sorted(
        f"{route.path}: {getattr(call, '__qualname__', call)}"
        for route in routes
        for call in _calls(route.dependant)
        if not inspect.iscoroutinefunction(call)
    )
    assert blocking == []
