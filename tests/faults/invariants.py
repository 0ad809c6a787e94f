"""What must hold after any fault, read from the log, the registry and Redis directly.

Each check returns human-readable violations (empty = holds), so that one
failing run names every broken invariant with its evidence at once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import redis

from tests.faults.harness import Call, cli

__all__ = [
    "builtin_agents",
    "check_answers",
    "check_log_and_registry",
    "export_log",
    "quota_leaks",
    "verify_log",
]

_RECORD_TYPES = {"decision", "outcome", "approval"}


def export_log(env: dict[str, str], out: Path) -> list[dict[str, Any]]:
    """The whole decision log, as `spawngate audit export` gives it to an auditor."""
    result = cli(env, "audit", "export", "--out", str(out))
    assert result.returncode == 0, f"audit export failed: {result.stdout}{result.stderr}"
    records = []
    for line in out.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        # Exports may carry checkpoints beside records; only records are checked here.
        if item.get("type") in _RECORD_TYPES and "decision_id" in item:
            records.append(item)
    return records


def verify_log(env: dict[str, str]) -> list[str]:
    result = cli(env, "audit", "verify")
    if result.returncode != 0 or not result.stdout.startswith("OK"):
        return [f"`spawngate audit verify` did not say OK: {result.stdout}{result.stderr}".strip()]
    return []


def builtin_agents(client: redis.Redis, prefix: str, tenant: str = "acme") -> dict[str, Any]:
    """Agents in the built-in registry (kept in Redis), by name."""
    agents: dict[str, Any] = {}
    for key in client.scan_iter(match=f"{prefix}:reg:{tenant}:agent:*", count=500):
        raw = client.get(key)
        if raw is not None:
            agent = json.loads(raw)
            agents[agent["name"]] = agent
    return agents


def _by_decision(records: Iterable[Mapping[str, Any]], kind: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in records:
        if r["type"] == kind:
            out.setdefault(r["decision_id"], []).append(r)
    return out


def check_log_and_registry(
    records: list[dict[str, Any]], agents: Mapping[str, Any], names: Iterable[str]
) -> list[str]:
    """No agent without an allow decision, no 'created' without an agent, no duplicates."""
    problems: list[str] = []
    decisions = _by_decision(records, "decision")
    outcomes = _by_decision(records, "outcome")
    for did, recs in decisions.items():
        if len(recs) > 1:
            problems.append(f"duplicate decision records for {did}: seq {[r['seq'] for r in recs]}")
    for did, recs in outcomes.items():
        if len(recs) > 1:
            kinds = [r["result"].get("outcome") for r in recs]
            problems.append(f"duplicate outcome records for {did}: {kinds}")
    # Every name was requested exactly once, so at most one decision may mention it.
    per_name = Counter(
        r["input"].get("name")
        for r in records
        if r["type"] == "decision" and isinstance(r.get("input"), dict)
    )
    for name in names:
        if per_name[name] > 1:
            problems.append(f"{per_name[name]} decision records for the one request '{name}'")
    for name, agent in agents.items():
        did = agent.get("decision_id")
        found = decisions.get(did, [])
        if not found:
            problems.append(f"agent '{name}' exists with no decision record ({did})")
            continue
        if found[0]["result"].get("verdict") != "allow":
            problems.append(
                f"agent '{name}' exists but its decision {did} says "
                f"{found[0]['result'].get('verdict')}/{found[0]['result'].get('outcome')}"
            )
        said = [r["result"].get("outcome") for r in outcomes.get(did, [])]
        if any(o != "created" for o in said):
            problems.append(f"agent '{name}' exists but the log's outcome for {did} is {said}")
    by_decision_id = {a.get("decision_id"): n for n, a in agents.items()}
    for did, recs in outcomes.items():
        if any(r["result"].get("outcome") == "created" for r in recs) and did not in by_decision_id:
            problems.append(f"log says {did} created an agent that is not in the registry")
    return problems


def check_answers(
    calls: Iterable[Call],
    records: list[dict[str, Any]],
    agents: Mapping[str, Any],
    *,
    transport_errors_ok: bool,
) -> list[str]:
    """Every caller got an answer in time, and the answer agrees with the log and registry."""
    problems: list[str] = []
    decisions = _by_decision(records, "decision")
    outcomes = _by_decision(records, "outcome")
    for call in calls:
        label = f"request '{call.name}'"
        if call.error == "timeout":
            problems.append(f"{label}: no answer within the client's bound ({call.elapsed:.1f}s)")
            continue
        if call.error is not None:
            if not transport_errors_ok:
                problems.append(f"{label}: connection failed although the gateway stayed up")
            continue
        assert call.status is not None
        if call.status >= 500 and call.status not in (502, 503, 504):
            problems.append(f"{label}: HTTP {call.status} {json.dumps(call.body)[:300]}")
        did = call.decision_id
        agent = agents.get(call.name)
        said = [r["result"].get("outcome") for r in outcomes.get(did or "", [])]
        if call.status == 201:
            if agent is None:
                problems.append(f"{label}: answered 201 ({did}) but no such agent in the registry")
            elif agent.get("decision_id") != did:
                problems.append(
                    f"{label}: 201 says {did}, registry says {agent.get('decision_id')}"
                )
            if "created" not in said:
                problems.append(f"{label}: answered 201 but the log's outcome for {did} is {said}")
        elif agent is not None:
            problems.append(
                f"{label}: answered {call.status} ({(call.body or {}).get('outcome')}) but the "
                f"agent was created behind the caller's back (decision {agent.get('decision_id')})"
            )
        if did is None:
            if call.status not in (502, 503, 504):
                problems.append(f"{label}: HTTP {call.status} without a decision id")
            continue
        if did not in decisions:
            problems.append(f"{label}: answered {call.status} but decision {did} is not in the log")
    return problems


def quota_leaks(client: redis.Redis, prefix: str, agents: Mapping[str, Any]) -> list[str]:
    """Counters of live agents must equal the agents that exist (none are queued here)."""
    problems: list[str] = []
    active = int(client.get(f"{prefix}:q:tenant:acme:active") or 0)
    if active != len(agents):
        problems.append(f"max_active_agents counter is {active}, but {len(agents)} agents exist")
    roots = Counter(a.get("root") for a in agents.values())
    for key in client.scan_iter(match=f"{prefix}:q:root:acme:*:descendants"):
        root = key[len(f"{prefix}:q:root:acme:") : -len(":descendants")]
        held = int(client.get(key) or 0)
        if held != roots.get(root, 0):
            problems.append(
                f"lineage counter of root {root} is {held}, agents: {roots.get(root, 0)}"
            )
    return problems
