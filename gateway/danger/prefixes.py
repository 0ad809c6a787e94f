"""Where a signal's first match can start: the literal text every match begins with.

Python's ``re`` skips ahead to a literal prefix only when a pattern begins with
one; the signals begin with ``\\b(`` and an alternation, so on a long text
``finditer`` tries every position before the first match, which is most of the
analyzer's time (measured with callgrind on 5-20 KB proposals). Every match of
``\\b(ignor\\w*|disregard\\w*)...`` begins with "ignor" or "disregard", so no
match starts before the first of those in the text: the scan can begin there
(``finditer(text, pos)`` sees the text before ``pos`` for ``\\b``, so the
matches are the same ones).

The prefixes come from the pattern's parse tree (``re._parser``, the parser
``re.compile`` itself uses). Anything the walk does not understand gives no
prefix, and the scan begins at 0, as it always did.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

# The parser and opcodes re.compile uses (not in the type stubs: imported by name).
_parser: Any = importlib.import_module("re._parser")
c: Any = importlib.import_module("re._constants")

__all__ = ["prefix_finder"]

#: Longer prefixes are rarer in text; a few characters are selective enough.
_MAX_PREFIX = 6
#: Beyond this many alternatives the finder costs more than it saves.
_MAX_PREFIXES = 200


def _starts(items: list[tuple[Any, Any]]) -> set[str] | None:
    """The literal strings every match of this sequence starts with, or None."""
    prefix = ""
    for op, av in items:
        if op is c.AT and not prefix:
            continue  # zero-width (\b, ^): it only narrows where a match starts
        if op is c.LITERAL:
            prefix += chr(av)
            if len(prefix) >= _MAX_PREFIX:
                return {prefix}
            continue
        if prefix:
            return {prefix}
        if op is c.SUBPATTERN and not av[1] and not av[2]:
            return _starts(list(av[3]))
        if op is c.BRANCH:
            found: set[str] = set()
            for branch in av[1]:
                starts = _starts(list(branch))
                if not starts:
                    return None
                found |= starts
            return found
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1:
            return _starts(list(av[2]))
        return None
    return {prefix} if prefix else None


def prefix_finder(pattern: str) -> re.Pattern[str] | None:
    """A regex whose first match is at or before the first match of ``pattern``
    (an alternation of literals: ``re`` scans for those fast), or None."""
    starts = _starts(list(_parser.parse(pattern)))
    if not starts or len(starts) > _MAX_PREFIXES:
        return None
    return re.compile("|".join(re.escape(s) for s in sorted(starts)))
