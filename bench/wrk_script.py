"""The wrk side of the load benchmark: the Lua script it runs and the summary it prints.

wrk is closed-loop (each connection sends its next request when the previous
answer arrives). The script gives every request a unique agent name (a prefix
per round, the wrk thread's number and a counter), so that no request is
refused as a duplicate, counts status codes in ``response()`` (only 201s count
as throughput) and prints one JSON line from ``done()`` with the latency
distribution and the counts of every thread.
"""

from __future__ import annotations

import json
import re
import shutil
from typing import Any

__all__ = [
    "SUMMARY_MARK",
    "WrkMissing",
    "WrkSummary",
    "parse_summary",
    "render_script",
    "request_body",
    "require_wrk",
]

#: The line ``done()`` prints starts with this, followed by one JSON object.
SUMMARY_MARK = "SPAWNGATE_WRK "

# The body of every request: the README's auto-approved researcher (201 on the demo config).
_BODY_TEMPLATE = (
    '{{"name":"{name}","role":"finds and summarises papers","template":"researcher",'
    '"capabilities":["literature_review"],'
    '"instructions":"Find and summarise recent papers on the topic you are given."}}'
)

_LUA = r"""
-- Rendered by bench/wrk_script.py: unique names, status counts, JSON summary.
local prefix = "%(prefix)s"
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

counter = 0
statuses = {}

function init(args)
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "%(authorization)s"
end

function request()
  counter = counter + 1
  local name = prefix .. "-" .. tid .. "-" .. counter
  local body = string.format(%(body_format)s, name)
  return wrk.format("POST", "/v1/create_agent", nil, body)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do
      counts[code] = (counts[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(counts) do
    table.insert(parts, string.format('"%%s":%%d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"duration_us":%%d,"requests":%%d,"statuses":{%%s},' ..
    '"errors":{"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d},' ..
    '"latency_us":{"p50":%%d,"p90":%%d,"p99":%%d,"p999":%%d,"max":%%d,"mean":%%.1f}}\n',
    summary.duration, summary.requests, table.concat(parts, ","),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
"""


class WrkMissing(RuntimeError):
    """wrk is not on PATH; the benchmark installs nothing itself."""


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu)")
    return path


def request_body(name: str) -> str:
    """The JSON body the Lua script sends, for one name (the smoke test validates it)."""
    return _BODY_TEMPLATE.format(name=name)


def render_script(prefix: str, authorization: str) -> str:
    """The Lua script for one round; ``prefix`` keeps names unique across rounds."""
    if not re.fullmatch(r"[a-z][a-z0-9]{0,15}", prefix):
        raise ValueError(f"prefix must be a short lowercase identifier, got {prefix!r}")
    if '"' in authorization or "\\" in authorization:
        raise ValueError("authorization must not need escaping in Lua")
    # A Lua long string holds the body's quotes without escaping; %s is the name.
    body_format = "[[" + _BODY_TEMPLATE.format(name="%s") + "]]"
    return _LUA % {
        "prefix": prefix,
        "authorization": authorization,
        "body_format": body_format,
        "mark": SUMMARY_MARK,
    }


WrkSummary = dict[str, Any]


def parse_summary(stdout: str) -> WrkSummary:
    """The JSON object ``done()`` printed, with the count of 201s and the non-201 share."""
    for line in stdout.splitlines():
        if line.startswith(SUMMARY_MARK):
            summary: WrkSummary = json.loads(line[len(SUMMARY_MARK) :])
            break
    else:
        raise RuntimeError(f"wrk printed no summary line:\n{stdout}")
    statuses: dict[str, int] = summary["statuses"]
    answered = sum(statuses.values())
    created = statuses.get("201", 0)
    socket_errors = sum(summary["errors"][k] for k in ("connect", "read", "write", "timeout"))
    summary["created"] = created
    attempts = answered + socket_errors
    summary["non_201_share"] = (attempts - created) / attempts if attempts else 1.0
    return summary
