"""Policy replay benchmark: figures, not assertions (issue 12).

Records a few real decisions through the gateway (in-process, embedded Redis in
a scratch data dir: allowed, reviewed and denied ones), copies them to
``--records`` decisions with varied names and costs, and replays them under the
shipped policies with one process and with ``--jobs`` worker processes
(``spawngate policy replay --jobs``), in alternating rounds. Prints records/s of
each and their ratio; on an idle machine the ratio approaches the number of
cores, since replay is bound by the policy engine.

    .venv/bin/python bench/bench_replay.py [--records 4000] [--jobs N] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

from gateway.audit.record import AuditRecord, RecordType  # noqa: E402
from gateway.fronts.http.app import create_app  # noqa: E402
from gateway.policy.tooling.replay import Candidate, candidate_engine, replay  # noqa: E402
from gateway.runtime import Gateway  # noqa: E402
from gateway.settings import PROJECT_ROOT, Settings  # noqa: E402

#: The demo configuration's orchestrator key (config/demo.yaml).
KEY = "sg_demo_acme_orchestrator"
BODIES: tuple[dict[str, Any], ...] = (
    {"role": "summarises quarterly filings"},
    {"role": "reviews code", "template": "code-specialist"},
    {"role": "researches markets", "estimated_cost_per_day": 12},  # above the limit: reviewed
    {"role": "deploys", "template": "devops"},  # devops: reviewed
    {"role": "x", "capabilities": ["no-such-capability"]},  # denied by policy
    {"role": "translates manuals", "instructions": "Translate the manuals into German."},
)


async def recorded(data_dir: Path) -> list[AuditRecord]:
    settings = Settings(data_dir=data_dir, reconcile_seconds=0)
    gateway = Gateway.build(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(gateway=gateway))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for i, body in enumerate(BODIES):
                await client.post(
                    "/v1/create_agent",
                    json={"name": f"seed-{i}", **body},
                    headers={"Authorization": f"Bearer {KEY}"},
                )
        return [r for r in await gateway.audit.read() if r.type is RecordType.DECISION]
    finally:
        await gateway.stop()


def copies(seeds: list[AuditRecord], count: int) -> list[AuditRecord]:
    out = []
    for i in range(count):
        seed = seeds[i % len(seeds)]
        if seed.policy_input is None:
            continue
        document: dict[str, Any] = orjson.loads(orjson.dumps(seed.policy_input))
        document["request"]["name"] = f"agent-{i}"
        effective = document.get("effective") or {}
        effective["estimated_cost_per_day"] = float(1 + i % 20)
        out.append(
            seed.model_copy(update={"decision_id": f"dec_{i:07d}", "policy_input": document})
        )
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=4000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spawngate-replay-") as tmp:
        seeds = await recorded(Path(tmp))
    records = copies(seeds, args.records)
    candidate = Candidate(PROJECT_ROOT / "policies", PROJECT_ROOT / "templates")
    engine = candidate_engine(candidate.policies, candidate.templates)
    print(f"{len(seeds)} recorded decisions, {len(records)} copies, jobs {args.jobs}")
    rates: dict[int, list[float]] = {1: [], args.jobs: []}
    for round_ in range(args.rounds):
        for jobs in rates:
            report = await replay(records, engine, jobs=jobs, candidate=candidate)
            rates[jobs].append(report.records_per_second)
            print(
                f"round {round_ + 1} jobs {jobs}: {report.replayed} replayed in "
                f"{report.seconds:.2f}s = {report.records_per_second:,.0f} records/s"
            )
    best = {jobs: max(values) for jobs, values in rates.items()}
    print(
        f"best: 1 process {best[1]:,.0f}/s, {args.jobs} processes {best[args.jobs]:,.0f}/s, "
        f"ratio {best[args.jobs] / best[1]:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
