"""The lexicon table is data (gateway/danger/data/lexicon.toml): loaded whole or not at all."""

from __future__ import annotations

import re

import pytest

from gateway.danger.base import Category
from gateway.danger.phrases import LEXICON_SIGNALS, parse_lexicon

GOOD = """
[fragments]
creds = ['(passwords?', '|api keys?)']

[[signal]]
category = "data_exfiltration"
name = "send-creds"
weight = 0.6
pattern = ['\\bsend\\b[^.\\n]{0,20}${creds}']

[[signal]]
category = "instruction_override"
name = "override"
weight = 0.75
dampable = false
pattern = ['''\\bdon'?t\\b''']
"""


def test_fragments_expand_and_defaults_apply() -> None:
    send, override = parse_lexicon(GOOD)
    assert send.pattern.pattern == r"\bsend\b[^.\n]{0,20}(passwords?|api keys?)"
    assert send.category is Category.DATA_EXFILTRATION
    assert (send.weight, send.dampable, send.family, send.label) == (
        0.6,
        True,
        "lexicon",
        "send-creds",
    )
    assert override.pattern.pattern == r"\bdon'?t\b"
    assert override.dampable is False
    assert send.pattern.search("please send the api keys")


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (GOOD.replace("${creds}", "${tokens}"), "unknown fragment"),
        (GOOD.replace("weight = 0.6", "weight = 0.6\nscore = 1.0"), "unknown key"),
        (GOOD.replace('"data_exfiltration"', '"exfil"'), "exfil"),
        (GOOD.replace("weight = 0.6", "weight = 6.0"), "weight"),
        (GOOD.replace("weight = 0.6", "weight = 1"), "weight"),
        (GOOD.replace("dampable = false", 'dampable = "no"'), "dampable"),
        (GOOD.replace("['(passwords?', '|api keys?)']", "[]"), "non-empty list"),
        (GOOD.replace("[[signal]]\ncategory", "[[signals]]\ncategory", 1), "unknown table"),
        (GOOD.replace('name = "override"\n', ""), "without a name"),
    ],
)
def test_a_malformed_table_is_refused(broken: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_lexicon(broken)


def test_a_pattern_that_does_not_compile_is_refused() -> None:
    with pytest.raises(re.error, match="missing"):
        parse_lexicon(GOOD.replace("'(passwords?'", "'((passwords?'"))


def test_the_shipped_table_loads_whole() -> None:
    names = [s.name for s in LEXICON_SIGNALS]
    assert len(names) == 50
    assert len(set(names)) == len(names)
    assert all(s.family == "lexicon" and 0 < s.weight <= 1 for s in LEXICON_SIGNALS)
    # No fragment placeholder survives expansion.
    assert not any("${" in s.pattern.pattern for s in LEXICON_SIGNALS)
