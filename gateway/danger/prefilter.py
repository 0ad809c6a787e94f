"""Which signals occur in a text: RE2 sets, one linear pass per group of patterns.

Python's ``re`` has no literal prefix to skip to for patterns that open with
``\b(`` and an alternation, so it tries every position of the text, for every
signal. RE2 sets say which signals occur at all, in one pass per group; only
those are then run in Python, to extract evidence and check negation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["PatternSets"]

#: RE2's DFA cache: one set over every family thrashes it (falling back to the
#: slow NFA, ~1-7 ms per text), one set per family at this budget stays in the DFA.
_RE2_MAX_MEM = 64 << 20


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
