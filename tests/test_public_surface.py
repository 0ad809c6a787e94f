"""What ``gateway`` exports is a promise: changing it is a deliberate, visible act."""

from __future__ import annotations

import inspect

import pytest

import gateway
from gateway.admission.pipeline import Pipeline
from gateway.runtime import Gateway

SURFACE = {"AdmissionAnswer", "AgentKind", "Gateway", "Settings", "SpawngateError", "__version__"}


def test_the_package_exports_exactly_the_public_surface() -> None:
    assert set(gateway.__all__) == SURFACE


@pytest.mark.parametrize("name", sorted(SURFACE - {"__version__"}))
def test_every_exported_name_resolves_to_its_class(name: str) -> None:
    value = getattr(gateway, name)
    assert inspect.isclass(value) and value.__name__ == name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Pipeline'"):
        _ = gateway.Pipeline


def test_the_runtime_offers_what_every_front_uses() -> None:
    """Fronts build a Gateway, start it, admit, read, and stop it (ARCHITECTURE.md)."""
    # The runtime module's class: the lazy export is typed ``object`` for mypy.
    assert gateway.Gateway is Gateway
    fields = Gateway.__dataclass_fields__
    assert {"admission", "reads", "approvals_service", "settings"} <= set(fields)
    for method in ("build", "start", "stop"):
        assert callable(getattr(gateway.Gateway, method)), method
    admit = inspect.signature(Pipeline.admit)
    assert list(admit.parameters) == ["self", "kind", "body", "authorization", "idempotency_key"]
    assert admit.return_annotation in ("AdmissionAnswer", gateway.AdmissionAnswer)
