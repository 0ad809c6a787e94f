"""``spawngate danger``: measure the offline and LLM scorers on a labelled corpus."""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.fronts.cli.common import load_settings

__all__ = ["danger_app"]

danger_app = typer.Typer(
    help="Danger scoring: evaluate scorers on a labelled corpus.", no_args_is_help=True
)


class EvalScorer(StrEnum):
    OFFLINE = "offline"
    LLM = "llm"
    COMBINED = "combined"


class EvalBreakdown(StrEnum):
    CATEGORY = "category"
    SOURCE = "source"


class HeldOutUnit(StrEnum):
    NONE = "none"
    SOURCE = "source"
    CATEGORY = "category"


@danger_app.command("eval")
def danger_eval(
    directory: Annotated[
        Path, typer.Argument(help="Folder with benign.jsonl and malicious.jsonl.")
    ],
    scorer: Annotated[
        EvalScorer, typer.Option(help="offline, llm (reviewer alone) or combined.")
    ] = EvalScorer.OFFLINE,
    threshold: Annotated[
        float, typer.Option(min=0, max=1, help="Flag at or above this score.")
    ] = 0.30,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    by: Annotated[
        EvalBreakdown,
        typer.Option(help="Break figures down by category, or by held-out source repository."),
    ] = EvalBreakdown.CATEGORY,
    held_out: Annotated[
        HeldOutUnit,
        typer.Option(
            "--held-out",
            help="Offline only: score each source (or harmful category) with the rule "
            "alternatives only it matches cut out (gateway/danger/holdout.py).",
        ),
    ] = HeldOutUnit.NONE,
) -> None:
    """Detection rate, false-positive rate, AUROC, per-category recall and latency of a scorer.

    `--by source` shows each source repository held out: its detection, false
    positives and AUROC against the rest, the worst source across a threshold sweep."""
    from gateway.danger.evaluate import evaluate, load_corpus, reviewer_function, scorer_function
    from gateway.danger.llm import CombinedScorer
    from gateway.danger.offline import OfflineAnalyzer
    from gateway.runtime import build_reviewer

    try:
        items = load_corpus(directory)
    except ValueError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    if held_out is not HeldOutUnit.NONE:
        _print_held_out(items, held_out, threshold)
        return
    if scorer is EvalScorer.OFFLINE:
        score = scorer_function(OfflineAnalyzer())
    else:
        settings = load_settings(scorer="llm")
        reviewer = build_reviewer(settings, store=None)
        score = (
            reviewer_function(reviewer)
            if scorer is EvalScorer.LLM
            else scorer_function(CombinedScorer(OfflineAnalyzer(), reviewer))
        )

    async def run() -> Any:
        if as_json or not sys.stderr.isatty():
            return await evaluate(items, name=scorer.value, score=score, threshold=threshold)
        with typer.progressbar(
            length=len(items), label=f"scoring ({scorer.value})", file=sys.stderr
        ) as bar:
            done = [0]

            def tick(n: int) -> None:
                bar.update(n - done[0])
                done[0] = n

            return await evaluate(
                items, name=scorer.value, score=score, threshold=threshold, progress=tick
            )

    report = asyncio.run(run())
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    typer.echo(
        f"scorer {report.scorer}  threshold {report.threshold}  items {report.items}"
        + (f"  unavailable {report.unavailable}" if report.unavailable else "")
    )
    typer.echo(f"  detection rate       {report.detection_rate:.1%}")
    typer.echo(f"  false-positive rate  {report.false_positive_rate:.1%}")
    typer.echo(f"  AUROC                {report.auroc:.3f}")
    typer.echo(f"  mean latency         {report.mean_ms:.3f} ms/item")
    typer.echo("  recall per category:")
    for category, value in report.per_category.items():
        typer.echo(f"    {category:40s} {value:.1%}")
    typer.echo("  benign flagged per category:")
    for category, value in report.benign_flagged_per_category.items():
        typer.echo(f"    {category:40s} {value:.1%}")
    typer.echo("  AUROC per category (held out as a family, against all benign):")
    for category, value in report.per_category_auroc.items():
        typer.echo(f"    {category:40s} {value:.3f}")
    if by is EvalBreakdown.SOURCE:
        typer.echo("  per held-out source (repository): malicious/benign, detection, FPR, AUROC")
        for source, f in report.per_source.items():
            det = "-" if f.detection_rate is None else f"{f.detection_rate:.1%}"
            fpr = "-" if f.false_positive_rate is None else f"{f.false_positive_rate:.1%}"
            counts = f"{f.malicious:3d}/{f.benign:<3d}"
            typer.echo(f"    {source:40s} {counts} {det:>7s} {fpr:>7s} {f.auroc:.3f}")
            for category, value in f.per_category.items():
                typer.echo(f"      {category:38s} {value:.1%}")
    typer.echo("  threshold sweep: detection, FPR, worst source detection, worst source FPR")
    for p in report.sweep:
        typer.echo(
            f"    {p.threshold:4.2f}  {p.detection_rate:6.1%} {p.false_positive_rate:6.1%}"
            f"  {p.worst_source_detection:6.1%} {p.worst_source_false_positive_rate:6.1%}"
        )


def _print_held_out(items: Any, unit: HeldOutUnit, threshold: float) -> None:
    from gateway.danger.holdout import held_out

    def group(item: Any) -> str:
        if unit is HeldOutUnit.SOURCE or not item.malicious:
            return str(item.source)
        return str(item.category)

    results, det, fpr, area = held_out(items, group, threshold=threshold)
    typer.echo(f"held out by {unit.value}  threshold {threshold}  items {len(items)}")
    typer.echo(f"  detection rate       {det:.1%}")
    typer.echo(f"  false-positive rate  {fpr:.1%}")
    typer.echo(f"  AUROC                {area:.3f}")
    typer.echo("  per held-out group: alternatives cut, malicious/benign, detection, FPR")
    for r in results:
        d = "-" if r.detection_rate is None else f"{r.detection_rate:.1%}"
        f = "-" if r.false_positive_rate is None else f"{r.false_positive_rate:.1%}"
        typer.echo(f"    {r.group:40s} {r.cut:5d} {r.malicious:3d}/{r.benign:<3d} {d:>7s} {f:>7s}")


@danger_app.command("lexicon")
def danger_lexicon(
    directory: Annotated[
        Path, typer.Argument(help="Folder with benign.jsonl and malicious.jsonl.")
    ],
    at_most: Annotated[
        int, typer.Option(min=1, help="List phrases matching at most this many texts.")
    ] = 1,
) -> None:
    """Offline-analyzer phrases that match only one (or a few) corpus texts: fitted, not general.

    In the synonym-class families (harm, injection ...) a word of a class inside
    a narrow rule fires rarely by design; the phrase families are where a
    one-text phrase means a fit."""
    from gateway.danger.evaluate import load_corpus
    from gateway.danger.lexicon import fits_per_family, fitted
    from gateway.danger.offline import lexicon

    try:
        items = load_corpus(directory)
    except ValueError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    fits = fitted(lexicon(), items, at_most=at_most)
    for f in fits:
        typer.echo(
            f"{f.alternative.signal:30s} malicious {f.malicious} benign {f.benign}  "
            f"{f.alternative.branch!r}  {', '.join(f.sources)}"
        )
    per_family = fits_per_family(fits)
    typer.echo(
        f"{len(fits)} phrase(s) match at most {at_most} text(s): "
        + ", ".join(f"{family} {n}" for family, n in per_family.items())
    )
