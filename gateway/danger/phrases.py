"""The lexicon family: phrases of intent, kept as data in ``data/lexicon.toml``.

Each entry names a harm in a phrase ("send ... credentials", "ignore your
previous instructions"); the table is data so that a security engineer tunes
a phrase, a weight or a category without reading analyser code. It is read and
compiled once, when this module is imported, into the same immutable
``Signal`` tuple the other families (code, harm, injection, output) provide;
the offline analyzer then builds its RE2 sets over all of them.

A malformed table (an unknown key, category or fragment, a pattern that does
not compile) fails the import: the gateway does not start with half a lexicon.
"""

from __future__ import annotations

import re
import tomllib
from importlib.resources import files
from typing import Any

from gateway.danger.base import Category
from gateway.danger.signals import Signal, compile_lower

__all__ = ["LEXICON_SIGNALS", "parse_lexicon"]

#: ``${name}`` in a pattern inserts the fragment ``name`` (a shared synonym class).
#: ``$`` followed by ``{`` means nothing in a regex, so the syntax cannot clash.
_FRAGMENT = re.compile(r"\$\{(\w+)\}")
_SIGNAL_KEYS = frozenset({"category", "name", "weight", "dampable", "pattern"})


def _joined(value: Any, where: str) -> str:
    """A pattern or fragment: a list of string pieces joined without separator."""
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value) or not value:
        raise ValueError(f"{where}: expected a non-empty list of strings")
    return "".join(value)


def parse_lexicon(text: str) -> tuple[Signal, ...]:
    """The signals of a lexicon table (TOML text), in table order."""
    table = tomllib.loads(text)
    unknown = set(table) - {"fragments", "signal"}
    if unknown:
        raise ValueError(f"lexicon: unknown table(s) {sorted(unknown)}")
    fragments = {
        name: _joined(value, f"fragment {name}")
        for name, value in table.get("fragments", {}).items()
    }

    def expand(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fragments:
            raise ValueError(f"lexicon: unknown fragment ${{{name}}}")
        return fragments[name]

    signals: list[Signal] = []
    for entry in table.get("signal", []):
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"lexicon: a signal without a name: {entry!r}")
        if extra := set(entry) - _SIGNAL_KEYS:
            raise ValueError(f"lexicon signal {name}: unknown key(s) {sorted(extra)}")
        weight, dampable = entry.get("weight"), entry.get("dampable", True)
        if not isinstance(weight, float) or not 0.0 <= weight <= 1.0:
            raise ValueError(f"lexicon signal {name}: weight must be a number in [0, 1]")
        if not isinstance(dampable, bool):
            raise ValueError(f"lexicon signal {name}: dampable must be true or false")
        pattern = _FRAGMENT.sub(expand, _joined(entry.get("pattern"), f"signal {name}"))
        signals.append(
            Signal(
                Category(entry.get("category")),
                name,
                compile_lower(pattern),
                weight,
                dampable,
            )
        )
    return tuple(signals)


LEXICON_SIGNALS: tuple[Signal, ...] = parse_lexicon(
    files("gateway.danger").joinpath("data/lexicon.toml").read_text(encoding="utf-8")
)
