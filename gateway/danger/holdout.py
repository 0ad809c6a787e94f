"""Held-out figures for a hand-written analyzer (``spawngate danger eval DIR --held-out``).

A trained model is held out by not training on a source; a hand-written one has
been read against every source, so its figures on the development corpus are
in-sample. What a source leaks into the rules is alternatives: a branch of an
``a|b|c`` that only that source's texts ever match. To hold a group out (a
source repository, or a category as a whole family), every alternative whose
corpus matches all lie inside the group is cut from its pattern, as if the
rules had been written without ever seeing that group, and the group's texts
are scored by an analyzer built from what is left.

This is a pessimistic bound, the in-sample figures an optimistic one: an
alternative that matches one source's texts may well be general ("shutil.rmtree"
is in the issue, not only in one corpus), and a rule shaped after reading a
text can still match it through alternatives other texts share.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable, Sequence

from gateway.danger.base import Proposal
from gateway.danger.evaluate import Item, auroc
from gateway.danger.lexicon import _spans
from gateway.danger.offline import SIGNALS, OfflineAnalyzer
from gateway.danger.signals import Signal, compile_lower

__all__ = ["HeldOut", "ablate", "exclusive_alternatives", "held_out"]

#: A cut branch is replaced by a class that matches nothing (RE2 has no ``(?!)``):
#: the groups and their other branches stay where they were.
_NEVER = r"[^\s\S]"


def ablate(pattern: str, cut: set[tuple[int, int]]) -> str:
    """``pattern`` with the branches ``cut`` never matching (each cut as
    (group body start, branch index))."""
    spans: list[tuple[int, int]] = []
    for start, end, bars in _spans(pattern):
        cuts = [start - 1, *bars, end]
        for i in range(len(cuts) - 1):
            if bars and (start, i) in cut:
                spans.append((cuts[i] + 1, cuts[i + 1]))
    # A cut inside a cut branch is already gone; the rest do not overlap and are
    # replaced right to left, so the positions to their left stay valid.
    outer = [s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)]
    out = pattern
    for a, b in sorted(outer, reverse=True):
        out = out[:a] + _NEVER + out[b:]
    return out


def _alternatives(pattern: str) -> list[tuple[tuple[int, int], str]]:
    """((group body start, branch index), the pattern narrowed to that branch)."""
    found = []
    for start, end, bars in _spans(pattern):
        if not bars:
            continue
        cuts = [start - 1, *bars, end]
        for i in range(len(cuts) - 1):
            branch = pattern[cuts[i] + 1 : cuts[i + 1]]
            found.append(((start, i), pattern[:start] + branch + pattern[end:]))
    return found


def exclusive_alternatives(
    signals: Sequence[Signal], items: Sequence[Item], group: Callable[[Item], str]
) -> dict[str, dict[int, set[tuple[int, int]]]]:
    """Per group, per signal index: the alternatives whose corpus matches all lie in the group."""
    texts = [(it.text.lower(), group(it)) for it in items]
    out: dict[str, dict[int, set[tuple[int, int]]]] = defaultdict(lambda: defaultdict(set))
    for index, signal in enumerate(signals):
        # A branch matches only where its whole signal does: test it there alone.
        hit = [(text, g) for text, g in texts if signal.pattern.search(text)]
        for key, specialised in _alternatives(signal.pattern.pattern) if hit else ():
            compiled = re.compile(specialised)
            groups = {g for text, g in hit if compiled.search(text)}
            if len(groups) == 1:
                out[groups.pop()][index].add(key)
    return out


def _without(
    signals: Sequence[Signal], cuts: dict[int, set[tuple[int, int]]]
) -> tuple[Signal, ...]:
    return tuple(
        dataclasses.replace(s, pattern=compile_lower(ablate(s.pattern.pattern, cuts[i])))
        if cuts.get(i)
        else s
        for i, s in enumerate(signals)
    )


@dataclasses.dataclass(frozen=True, slots=True)
class HeldOut:
    group: str
    cut: int
    malicious: int
    benign: int
    detection_rate: float | None
    false_positive_rate: float | None
    #: (score, malicious?) of every text of the group, scored held out.
    scores: tuple[tuple[float, bool], ...]


def held_out(
    items: Sequence[Item], group: Callable[[Item], str], *, threshold: float
) -> tuple[list[HeldOut], float, float, float]:
    """Each group scored by an analyzer without the alternatives only it matches;
    returns the groups and the pooled detection, false-positive rate and AUROC."""
    exclusive = exclusive_alternatives(SIGNALS, items, group)
    members: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        members[group(it)].append(it)
    results: list[HeldOut] = []
    for name, its in sorted(members.items()):
        cuts = exclusive.get(name, {})
        analyzer = OfflineAnalyzer(_without(SIGNALS, cuts)) if cuts else OfflineAnalyzer()
        scores = tuple(
            (
                analyzer.report(
                    Proposal(name="evaluated-agent", kind="agent", instructions=it.text)
                ).score,
                it.malicious,
            )
            for it in its
        )
        mal = [s for s, m in scores if m]
        ben = [s for s, m in scores if not m]
        results.append(
            HeldOut(
                name,
                sum(len(v) for v in cuts.values()),
                len(mal),
                len(ben),
                _rate(mal, threshold),
                _rate(ben, threshold),
                scores,
            )
        )
    pos = [s for r in results for s, m in r.scores if m]
    neg = [s for r in results for s, m in r.scores if not m]
    return (
        results,
        _rate(pos, threshold) or 0.0,
        _rate(neg, threshold) or 0.0,
        round(auroc(pos, neg), 4),
    )


def _rate(values: Sequence[float], threshold: float) -> float | None:
    return round(sum(v >= threshold for v in values) / len(values), 4) if values else None
