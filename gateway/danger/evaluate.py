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

__all__ = ["EvalReport", "Item", "auroc", "evaluate", "load_corpus"]


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    category: str
    malicious: bool


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
                items.append(Item(str(row["text"]), str(row.get("category", "unknown")), malicious))
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
    pos = [s for s, it in zip(scores, items, strict=True) if it.malicious and s is not None]
    neg = [s for s, it in zip(scores, items, strict=True) if not it.malicious and s is not None]
    per_cat: dict[str, list[bool]] = defaultdict(list)
    benign_cat: dict[str, list[bool]] = defaultdict(list)
    for s, it in zip(scores, items, strict=True):
        if s is None:
            continue
        (per_cat if it.malicious else benign_cat)[it.category].append(s >= threshold)
    return EvalReport(
        scorer=name,
        threshold=threshold,
        items=len(items),
        detection_rate=round(sum(s >= threshold for s in pos) / max(1, len(pos)), 4),
        false_positive_rate=round(sum(s >= threshold for s in neg) / max(1, len(neg)), 4),
        auroc=round(auroc(pos, neg), 4),
        per_category={k: round(sum(v) / len(v), 4) for k, v in sorted(per_cat.items())},
        benign_flagged_per_category={
            k: round(sum(v) / len(v), 4) for k, v in sorted(benign_cat.items())
        },
        mean_ms=round(elapsed / max(1, len(items)) * 1000, 3),
        unavailable=sum(1 for s in scores if s is None),
    )


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
