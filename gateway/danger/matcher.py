"""Which signals to try on a text: one RE2 pass per detector family, Python for the rest.

Python's ``re`` has no literal prefix to skip to for patterns that open with
``\\b(`` and an alternation, so it would try every position of the text, for
every signal. The RE2 sets (prefilter.py) say which signals may occur at all;
only those are then run in Python, with the signal's exact pattern, to extract
evidence and check negation. The sets only *nominate*:

* they carry loosened patterns (``prefilter.loosened``): a superset, cheaper;
* a nominated signal whose literal prefixes (prefixes.py) do not occur in the
  text cannot match there: it is not scanned at all.

The defensive framing and the report cue are facts of the text, not
nominations: they are in the lexicon set with their exact patterns.

Measured and dropped: one set call over a whole proposal (its fields joined)
instead of one per field. The calls saved (~20 us per typical proposal) cost
far more in Python scans of signals nominated by another field (~150 us): a
scan that finds nothing is the expensive case for ``re``.
"""

from __future__ import annotations

from gateway.danger.clauses import REPORT_CUE
from gateway.danger.framing import DEFENSIVE
from gateway.danger.prefilter import PatternSets, loosened
from gateway.danger.prefixes import prefix_finder
from gateway.danger.signals import Signal

__all__ = ["Matcher"]


class Matcher:
    """A signal set ready to match: one RE2 set per detector family (the defensive
    framing and the report cue with the lexicon), and per signal the literal
    prefixes its matches start with."""

    def __init__(self, signals: tuple[Signal, ...]) -> None:
        self.signals = signals
        self.defensive_index = len(signals)
        self.cue_index = len(signals) + 1
        self._framing_indices = frozenset({self.defensive_index, self.cue_index})
        self._starts = tuple(prefix_finder(s.pattern.pattern) for s in signals)
        groups: dict[str, list[tuple[int, str]]] = {"lexicon": []}
        for index, signal in enumerate(signals):
            groups.setdefault(signal.family, []).append((index, loosened(signal.pattern.pattern)))
        groups["lexicon"].append((self.defensive_index, DEFENSIVE.pattern))
        groups["lexicon"].append((self.cue_index, REPORT_CUE.pattern))
        self._sets = PatternSets(list(groups.values()))

    def nominate(self, text: str) -> frozenset[int]:
        """The indices that may match in ``text`` (normalised): every signal that does,
        maybe a few more, and the framing and cue exactly."""
        return frozenset(self._sets.hits(text.encode("utf-8")))

    def framing(self, nominated: frozenset[int]) -> tuple[bool, bool]:
        """(defensive, cued): whether the text holds the defensive framing, the report cue."""
        return self.defensive_index in nominated, self.cue_index in nominated

    def signals_to_try(self, nominated: frozenset[int]) -> list[int]:
        return sorted(nominated - self._framing_indices)

    def start(self, index: int, text: str) -> int | None:
        """Where the scan for signal ``index`` begins in ``text`` (its first literal
        prefix), or None when no prefix occurs and so no match can."""
        finder = self._starts[index]
        if finder is None:
            return 0
        found = finder.search(text)
        return found.start() if found is not None else None
