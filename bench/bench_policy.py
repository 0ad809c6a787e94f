"""Policy engine micro-benchmark: figures, not assertions.

Runs the real policy inputs (every case of tests/policy/cases.py, and the danger
query's cut of each admission input, as the danger stage builds it) through each
in-process engine, both entry points, and prints the median cost of one query in
microseconds. Rounds alternate between the variants in the same run, so a busy
machine slows every variant alike; the spread between rounds is printed too.

    .venv/bin/python bench/bench_policy.py [--rounds 15] [--repeat 20]

Variants: each engine's ``evaluate`` (what the gateway pays: input conversion,
evaluation, verdict parsing), and the raw input paths beside it (rego-cpp: the
ctypes walk of ``regopy.Input`` vs JSON text through ``set_input_term``;
regorus: Python objects through ``set_input`` vs JSON text through
``set_input_json``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

import gateway  # noqa: E402, F401 - the allocator set-up runs before the native engines load
from gateway.policy.embedded import EmbeddedEngine  # noqa: E402
from gateway.policy.engine import Entrypoint, PolicyEngine  # noqa: E402
from gateway.policy.files import load_policy_files  # noqa: E402
from gateway.policy.input import danger_input  # noqa: E402
from gateway.policy.regorus import RegorusEngine  # noqa: E402
from tests.policy.cases import CASES  # noqa: E402

Query = Callable[[Mapping[str, Any]], object]

#: One admission input as the pipeline recorded it (policy_input of a decision of
#: bench/bench_admission.py's fixture: a clean request, allowed).
RECORDED: dict[str, Any] = {
    "kind": "agent",
    "request": {
        "name": "agent-1150",
        "role": "summarises papers",
        "instructions": "Find and summarise recent papers on the topic you are given.",
        "template": "researcher",
        "tools": [],
        "capabilities": ["literature_review"],
    },
    "creator": {
        "id": "orc-0",
        "tenant": "t0",
        "kind": "agent",
        "tools": ["create_agent", "paper_search", "web_fetch", "web_search"],
        "parent": None,
        "root": "orc-0",
        "depth": 0,
    },
    "tenant": {
        "id": "t0",
        "approval_mode": "risk_based",
        "danger_threshold": 0.3,
        "max_cost_per_day": 10.0,
        "create_inactive": False,
        "lineage": {
            "max_depth": 3,
            "templates": {},
            "max_descendants_per_root": 10000000,
            "root_spawns_per_minute": 10000000,
        },
        "dedup": "off",
        "require_justification": False,
    },
    "template": {
        "name": "researcher",
        "exists": True,
        "tenants": [],
        "pre_approved": True,
        "allow_spawning": False,
        "capability_modules": ["literature_review", "market_research"],
    },
    "catalog": [
        "code-specialist",
        "default",
        "devops",
        "general-assistant",
        "media-generator",
        "orchestrator",
        "researcher",
    ],
    "effective": {
        "tools": ["paper_search", "web_fetch", "web_search"],
        "tool_sources": {
            "from_template": ["paper_search", "web_fetch", "web_search"],
            "from_request": [],
            "dropped": [],
        },
        "capabilities": ["literature_review"],
        "provider": "anthropic",
        "model": "claude-sonnet-4-20250514",
        "estimated_cost_per_day": 3.0,
        "depth": 1,
    },
    "usage": {"tenant_active": 60, "tenant_day": 60, "agent_day": 60, "root_descendants": 60},
    "swarm": {"covering_agents": []},
}
RECORDED_DANGER = {"score": 0.0, "categories": [], "reviewer_unavailable": False}


def inputs() -> dict[str, dict[Entrypoint, list[dict[str, Any]]]]:
    admission = [c.document() for c in CASES if c.entrypoint is Entrypoint.ADMISSION]
    danger = [c.document() for c in CASES if c.entrypoint is Entrypoint.DANGER]
    danger += [danger_input(d, d["danger"]) for d in admission if isinstance(d.get("danger"), dict)]
    return {
        "recorded pipeline input": {
            Entrypoint.ADMISSION: [RECORDED],
            Entrypoint.DANGER: [danger_input(RECORDED, RECORDED_DANGER)],
        },
        "tests/policy/cases.py": {Entrypoint.ADMISSION: admission, Entrypoint.DANGER: danger},
    }


def through(engine: PolicyEngine, entrypoint: Entrypoint) -> Query:
    def run(document: Mapping[str, Any]) -> object:
        # evaluate() never awaits (both engines are synchronous inside): drive it directly.
        coro = engine.evaluate(entrypoint, document)
        try:
            coro.send(None)
        except StopIteration as done:
            return done.value
        raise RuntimeError("evaluate suspended")

    return run


def raw_variants(
    embedded: EmbeddedEngine, rust: RegorusEngine, entrypoint: Entrypoint
) -> dict[str, Query]:
    import regopy  # after gateway (its allocator set-up), whatever the import sorter does above

    rego, bundle = embedded._rego, embedded._bundle
    engine, rule = rust._engine(), rust._rules[entrypoint]
    ep = entrypoint.value

    def cpp_input(d: Mapping[str, Any]) -> object:
        rego.set_input(regopy.Input(d))
        return str(rego.query_bundle_entrypoint(bundle, ep))

    def cpp_term(d: Mapping[str, Any]) -> object:
        rego.set_input_term(orjson.dumps(d).decode())
        return str(rego.query_bundle_entrypoint(bundle, ep))

    def rust_objects(d: Mapping[str, Any]) -> object:
        engine.set_input(d)
        return engine.eval_rule_as_json(rule)

    def rust_json(d: Mapping[str, Any]) -> object:
        engine.set_input_json(orjson.dumps(d).decode())
        return engine.eval_rule_as_json(rule)

    return {
        "rego-cpp raw, regopy.Input (ctypes walk)": cpp_input,
        "rego-cpp raw, set_input_term (orjson text)": cpp_term,
        "regorus raw, set_input (objects)": rust_objects,
        "regorus raw, set_input_json (orjson text)": rust_json,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=20, help="passes over the inputs per round")
    args = parser.parse_args()
    files = load_policy_files(ROOT / "policies")
    embedded, rust = EmbeddedEngine(files), RegorusEngine(files)
    asyncio.set_event_loop(asyncio.new_event_loop())
    for label, docs in inputs().items():
        for entrypoint, documents in docs.items():
            measure(label, entrypoint, documents, embedded, rust, args.rounds, args.repeat)


def measure(
    label: str,
    entrypoint: Entrypoint,
    documents: list[dict[str, Any]],
    embedded: EmbeddedEngine,
    rust: RegorusEngine,
    rounds: int,
    repeat: int,
) -> None:
    variants: dict[str, Query] = {
        "embedded (rego-cpp) evaluate": through(embedded, entrypoint),
        "regorus evaluate": through(rust, entrypoint),
        **raw_variants(embedded, rust, entrypoint),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for query in variants.values():
        for d in documents:
            query(d)  # warm
    for _ in range(rounds):
        for name, query in variants.items():
            start = time.perf_counter()
            for _ in range(repeat):
                for d in documents:
                    query(d)
            elapsed = time.perf_counter() - start
            samples[name].append(elapsed / (repeat * len(documents)) * 1e6)
    print(f"\n{entrypoint.value}, {label}: {len(documents)} input(s), {rounds} alternating rounds")
    print(f"  {'variant':<46} {'median us':>10} {'min':>8} {'max':>8}")
    for name, values in samples.items():
        print(
            f"  {name:<46} {statistics.median(values):>10.1f} {min(values):>8.1f} {max(values):>8.1f}"
        )


if __name__ == "__main__":
    main()
