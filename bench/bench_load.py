"""Load benchmark: the gateway against a bare endpoint, external load generator. `make bench`.

Both servers run as separate processes on loopback (bench/servers.py); wrk, in
its own process, drives them in alternating rounds (bare, gateway, bare, ...)
so that whatever else loads the machine weighs on both sides alike. Per side:
requests/s counting only 201s, p50/p99 from wrk's latency distribution, CPU
per request of the server process from /proc (and with the gateway's embedded
redis-server), and the share of answers that were not 201.
Then one round at one connection (latency with no queueing) and one open-loop
round at half of the measured saturation (bench/openloop.py). Absolute
figures depend on the machine and its neighbours; the ratios gateway/bare
(throughput, median over rounds; CPU per request) are the figures to compare
(README "Benchmarks"). Writes bench/results/last.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.procstat import cpu_seconds, load_average, tree_cpu_seconds
from bench.servers import AUTHORIZATION, Server, niced, start_bare, start_gateway
from bench.wrk_script import parse_summary, render_script, require_wrk

RESULTS = Path(__file__).resolve().parent / "results"
Round = dict[str, Any]


def wrk_round(
    wrk: str, server: Server, prefix: str, tmp: Path, threads: int, connections: int, seconds: float
) -> Round:
    script = tmp / f"{prefix}.lua"
    script.write_text(render_script(prefix, AUTHORIZATION))
    load_before = load_average()[0]
    cpu0, tree0 = cpu_seconds(server.pid), tree_cpu_seconds(server.pid, server.kids)
    done = subprocess.run(
        niced([wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script),
               f"http://127.0.0.1:{server.port}"], server.nice),
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    cpu = cpu_seconds(server.pid) - cpu0
    tree = tree_cpu_seconds(server.pid, server.kids) - tree0
    summary = parse_summary(done.stdout)
    answered = max(1, summary["requests"])
    return {
        "side": server.name,
        "connections": connections,
        "rps_201": summary["created"] / (summary["duration_us"] / 1e6),
        "p50_ms": summary["latency_us"]["p50"] / 1000,
        "p99_ms": summary["latency_us"]["p99"] / 1000,
        "cpu_ms_per_req": cpu * 1000 / answered,
        "cpu_ms_per_req_with_redis": tree * 1000 / answered,
        "non_201_share": summary["non_201_share"],
        "load_1min": load_before,
        "wrk": summary,
    }


def open_loop_round(server: Server, prefix: str, rate: float, seconds: float) -> Round:
    cpu0 = cpu_seconds(server.pid)
    done = subprocess.run(
        niced([sys.executable, "-m", "bench.openloop", "--port", str(server.port), "--authorization", AUTHORIZATION,
               "--prefix", prefix, "--rate", f"{rate:.1f}", "--duration", f"{seconds:g}"], server.nice),
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    result: Round = json.loads(done.stdout)
    cpu = cpu_seconds(server.pid) - cpu0
    created = result["statuses"].get("201", 0)
    return {
        "side": server.name,
        "rate": rate,
        "p50_ms": result["latency_ms"]["p50"],
        "p99_ms": result["latency_ms"]["p99"],
        "max_ms": result["latency_ms"]["max"],
        "cpu_ms_per_req": cpu * 1000 / max(1, result["answered"]),
        "non_201_share": 1 - created / max(1, result["sent"]),
        "openloop": result,
    }


def side_summary(rounds: list[Round]) -> dict[str, float]:
    def med(key: str) -> float:
        return float(statistics.median(float(r[key]) for r in rounds))

    return {
        k: med(k)
        for k in (
            "rps_201",
            "p50_ms",
            "p99_ms",
            "cpu_ms_per_req",
            "cpu_ms_per_req_with_redis",
            "non_201_share",
        )
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    wrk = require_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="spawngate-load-"))
    log = tmp / "servers.log"
    started = datetime.now(UTC)
    load_start = load_average()
    bare = start_bare(log, args.nice)
    try:
        gateway = start_gateway(tmp, log, args.gateway_root.resolve(), args.nice)
    except BaseException:
        bare.stop()
        print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    try:
        sides = {"bare": bare, "gateway": gateway}
        for name, server in sides.items():  # warm-up: imports, caches, the first Rego queries
            wrk_round(wrk, server, f"w{name[0]}", tmp, args.threads, args.connections, args.warmup)
        rounds: list[Round] = []
        for i in range(args.rounds):
            for name, server in sides.items():
                r = wrk_round(
                    wrk,
                    server,
                    f"r{i}{name[0]}",
                    tmp,
                    args.threads,
                    args.connections,
                    args.duration,
                )
                rounds.append(r)
                print(f"round {i + 1} {name:8s} {r['rps_201']:8.0f} req/s  p50 {r['p50_ms']:7.2f} ms  "
                      f"p99 {r['p99_ms']:7.2f} ms  cpu {r['cpu_ms_per_req']:6.2f} ms/req  "
                      f"non-201 {r['non_201_share']:.3f}  load {r['load_1min']:.2f}", flush=True)  # fmt: skip
        per_side = {n: side_summary([r for r in rounds if r["side"] == n]) for n in sides}
        ratios = [
            g["rps_201"] / b["rps_201"] for b, g in zip(rounds[::2], rounds[1::2], strict=True)
        ]
        single = {
            n: wrk_round(wrk, s, f"s{n[0]}", tmp, 1, 1, args.duration) for n, s in sides.items()
        }
        half = {
            n: open_loop_round(s, f"h{n[0]}", per_side[n]["rps_201"] / 2, args.duration)
            for n, s in sides.items()
        }
    except BaseException:
        print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise
    finally:
        gateway.stop()
        bare.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "rounds": rounds,
        "per_side": per_side,
        "ratio_per_round": ratios,
        "ratio_median": statistics.median(ratios),
        # CPU per request, bare over gateway (with its Redis): what the throughput ratio
        # would be if each side had a core to itself; steadier than it on a busy machine.
        "cpu_ratio": per_side["bare"]["cpu_ms_per_req"]
        / per_side["gateway"]["cpu_ms_per_req_with_redis"],
        "one_connection": single,
        "half_saturation_open_loop": half,
        "work_dir": str(tmp) if args.keep else None,
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    return {"nproc": int(nproc), "cpu_model": model, "python": platform.python_version()}


def print_table(result: dict[str, Any]) -> None:
    m = result["machine"]
    print(f"\n{result['started']}  {m['nproc']} cores ({m['cpu_model']}), Python {m['python']}, "
          f"load average {result['load_average_start'][0]:.2f} -> {result['load_average_end'][0]:.2f}")  # fmt: skip
    opts = result["options"]
    print(
        f"wrk -t{opts['threads']} -c{opts['connections']}, {opts['rounds']} x {opts['duration']:g} s per side, alternating; medians over rounds\n"
    )
    print(f"{'':10s}{'req/s 201':>10s}{'p50 ms':>8s}{'p99 ms':>8s}{'CPU ms/req':>11s}{'+redis':>10s}{'non-201':>8s}"
          f"{'p50 @1c':>9s}{'half-sat rate':>14s}{'p50':>7s}{'p99':>7s}")  # fmt: skip
    for name, s in result["per_side"].items():
        one, half = result["one_connection"][name], result["half_saturation_open_loop"][name]
        print(f"{name:10s}{s['rps_201']:10.0f}{s['p50_ms']:8.2f}{s['p99_ms']:8.2f}{s['cpu_ms_per_req']:11.2f}"
              f"{s['cpu_ms_per_req_with_redis']:10.2f}{s['non_201_share']:8.3f}{one['p50_ms']:9.2f}"
              f"{half['rate']:14.0f}{half['p50_ms']:7.2f}{half['p99_ms']:7.2f}")  # fmt: skip
    per_round = ", ".join(f"{r:.3f}" for r in result["ratio_per_round"])
    print(
        f"\nratio gateway/bare throughput: {result['ratio_median']:.3f} (median; per round {per_round})"
    )
    print(f"ratio of CPU per request, bare/gateway (with its Redis): {result['cpu_ratio']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Gateway vs bare endpoint under wrk.")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side (alternating)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per round")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per side")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument(
        "--gateway-root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="checkout whose gateway to serve (e.g. `git archive` of another commit)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "last.json")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run servers and load generators under nice -n N (negative, as root: ahead of "
        "other work on a shared machine)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (server logs, Redis data)"
    )
    args = parser.parse_args()
    result = run(args)
    print_table(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {args.output}")


if __name__ == "__main__":
    main()
