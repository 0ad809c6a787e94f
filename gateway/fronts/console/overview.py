"""Overview: decisions per outcome over the last day, pending approvals, quota use and
the most frequent denial reasons of the user's tenant. Each part is shown only
when the services let the user read it (decisions: auditors, admins; the
queue: approvers, admins)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from gateway.errors import PermissionDenied, SpawngateError
from gateway.fronts.console.chart import decisions_chart, hourly
from gateway.fronts.console.sessions import Session
from gateway.fronts.console.web import PREFIX, failure, gateway_of, page, signed_in, to_signin
from gateway.quotas.ledger import QuotaLedger
from gateway.storage.redis import redis_errors

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

HOURS = 24
#: Newest decision-log records the overview reads (one bounded page).
_RECENT = 1000


async def _recent(request: Request, session: Session) -> list[dict[str, Any]] | None:
    try:
        records, _ = await gateway_of(request).reads.decisions(
            session.principal,
            creator=None,
            verdict=None,
            decision_id=None,
            since=None,
            until=None,
            limit=_RECENT,
        )
    except PermissionDenied:
        return None
    return records


def _denials(records: list[dict[str, Any]]) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for r in records:
        result = r.get("result") or {}
        if r.get("type") != "decision" or result.get("verdict") != "deny":
            continue
        reasons = result.get("reasons")
        for reason in reasons if isinstance(reasons, list) else []:
            if isinstance(reason, dict):
                counts[f"{reason.get('code')}: {reason.get('message')}"] += 1
    return counts.most_common(5)


async def _quota_use(request: Request, tenant: str) -> list[tuple[str, int, int]]:
    """The tenant-wide quota counters: (name, used, limit)."""
    gw = gateway_of(request)
    settings = gw.config.tenant_settings(tenant)
    counters = [
        c
        for c in QuotaLedger(gw.store).counters(
            tenant=tenant, principal="-", root="-", settings=settings
        )
        if c.name.startswith("tenant ")
    ]
    if not counters:
        return []
    async with redis_errors():
        values = await gw.store.client.mget([c.key for c in counters])
    return [(c.name, int(v or 0), c.limit) for c, v in zip(counters, values, strict=True)]


@router.get(f"{PREFIX}/overview")
async def overview(request: Request) -> Response:
    session = await signed_in(request)
    if session is None:
        return to_signin(request)
    gw = gateway_of(request)
    tenant = session.principal.tenant
    now = datetime.now(UTC)
    try:
        records = await _recent(request, session)
        try:
            pending: int | None = len(await gw.approvals_service.list_pending(session.principal))
        except PermissionDenied:
            pending = None
        quotas = await _quota_use(request, tenant)
    except SpawngateError as exc:
        return failure(request, session, exc)
    return page(
        request,
        "overview.html",
        session,
        current="overview",
        tenant=tenant,
        chart=Markup(decisions_chart(hourly(records, HOURS, now), now))  # noqa: S704
        if records is not None
        else None,
        pending=pending,
        quotas=quotas,
        denials=_denials(records) if records is not None else None,
        settings=gw.config.tenant_settings(tenant),
    )
