"""Ephemeral agents: retire every agent whose ttl ran out, without a proposal.

A creation with ``ttl_seconds`` gets ``expires_at`` (gateway.admission.stages.create)
and, in the built-in registry, an entry in the expiring index in the same step
as its registration (``AGENT_CREATE``). This pass reads the index up to now and
retires what is due; the registry removal happens once whichever replica gets
there first, so several replicas may run it at the same time.
"""

from __future__ import annotations

import logging
from datetime import datetime

from gateway.lifecycle.retire import Retirement
from gateway.registry.base import Retiring

__all__ = ["expire_due"]

logger = logging.getLogger("spawngate.lifecycle")

#: Agents retired per pass at most; the next pass takes the rest.
BATCH = 500


async def expire_due(retirement: Retirement, now: datetime) -> int:
    """Retire every agent past its ``expires_at``; how many this call retired."""
    registry = retirement.registry
    if not isinstance(registry, Retiring):
        return 0  # an HTTP registry keeps its own ttl, if any (README)
    count = 0
    for tenant, name in await registry.expiring(now, BATCH):
        agent = await registry.get(tenant, name)
        if agent is None or agent.expires_at is None or agent.expires_at > now:
            continue  # retired meanwhile, or a namesake that is not due
        if await retirement.expire(agent, now):
            count += 1
    return count
