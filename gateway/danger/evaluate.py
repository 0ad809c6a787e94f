"""Measuring a scorer on a labelled corpus (``spawngate danger eval DIR``).

DIR holds ``benign.jsonl`` and ``malicious.jsonl``, one JSON object per line
with at least ``text`` and ``category`` (the format of shared/data/danger).
Each text is scored as the instructions of a new agent requested with no
tools, as the issue specifies.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from gateway.danger.base import Proposal, Scorer
from gateway.danger.llm import LlmReviewer, ReviewerUnavailable

__all__ = ["EvalReport", "Item", "SourceFigures", "SweepPoint", "auroc", "evaluate", "load_corpus"]


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    category: str
    malicious: bool
    #: The repository the text came from ("owner/repo"): the unit held out.
    source: str = "unknown"


class SourceFigures(BaseModel):
    """One held-out source: its own texts, judged against the rest of the corpus."""

    model_config = ConfigDict(frozen=True)

    malicious: int
    benign: int
    detection_rate: float | None
    false_positive_rate: float | None
    #: This source's malicious texts against every benign text, or (a benign-only
    #: source) every malicious text against this source's benign ones.
    auroc: float
    per_category: dict[str, float]


class SweepPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    threshold: float
    detection_rate: float
    false_positive_rate: float
    #: The worst held-out source at this threshold (lowest detection, highest FPR).
    worst_source_detection: float
    worst_source_false_positive_rate: float


class EvalReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    scorer: str
    threshold: float
    items: int
    detection_rate: float
    false_positive_rate: float
    auroc: float
    per_category: dict[str, float]
    benign_flagged_per_category: dict[str, float]
    mean_ms: float
    unavailable: int = 0
    #: Each category held out as a family: its malicious texts against all benign ones.
    per_category_auroc: dict[str, float] = {}
    per_source: dict[str, SourceFigures] = {}
    sweep: tuple[SweepPoint, ...] = ()


def repository(source: str) -> str:
    """ "owner/repo:path" -> "owner/repo": sources are held out by repository."""
    return source.split(":", 1)[0] or "unknown"


def load_corpus(directory: Path) -> list[Item]:
    items: list[Item] = []
    for name, malicious in (("malicious.jsonl", True), ("benign.jsonl", False)):
        path = directory / name
        if not path.is_file():
            raise ValueError(f"{directory} has no {name}")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                items.append(
                    Item(
                        str(row["text"]),
                        str(row.get("category", "unknown")),
                        malicious,
                        repository(str(row.get("source", "unknown"))),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a corpus line ({exc})") from exc
    return items


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability that a random malicious item outscores a random benign one (ties count half)."""
    if not positives or not negatives:
        return float("nan")
    ranked = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average_rank = (i + 1 + j) / 2  # 1-based ranks i+1 .. j
        rank_sum += average_rank * sum(1 for k in range(i, j) if ranked[k][1] == 1)
        i = j
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _proposal(text: str) -> Proposal:
    return Proposal(name="evaluated-agent", kind="agent", instructions=text)


async def evaluate(
    items: Sequence[Item],
    *,
    name: str,
    score: Callable[[Proposal], Awaitable[float]],
    threshold: float,
    progress: Callable[[int], None] | None = None,
) -> EvalReport:
    scores: list[float | None] = []
    elapsed = 0.0
    for index, item in enumerate(items):
        began = time.perf_counter()
        try:
            value: float | None = await score(_proposal(item.text))
        except ReviewerUnavailable:
            value = None
        elapsed += time.perf_counter() - began
        scores.append(value)
        if progress:
            progress(index + 1)
    scored = [(s, it) for s, it in zip(scores, items, strict=True) if s is not None]
    pos = [s for s, it in scored if it.malicious]
    neg = [s for s, it in scored if not it.malicious]
    per_cat: dict[str, list[bool]] = defaultdict(list)
    benign_cat: dict[str, list[bool]] = defaultdict(list)
    cat_scores: dict[str, list[float]] = defaultdict(list)
    for s, it in scored:
        (per_cat if it.malicious else benign_cat)[it.category].append(s >= threshold)
        if it.malicious:
            cat_scores[it.category].append(s)
    return EvalReport(
        scorer=name,
        threshold=threshold,
        items=len(items),
        detection_rate=_rate(pos, threshold),
        false_positive_rate=_rate(neg, threshold),
        auroc=round(auroc(pos, neg), 4),
        per_category={k: round(sum(v) / len(v), 4) for k, v in sorted(per_cat.items())},
        benign_flagged_per_category={
            k: round(sum(v) / len(v), 4) for k, v in sorted(benign_cat.items())
        },
        mean_ms=round(elapsed / max(1, len(items)) * 1000, 3),
        unavailable=sum(1 for s in scores if s is None),
        per_category_auroc={k: round(auroc(v, neg), 4) for k, v in sorted(cat_scores.items())},
        per_source=_per_source(scored, pos, neg, threshold),
        sweep=_sweep(scored),
    )


def _rate(values: Sequence[float], threshold: float) -> float:
    return round(sum(v >= threshold for v in values) / max(1, len(values)), 4)


def _by_source(scored: Sequence[tuple[float, Item]]) -> dict[str, list[tuple[float, Item]]]:
    groups: dict[str, list[tuple[float, Item]]] = defaultdict(list)
    for s, it in scored:
        groups[it.source].append((s, it))
    return dict(sorted(groups.items()))


def _per_source(
    scored: Sequence[tuple[float, Item]],
    pos: Sequence[float],
    neg: Sequence[float],
    threshold: float,
) -> dict[str, SourceFigures]:
    out: dict[str, SourceFigures] = {}
    for source, group in _by_source(scored).items():
        mal = [s for s, it in group if it.malicious]
        ben = [s for s, it in group if not it.malicious]
        cats: dict[str, list[bool]] = defaultdict(list)
        for s, it in group:
            if it.malicious:
                cats[it.category].append(s >= threshold)
        out[source] = SourceFigures(
            malicious=len(mal),
            benign=len(ben),
            detection_rate=_rate(mal, threshold) if mal else None,
            false_positive_rate=_rate(ben, threshold) if ben else None,
            auroc=round(auroc(mal, neg) if mal else auroc(pos, ben), 4),
            per_category={k: round(sum(v) / len(v), 4) for k, v in sorted(cats.items())},
        )
    return out


SWEEP = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _sweep(scored: Sequence[tuple[float, Item]]) -> tuple[SweepPoint, ...]:
    pos = [s for s, it in scored if it.malicious]
    neg = [s for s, it in scored if not it.malicious]
    groups = _by_source(scored).values()
    points = []
    for t in SWEEP:
        det = [
            _rate([s for s, it in g if it.malicious], t)
            for g in groups
            if any(i.malicious for _, i in g)
        ]
        fpr = [
            _rate([s for s, it in g if not it.malicious], t)
            for g in groups
            if any(not i.malicious for _, i in g)
        ]
        points.append(
            SweepPoint(
                threshold=t,
                detection_rate=_rate(pos, t),
                false_positive_rate=_rate(neg, t),
                worst_source_detection=min(det, default=0.0),
                worst_source_false_positive_rate=max(fpr, default=0.0),
            )
        )
    return tuple(points)


def scorer_function(scorer: Scorer) -> Callable[[Proposal], Awaitable[float]]:
    async def run(proposal: Proposal) -> float:
        report = await scorer.score(proposal)
        if report.reviewer_unavailable:
            raise ReviewerUnavailable("reviewer unavailable")
        return report.score

    return run


def reviewer_function(reviewer: LlmReviewer) -> Callable[[Proposal], Awaitable[float]]:
    async def run(proposal: Proposal) -> float:
        return (await reviewer.review(proposal)).score

    return run
