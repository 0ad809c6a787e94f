"""Offline danger analysis micro-benchmark: figures, not assertions.

Run with ``.venv/bin/python bench/bench_danger.py [CORPUS_DIR]``.

Two workloads built from the danger corpus (``../shared/data/danger`` by
default), each a list of proposals shaped like the ones the admission stage
sends (``gateway/admission/stages/danger.py``):

- typical: name, role, instructions, expertise, justification, tools, one
  corpus text per field (a few hundred bytes in all);
- long: the same with 5 to 20 KB of instructions (corpus texts joined).

Every proposal is scored once to warm the analyzer (compiled patterns,
caches), then each ``report()`` is timed on its own with ``perf_counter_ns``,
``--rounds`` times over the list. Printed: mean, p50 and p99 per request in
microseconds. The machine is shared: compare runs made back to back.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.danger.base import DangerReport, Proposal  # noqa: E402
from gateway.danger.evaluate import load_corpus  # noqa: E402
from gateway.danger.offline import OfflineAnalyzer  # noqa: E402

TOOL_SETS: tuple[tuple[str, ...], ...] = (
    (),
    ("web_search",),
    ("file_read", "shell"),
    ("email_read", "web_fetch", "http_post"),
    ("create_agent",),
)


def typical(texts: Sequence[str], count: int, seed: int = 12) -> list[Proposal]:
    rng = random.Random(seed)
    return [
        Proposal(
            name=f"agent-{i}",
            kind="agent",
            role=rng.choice(texts)[:120],
            instructions=rng.choice(texts),
            expertise=rng.choice(texts)[:200],
            justification=rng.choice(texts)[:200],
            tools=TOOL_SETS[i % len(TOOL_SETS)],
        )
        for i in range(count)
    ]


def long(texts: Sequence[str], count: int, seed: int = 13) -> list[Proposal]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        target = rng.randint(5_000, 20_000)
        parts: list[str] = []
        size = 0
        while size < target:
            parts.append(rng.choice(texts))
            size += len(parts[-1]) + 1
        out.append(
            Proposal(
                name=f"long-{i}",
                kind="agent",
                role="Research assistant",
                instructions="\n".join(parts),
                justification=rng.choice(texts)[:200],
                tools=TOOL_SETS[i % len(TOOL_SETS)],
            )
        )
    return out


def measure(
    report: Callable[[Proposal], DangerReport], proposals: Sequence[Proposal], rounds: int
) -> list[float]:
    """Microseconds per report(), every proposal of every round timed on its own."""
    for p in proposals:
        report(p)  # warm
    samples: list[float] = []
    for _ in range(rounds):
        for p in proposals:
            began = time.perf_counter_ns()
            report(p)
            samples.append((time.perf_counter_ns() - began) / 1000)
    return samples


def summary(samples: Sequence[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"mean {statistics.fmean(samples):8.1f} µs  p50 {p50:8.1f} µs  p99 {p99:8.1f} µs  (n={len(samples)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("corpus", nargs="?", type=Path, default=ROOT.parent / "shared/data/danger")
    parser.add_argument("--count", type=int, default=200, help="typical proposals per round")
    parser.add_argument("--long-count", type=int, default=40, help="long proposals per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    texts = [item.text for item in load_corpus(args.corpus)]
    analyzer = OfflineAnalyzer()
    workloads = {
        "typical": typical(texts, args.count),
        "long": long(texts, args.long_count),
    }
    for name, proposals in workloads.items():
        size = statistics.fmean(sum(len(t) for t in p.texts().values()) for p in proposals)
        samples = measure(analyzer.report, proposals, args.rounds)
        print(f"{name:8s} ({size / 1000:5.1f} KB of text)  {summary(samples)}")


if __name__ == "__main__":
    main()
