"""``spawngate policy``: test, check, stamp, replay and compare policy revisions."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.fronts.cli.common import load_records, load_settings

__all__ = ["policy_app"]

policy_app = typer.Typer(help="Policy workflow for security teams.", no_args_is_help=True)


@policy_app.command("test")
def policy_test(
    policies: Annotated[
        Path | None, typer.Option(help="Policies directory (default: the configured one).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List passing tests too.")
    ] = False,
) -> None:
    """Run every Rego unit test and the Casbin truth table; exit 1 on any failure."""
    from gateway.policy.files import load_policy_files
    from gateway.policy.tooling.testing import run_casbin_tests, run_rego_tests

    root = policies or load_settings().policies_dir
    try:
        rego = run_rego_tests(load_policy_files(root))
        casbin = run_casbin_tests(root)
    except ValueError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    failed = 0
    for r in rego:
        if not r.passed:
            failed += 1
            typer.secho(f"FAIL {r.location} {r.package}.{r.name}: {r.error}", fg=typer.colors.RED)
        elif verbose:
            typer.echo(f"PASS {r.location} {r.package}.{r.name}")
    for c in casbin:
        if not c.passed:
            failed += 1
            typer.secho(
                f"FAIL {c.location} ({c.request}): expected {'allow' if c.expected else 'deny'}, "
                f"got {'allow' if c.actual else 'deny'} (rule: {c.rule or 'none'})",
                fg=typer.colors.RED,
            )
        elif verbose:
            typer.echo(f"PASS {c.location} ({c.request})")
    total = len(rego) + len(casbin)
    typer.echo(f"{total - failed} passed, {failed} failed")
    raise typer.Exit(1 if failed else 0)


@policy_app.command("check")
def policy_check(
    policies: Annotated[
        Path | None, typer.Option(help="Policies directory (default: the configured one).")
    ] = None,
    templates: Annotated[
        Path | None, typer.Option(help="Templates directory (default: the configured one).")
    ] = None,
) -> None:
    """Compile every policy, data, template and Casbin file; report problems as file:line."""
    from gateway.policy.tooling.check import check_policies

    settings = load_settings()
    problems, revision = check_policies(
        policies or settings.policies_dir, templates or settings.templates_dir
    )
    for problem in problems:
        typer.secho(str(problem), fg=typer.colors.RED)
    if problems:
        typer.echo(f"{len(problems)} problem(s)")
        raise typer.Exit(1)
    typer.echo(f"policies OK (revision {revision})")


@policy_app.command("manifest")
def policy_manifest(
    policies: Annotated[
        Path | None, typer.Option(help="Policies directory (default: the configured one).")
    ] = None,
) -> None:
    """Write policies/.manifest with the revision, so an OPA server reports the same one."""
    from gateway.policy.snapshot import revision_of

    settings = load_settings()
    root = policies or settings.policies_dir
    revision = revision_of(root, settings.templates_dir)
    (root / ".manifest").write_text(json.dumps({"revision": revision}) + "\n", encoding="utf-8")
    typer.echo(f"{root / '.manifest'}: revision {revision}")


@policy_app.command("replay")
def policy_replay(
    policies: Annotated[Path, typer.Option(help="The candidate policies directory.")],
    templates: Annotated[
        Path | None, typer.Option(help="Candidate templates (default: the configured ones).")
    ] = None,
    records: Annotated[
        Path | None,
        typer.Option(help="Decision records as JSON lines (default: the decision log in Redis)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only decisions at or after this ISO time.")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's decisions.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (for CI).")
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(min=0, help="Worker processes re-deciding records (0: one per CPU)."),
    ] = 0,
) -> None:
    """Re-decide recorded decisions under candidate policies and show every verdict change."""
    from gateway.policy.snapshot import PolicyRejected
    from gateway.policy.tooling.replay import Candidate, candidate_engine, replay

    settings = load_settings()
    candidate = Candidate(policies, templates or settings.templates_dir)
    workers = jobs or os.cpu_count() or 1
    try:
        engine = candidate_engine(candidate.policies, candidate.templates)
    except PolicyRejected as exc:
        for problem in exc.problems:
            typer.secho(str(problem), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc

    async def run() -> Any:
        loaded = await load_records(settings, records)
        if as_json or not sys.stderr.isatty():
            return await replay(
                loaded, engine, tenant=tenant, since=since, jobs=workers, candidate=candidate
            )
        with typer.progressbar(length=len(loaded), label="replaying", file=sys.stderr) as bar:
            seen = [0]

            def tick(n: int) -> None:
                bar.update(n - seen[0])
                seen[0] = n

            return await replay(
                loaded,
                engine,
                tenant=tenant,
                since=since,
                progress=tick,
                jobs=workers,
                candidate=candidate,
            )

    report = asyncio.run(run())
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    recorded = ", ".join(report.recorded_revisions) or "no"
    typer.echo(f"candidate {report.candidate_revision} against {recorded} recorded revision(s)")
    typer.echo(
        f"{report.replayed} replayed, {report.skipped} without policy input, "
        f"{report.unchanged} unchanged ({report.records_per_second:.0f} records/s)"
    )
    if report.rescored:
        typer.echo(f"{report.rescored} had no recorded danger score and were scored offline")
    if not report.changes:
        typer.echo("no verdict changes")
    for change, count in report.changes.items():
        typer.echo(f"  {change:18s} {count:6d}   e.g. {', '.join(report.examples[change][:3])}")


@policy_app.command("shadow-report")
def policy_shadow_report(
    records: Annotated[
        Path | None,
        typer.Option(help="Decision records as JSON lines (default: the decision log in Redis)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only decisions at or after this ISO time.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Summarise where the shadow revision disagreed with the live one."""
    from gateway.policy.tooling.shadow import shadow_report

    settings = load_settings()
    report = shadow_report(asyncio.run(load_records(settings, records)), since=since)
    if as_json:
        # json.dumps, not model_dump_json: the printed shape (spacing, escaping) is kept.
        typer.echo(json.dumps(report.model_dump(), indent=2))
        return
    typer.echo(
        f"{report.decisions} decisions, {report.differing} where the shadow differs, "
        f"{report.shadow_errors} shadow errors"
    )
    for change, count in report.changes.items():
        ids = report.examples[change]
        typer.echo(f"  live {change:18s} {count:6d}   e.g. {', '.join(ids[:3])}")
