"""Cost tracking: agents report usage; auditors and admins read the swarm's daily figures."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query

from gateway.costs.service import MAX_REPORT_DAYS, UsageAnswer, UsageReport
from gateway.costs.swarm import SwarmReport
from gateway.fronts.http.deps import Runtime
from gateway.fronts.http.shapes import error_responses

__all__ = ["router"]

router = APIRouter(tags=["costs"])


@router.post(
    "/v1/agents/{name}/usage",
    summary="Report an agent's usage (tokens, actual $), aggregated per agent, creator and day",
    response_model=UsageAnswer,
    responses=error_responses(401, 403, 404, 422, 500, 503),
)
async def report_usage(
    name: str,
    report: UsageReport,
    gw: Runtime,
    authorization: Annotated[str | None, Header()] = None,
) -> UsageAnswer:
    """The agent must be in the caller's tenant; Casbin decides who may report
    (``usage/report``). Each report is written to the decision log."""
    principal = await gw.reads.authenticate(authorization)
    return await gw.costs.report_usage(principal, name, report)


@router.get(
    "/v1/metrics/swarm",
    summary="The swarm's daily figures: spawned, retired, total, estimated and actual cost",
    response_model=SwarmReport,
    responses=error_responses(401, 403, 422, 500, 503),
)
async def swarm_metrics(
    gw: Runtime,
    authorization: Annotated[str | None, Header()] = None,
    tenant: Annotated[
        str | None,
        Query(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Default: your tenant"),
    ] = None,
    days: Annotated[int, Query(ge=1, le=MAX_REPORT_DAYS, description="Days up to until")] = 7,
    until: Annotated[date | None, Query(description="Last ISO day (UTC); default today")] = None,
) -> SwarmReport:
    """Auditors and admins of the tenant (Casbin ``cost/read``)."""
    principal = await gw.reads.authenticate(authorization)
    return await gw.costs.swarm(principal, tenant=tenant, days=days, until=until)
