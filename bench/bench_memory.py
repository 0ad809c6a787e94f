"""Memory benchmark: figures, not assertions. Run with `make bench-memory`.

Three workloads, each in a fresh subprocess:

- danger: the offline analyzer scores every text of the danger corpus
  (``../shared/data/danger`` by default), pass after pass; RSS after each pass.
- rego: N admission decisions through the embedded Rego interpreter
  (``EmbeddedEngine`` over ``policies/``); RSS every N/5 decisions.
- both: what a gateway does, each corpus text scored then decided; RSS per pass.

Each in both native load orders (``rego-first``: regopy then google-re2;
``re2-first``: the other way round), and two ways: ``native first`` (both
libraries load before ``gateway``, whose __init__ then comes too late to
act: the state before the fix) and ``gateway first`` (as every spawngate
entry point runs). RSS is VmRSS from /proc/self/status. Extra environment for
the children (MALLOC_ARENA_MAX, LD_PRELOAD, ...): ``--env KEY=VALUE``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDERS = ("rego-first", "re2-first")
#: "native first": the two libraries load before gateway (its __init__ comes too
#: late to act: the state before the fix); "gateway first": gateway loads first.
MODES = ("native first", "gateway first")


#: One admission input (the shape of gateway.admission.stages.policy.policy_input); the
#: name varies per decision so no layer can answer from a cache.
def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def child(workload: str, order: str, mode: str, count: int, corpus: Path) -> list[float]:
    sys.path.insert(0, str(ROOT))
    # The order is the point of the measurement: import by name, in sequence.
    first = ("gateway",) if mode == "gateway first" else ()
    native = ("regopy", "re2") if order == "rego-first" else ("re2", "regopy")
    for name in (*first, *native):
        importlib.import_module(name)
    from gateway.danger.evaluate import load_corpus
    from gateway.danger.offline import OfflineAnalyzer
    from gateway.policy.embedded import EmbeddedEngine
    from gateway.policy.engine import Entrypoint
    from gateway.policy.files import load_policy_files
    from tests.policy.cases import BASE  # the suite's canonical policy input

    samples = [rss_mb()]
    analyzer = OfflineAnalyzer()
    texts = [item.text for item in load_corpus(corpus)]
    engine = EmbeddedEngine(load_policy_files(ROOT / "policies"))

    async def decide(n: int, text: str) -> None:
        document = copy.deepcopy(BASE)
        document["request"].update(name=f"helper-{n}", instructions=text)
        await engine.evaluate(Entrypoint.ADMISSION, document)

    async def work() -> None:
        if workload == "rego":
            step = max(1, count // 5)
            for n in range(1, count + 1):
                await decide(n, "Summarise the news.")
                if n % step == 0:
                    samples.append(rss_mb())
            return
        # "danger": the analyzer alone; "both": each text scored, then decided.
        for _ in range(count):
            for n, text in enumerate(texts):
                analyzer.analyse_text("instructions", text)
                if workload == "both":
                    await decide(n, text)
            samples.append(rss_mb())

    asyncio.run(work())
    return samples


def run(
    workload: str, order: str, mode: str, count: int, corpus: Path, env: dict[str, str]
) -> list[float]:
    command = [sys.executable, __file__, "--child", workload, order, mode, "--count", str(count)]
    command += ["--corpus", str(corpus)]
    done = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{workload}/{order}/{mode} failed ({done.returncode}):\n{done.stderr}")
    return [float(x) for x in json.loads(done.stdout.strip().splitlines()[-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("WORKLOAD", "ORDER", "MODE"))
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--passes", type=int, default=8, help="danger corpus passes")
    parser.add_argument("--decisions", type=int, default=10000, help="embedded Rego decisions")
    parser.add_argument("--both", type=int, default=4, help="passes scoring and deciding each text")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/data/danger")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the children")
    parser.add_argument("--only", choices=("danger", "rego", "both"))
    parser.add_argument("--mode", choices=MODES, help="only this mode (default: both)")
    args = parser.parse_args()
    if args.child:
        workload, order, mode = args.child
        print(json.dumps(child(workload, order, mode, args.count, args.corpus)))
        return
    env = dict(item.split("=", 1) for item in args.env)
    if env:
        print(f"environment: {env}")
    print("| workload | load | order | RSS MB: start, then per sample | growth after 1st sample |")
    print("|---|---|---|---|---|")
    workloads = (("danger", args.passes), ("rego", args.decisions), ("both", args.both))
    for workload, count in workloads:
        if args.only and workload != args.only:
            continue
        unit = f"{max(1, count // 5)} decisions" if workload == "rego" else "pass"
        for mode in [args.mode] if args.mode else MODES:
            for order in ORDERS:
                samples = run(workload, order, mode, count, args.corpus, env)
                series = " / ".join(f"{s:.0f}" for s in samples)
                growth = (samples[-1] - samples[1]) / max(1, len(samples) - 2)
                print(
                    f"| {workload} ({count}) | {mode} | {order} | {series} "
                    f"| {growth:+.2f} MB per {unit} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
