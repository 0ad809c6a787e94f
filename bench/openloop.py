"""An open-loop load generator: requests at a fixed rate, latency from the intended send time.

wrk is closed-loop: a slow answer delays the next request, so its latency
figures hide queueing (coordinated omission), and a server whose latency is
mostly its own CPU is near saturation at one connection already, so no
connection count gives "half of saturation". wrk2 (which fixes both) is not in Debian. This generator runs in
its own process (``python -m bench.openloop``): it schedules request i at
``start + i / rate``, hands it to the first free keep-alive connection of a
pool, and measures from the scheduled time, so time spent waiting for a
connection counts. Raw HTTP/1.1 over uvloop streams keeps its own CPU per
request small. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter

import uvloop

from bench.wrk_script import request_body

__all__ = ["main", "run"]


def _request(port: int, authorization: str, name: str) -> bytes:
    body = request_body(name).encode()
    head = (
        f"POST /v1/create_agent HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: {authorization}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> int:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    await reader.readexactly(length)
    return status


async def run(
    port: int, authorization: str, prefix: str, rate: float, duration: float, connections: int
) -> dict[str, object]:
    total = int(rate * duration)
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (item := await queue.get()) is not None:
                i, scheduled = item
                try:
                    status = await _exchange(
                        reader, writer, _request(port, authorization, f"{prefix}-{i}")
                    )
                except (OSError, asyncio.IncompleteReadError) as exc:
                    statuses[f"error:{type(exc).__name__}"] += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                latencies.append(time.perf_counter() - scheduled)
                statuses[str(status)] += 1
        finally:
            writer.close()

    cpu_start = time.process_time()
    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    start = time.perf_counter() + 0.2  # let the pool connect first
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((i, scheduled))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000
            if latencies
            else float("nan")
        )

    return {
        "rate": rate,
        "sent": total,
        "answered": len(latencies),
        "elapsed_s": elapsed,
        # The generator's own CPU: if it nears elapsed_s, the client is the limit, not the server.
        "client_cpu_s": time.process_time() - cpu_start,
        "statuses": dict(statuses),
        "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--authorization", required=True)
    parser.add_argument("--prefix", required=True, help="agent name prefix, unique per run")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    # uvloop: the generator's own CPU per request stays small beside the server's.
    result = uvloop.run(
        run(args.port, args.authorization, args.prefix, args.rate, args.duration, args.connections)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
