"""Which signals occur in a text: RE2 sets, one linear pass per group of patterns.

Python's ``re`` has no literal prefix to skip to for patterns that open with
``\b(`` and an alternation, so it tries every position of the text, for every
signal. RE2 sets say which signals occur at all, in one pass per group; only
those are then run in Python, to extract evidence and check negation.

A set only has to *nominate* signals: Python's ``re`` decides. So a set may
carry a looser pattern than the signal's, as long as it matches wherever the
signal does (``loosened``): the findings are the same, the set is cheaper.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["PatternSets", "loosened"]

#: RE2's DFA cache: one set over every family thrashes it (falling back to the
#: slow NFA, ~1-7 ms per text), one set per family at this budget stays in the DFA.
_RE2_MAX_MEM = 64 << 20

#: A bounded repeat ``{m,n}`` / ``{m,}`` (lazy or not) right where a quantifier may stand.
_BOUNDED = re.compile(r"\{(\d+),(\d*)\}")


_LOOKAROUNDS = ("(?=", "(?!", "(?<=", "(?<!")


def _group_end(pattern: str, i: int) -> int:
    """The index after the group opening at ``i`` (escapes and classes skipped)."""
    depth = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = _class_end(pattern, i)
            continue
        depth += (ch == "(") - (ch == ")")
        i += 1
        if depth == 0:
            return i
    return i


def _class_end(pattern: str, i: int) -> int:
    """The index after the character class opening at ``i``."""
    j = i + 1
    j += pattern[j : j + 1] == "^"
    j += pattern[j : j + 1] == "]"
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def loosened(pattern: str) -> str:
    """``pattern`` with every bounded repeat unbounded (``{0,n}`` -> ``*``, ``{m,n}`` ->
    ``+``): it matches wherever ``pattern`` does, and more.

    Why: a gap such as ``[^.\n]{0,40}`` between two words makes a DFA remember at
    which of the last 40 positions the first word ended, many states per gap,
    and a set of fifty such patterns no longer fits the CPU caches (measured:
    the sets cost ~3x more run one after another than each alone). ``[^.\n]*``
    is one state. The extra nominations (a second word 200 characters on) are
    rare and are then rejected by the exact pattern in Python.
    Lookarounds (``(?!...)``, ``(?<=...)``), which RE2 does not have, are dropped:
    matching without a condition is matching more.
    Escapes and character classes are copied as they are (``{`` is literal there)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if pattern.startswith(_LOOKAROUNDS, i):
            i = _group_end(pattern, i)
            continue
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[":
            j = _class_end(pattern, i)
            out.append(pattern[i:j])
            i = j
            continue
        bounded = _BOUNDED.match(pattern, i) if ch == "{" and out else None
        if bounded is not None:
            out.append("*" if bounded.group(1) == "0" else "+")
            i = bounded.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class PatternSets:
    """RE2 sets over groups of patterns (one linear pass per group), each pattern
    known by the index it was given."""

    def __init__(self, groups: Sequence[Sequence[tuple[int, str]]]) -> None:
        import re2

        self._sets: list[tuple[Any, tuple[int, ...]]] = []
        for group in groups:
            options = re2.Options()
            options.max_mem = _RE2_MAX_MEM
            matcher = re2.Set.SearchSet(options)
            for _, pattern in group:
                matcher.Add(pattern)
            matcher.Compile()
            # The set copies its options (measured: changing max_mem after building
            # the set changes nothing). The 870 MB once blamed on them was two C++
            # allocators mixed in one process (see gateway/__init__.py).
            self._sets.append((matcher, tuple(index for index, _ in group)))

    def hits(self, data: bytes) -> set[int]:
        """The indices of the patterns found in ``data`` (UTF-8: encoded once for every set)."""
        return {
            indices[local] for matcher, indices in self._sets for local in matcher.Match(data) or ()
        }
