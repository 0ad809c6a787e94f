"""Issue 12: the decision listing reads a bounded part of the log per call, skips
records by text before parsing them, and sends the bytes FastAPI would have sent."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse

from gateway.audit.record import AuditRecord, RecordType
from gateway.fronts.http.routes.decisions import _page
from gateway.runtime import Gateway
from tests.conftest import bearer, client_for


def record(n: int, tenant: str, **input_: Any) -> AuditRecord:
    return AuditRecord(
        type=RecordType.DECISION,
        decision_id=f"dec_{n}",
        timestamp=datetime(2026, 1, 1, 0, 0, n % 60, tzinfo=UTC),
        path="spawngate/create_agent",
        tenant=tenant,
        principal=f"{tenant}-orchestrator",
        input={"name": f"n-{n}", **input_},
        result={"verdict": "deny" if n % 3 else "allow"},
        bundles={"spawngate": {"revision": "test"}},
    )


def test_page_bytes_are_those_of_json_response() -> None:
    awkward = {"tiny": 1e-7, "small": 0.00001, "big": 1e16, "huge": 2**70, "text": "é\u2028\x01"}
    for records in ([record(1, "acme")], [record(2, "acme", **awkward), record(3, "b c")]):
        dumped = [r.model_dump(mode="json") for r in records]
        assert _page(dumped) == JSONResponse(dumped).body
        assert [r.as_json() for r in records] == dumped


async def test_sparse_filters_page_through_the_whole_log_with_cursors(gateway: Gateway) -> None:
    tenants = ["acme", "other", "other", 'odd "name"', "other"]
    for n in range(40):
        await gateway.audit.append(record(n, tenants[n % 5], nan=math.nan if n == 7 else 1))
    for filters in (
        {"tenant": "acme"},
        {"tenant": "acme", "verdict": "deny"},
        {"tenant": 'odd "name"'},  # not plain: every record is parsed
        {"creator": "acme-orchestrator", "since": "2026-01-01T00:00:10"},
    ):
        expected = [
            r.decision_id
            for r in reversed(await gateway.audit.read())
            if all(
                {
                    "tenant": r.tenant,
                    "verdict": r.result.get("verdict"),
                    "creator": r.principal,
                    "since": None,
                }[k]
                in (v, None)
                for k, v in filters.items()
            )
            and ("since" not in filters or r.timestamp.isoformat() >= filters["since"])
        ]
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(100):
            found, cursor = await gateway.audit.newest(after=cursor, limit=3, scan=4, **filters)
            assert len(found) <= 3
            seen += [r.decision_id for r in found]
            if cursor is None:
                break
        assert seen == expected, filters


async def test_listing_over_http_is_the_records_as_json(gateway: Gateway) -> None:
    for n in range(12):
        await gateway.audit.append(record(n, "acme", tiny=1e-7, big=2**70))
    stored = {r.decision_id: r.model_dump(mode="json") for r in await gateway.audit.read()}
    async with client_for(gateway) as c:
        answer = await c.get("/v1/decisions", params={"limit": 5}, headers=bearer("bob"))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == [stored[f"dec_{n}"] for n in (11, 10, 9, 8, 7)]
        assert "x-next-cursor" in answer.headers
