"""The rego-cpp input builder hands the interpreter exactly what regopy.Input does."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any

import pytest
import regopy

from gateway.policy.rego_input import to_rego_input
from tests.policy.cases import CASES


class _Colour(StrEnum):
    RED = "red"


class _Level(IntEnum):
    HIGH = 3


def _seen(rego: Any, value: Any) -> str:
    rego.set_input(value)
    return str(rego.query("x := input"))


ODD: list[dict[str, Any]] = [
    {"empty": {}, "none": None, "list": [], "nested": [[{}], [[]]]},
    {"unicode": "é ✓ 漢字"},
    {"big": 2**62, "neg": -7, "float": 2.5, "zero": 0.0, "true": True, "false": False},
    {"set": {"b", "a"}, "tuple": (1, "two", None)},
    {"enum_str": _Colour.RED, "enum_int": _Level.HIGH},
]


@pytest.mark.parametrize("document", [c.document() for c in CASES] + ODD)
def test_same_document_as_regopy_input(document: dict[str, Any]) -> None:
    rego = regopy.Interpreter()
    assert _seen(rego, to_rego_input(document)) == _seen(rego, regopy.Input(document))


def test_escapes_arrive_intact() -> None:
    # regopy cannot print an answer holding a raw newline or quote, so compare inside Rego.
    rego = regopy.Interpreter()
    rego.set_input(to_rego_input({"text": 'a\nb\tc "q" \\ z'}))
    assert str(rego.query('x := input.text == "a\\nb\\tc \\"q\\" \\\\ z"')).startswith(
        '{"expressions":[true]'
    )


def test_a_value_json_does_not_have_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot convert a object"):
        to_rego_input({"x": object()})


def test_the_input_outlives_the_document_it_was_built_from() -> None:
    rego = regopy.Interpreter()
    document = {"name": "a" * 1000}
    built = to_rego_input(document)
    document["name"] = "changed"
    del document
    assert '"' + "a" * 1000 + '"' in _seen(rego, built)
