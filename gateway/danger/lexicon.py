"""Which lexicon alternatives are fitted to single texts (``spawngate danger lexicon DIR``).

A hand-written analyzer cannot be "held out" the way a trained model can; what
leaks from a development corpus into it is phrases. This splits every signal
pattern into its alternatives (each branch of each ``a|b|c``), specialises the
pattern to that one branch, and counts the corpus texts it then matches. An
alternative that matches exactly one development text, or only texts of one
source, most likely exists to match that text: a candidate for removal or for
generalisation, decided by a person reading the list.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gateway.danger.evaluate import Item

__all__ = ["Alternative", "Fit", "alternatives", "fits_per_family", "fitted"]


@dataclass(frozen=True, slots=True)
class Alternative:
    signal: str
    branch: str
    #: The signal's pattern narrowed to this one branch.
    specialised: str

    @property
    def phrase(self) -> bool:
        """A literal word or phrase (no nested choice, no gap): what "phrase fitting" means."""
        return "(" not in self.branch and "[^" not in self.branch and "{" not in self.branch


def _body_start(pattern: str, i: int) -> int:
    """Index after "(" and any group prefix ("?:", "?=", "?<!", "?P<name>")."""
    if pattern[i + 1 : i + 2] != "?":
        return i + 1
    if pattern[i + 2 : i + 4] in ("<=", "<!"):
        return i + 4
    if pattern[i + 2 : i + 4] == "P<":
        return pattern.index(">", i) + 1
    return i + 3


def _spans(pattern: str) -> list[tuple[int, int, list[int]]]:
    """(body start, body end, positions of its top-level "|") for each group and the whole."""
    out: list[tuple[int, int, list[int]]] = []
    stack: list[tuple[int, list[int]]] = [(0, [])]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            j = i + 1
            if pattern[j : j + 1] == "^":
                j += 1
            if pattern[j : j + 1] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if c == "(":
            start = _body_start(pattern, i)
            stack.append((start, []))
            i = start
            continue
        if c == ")":
            start, bars = stack.pop()
            out.append((start, i, bars))
        elif c == "|":
            stack[-1][1].append(i)
        i += 1
    start, bars = stack.pop()
    out.append((start, len(pattern), bars))
    return out


def alternatives(signal: str, pattern: str) -> list[Alternative]:
    found: list[Alternative] = []
    for start, end, bars in _spans(pattern):
        if not bars:
            continue
        cuts = [start - 1, *bars, end]
        for a, b in itertools.pairwise(cuts):
            branch = pattern[a + 1 : b]
            found.append(Alternative(signal, branch, pattern[:start] + branch + pattern[end:]))
    return found


@dataclass(frozen=True, slots=True)
class Fit:
    alternative: Alternative
    malicious: int
    benign: int
    sources: tuple[str, ...]


def fitted(
    lexicon: Iterable[tuple[str, str]],
    items: Sequence[Item],
    *,
    at_most: int = 1,
    phrases_only: bool = True,
) -> list[Fit]:
    """Alternatives matching between 1 and ``at_most`` texts of the corpus.

    A branch inside a narrow signal inherits the signal's narrowness (every word
    of a signal that fires once "fires once"), so by default only literal
    phrases are listed; ``phrases_only=False`` lists every alternative."""
    lowered = [(it.text.lower(), it) for it in items]
    out: list[Fit] = []
    for signal, pattern in lexicon:
        for alt in alternatives(signal, pattern):
            if phrases_only and not alt.phrase:
                continue
            compiled = re.compile(alt.specialised)
            hits = [it for text, it in lowered if compiled.search(text)]
            if 1 <= len(hits) <= at_most:
                out.append(
                    Fit(
                        alt,
                        sum(it.malicious for it in hits),
                        sum(not it.malicious for it in hits),
                        tuple(sorted({it.source for it in hits})),
                    )
                )
    return out


def fits_per_family(fits: Iterable[Fit]) -> dict[str, int]:
    """How many fits each signal family has (``family:name`` signals; ``lexicon`` for
    the unprefixed ones), sorted by family."""
    counts: dict[str, int] = {}
    for f in fits:
        signal = f.alternative.signal
        family = signal.partition(":")[0] if ":" in signal else "lexicon"
        counts[family] = counts.get(family, 0) + 1
    return dict(sorted(counts.items()))
