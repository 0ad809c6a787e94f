"""Every Redis key name and every Lua script the gateway uses, in one place.

A key is ``<prefix>:<part>:...`` (``SPAWNGATE_REDIS_PREFIX``, "sg" by default,
so that several gateways can share one server). Build keys only through
``Keys`` (``store.keys``) and run scripts only from the texts here
(``store.client.register_script(schema.AUDIT_APPEND)``): data already in
Redis depends on these exact strings, and a reader auditing what the gateway
keeps can read it all here. ``tests/storage/test_schema.py`` keeps the rule.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "AGENT_ABANDON",
    "AGENT_CREATE",
    "APPROVAL_TRANSITION",
    "AUDIT_APPEND",
    "QUOTA_REBUILD",
    "QUOTA_RELEASE",
    "QUOTA_RESERVE",
    "HeldCounter",
    "Keys",
    "agent_scope",
    "root_scope",
    "tenant_scope",
]

#: A counter that never expires (rebuilt from the registry by the reconciler).
HeldCounter = Literal["active", "descendants", "total"]
_HELD: frozenset[str] = frozenset({"active", "descendants", "total"})


# -- quota scopes: the second part of a counter key ---------------------------


def tenant_scope(tenant: str) -> str:
    return f"tenant:{tenant}"


def agent_scope(tenant: str, principal: str) -> str:
    return f"agent:{tenant}:{principal}"


def root_scope(tenant: str, root: str) -> str:
    return f"root:{tenant}:{root}"


class Keys:
    """The key names of one gateway's data (one Redis prefix)."""

    __slots__ = ("_prefix",)

    def __init__(self, prefix: str | None) -> None:
        self._prefix = prefix

    @classmethod
    def unstored(cls) -> Keys:
        """Keys without a prefix: names for something kept nowhere (an uncached review)."""
        return cls(None)

    def join(self, *parts: str) -> str:
        return ":".join(parts if self._prefix is None else (self._prefix, *parts))

    # -- the decision log (gateway.audit) ------------------------------------

    def decisions(self) -> str:
        """The stream of decision-log records."""
        return self.join("decisions")

    def decisions_head(self) -> str:
        """The chain head ("seq:hash") the next append must chain after."""
        return self.join("decisions", "head")

    def checkpoints(self) -> str:
        """The list of signed checkpoints of the chain head."""
        return self.join("decisions", "checkpoints")

    def shipped(self) -> str:
        """Stream id of the last record the sink accepted."""
        return self.join("decisions", "shipped")

    def checkpoints_shipped(self) -> str:
        """Position in the checkpoint list up to which the sink holds them."""
        return self.join("decisions", "checkpoints", "shipped")

    def shipper_lease(self) -> str:
        """Which replica ships now."""
        return self.join("decisions", "shipper")

    # -- the approval queue (gateway.approvals) ------------------------------

    def approval(self, approval_id: str) -> str:
        return self.join("approval", approval_id)

    def approval_prefix(self) -> str:
        """What every approval record's key starts with (to scan them all)."""
        return self.approval("")

    def approvals_pending(self, tenant: str) -> str:
        """A tenant's pending approvals, scored by expiry."""
        return self.join("approvals", tenant, "pending")

    def approvals_tenants(self) -> str:
        """Every tenant that ever queued an approval."""
        return self.join("approvals", "tenants")

    def approvals_approving(self) -> str:
        """Approvals under a lease, scored by its end."""
        return self.join("approvals", "approving")

    # -- the built-in registry (gateway.registry.builtin) --------------------

    def agent(self, tenant: str, name: str) -> str:
        return self.join("reg", tenant, "agent", name)

    def agent_names(self, tenant: str) -> str:
        return self.join("reg", tenant, "names")

    def agent_capability(self, tenant: str, capability: str) -> str:
        return self.join("reg", tenant, "cap", capability)

    def agent_tombstone(self, tenant: str, decision_id: str) -> str:
        """Refuses the creation of an abandoned decision."""
        return self.join("reg", tenant, "abandoned", decision_id)

    # -- quotas (gateway.quotas) ---------------------------------------------

    def quota_window(self, scope: str, window: str, bucket: int) -> str:
        """A counter of one fixed window (expires with it)."""
        return self.join("q", scope, window, str(bucket))

    def quota_held(self, scope: str, counter: HeldCounter) -> str:
        """A counter that never expires."""
        return self.join("q", scope, counter)

    def quotas(self) -> str:
        """The SCAN pattern of every quota counter."""
        return self.join("q", "*")

    @staticmethod
    def quota_lease(counter_key: str) -> str:
        """The leases of the reservations a held counter counts."""
        return f"{counter_key}:leases"

    @staticmethod
    def quota_is_held(counter_key: str) -> bool:
        return counter_key.rsplit(":", 1)[-1] in _HELD

    @staticmethod
    def quota_tenant(counter_key: str) -> str:
        """The tenant in a counter key: <prefix>:q:<scope>:<tenant>[:...] ("" if none)."""
        parts = counter_key.split(":")
        return parts[3] if len(parts) > 4 and parts[2] in ("tenant", "root", "agent") else ""

    # -- everything else -----------------------------------------------------

    def principal(self, key_digest: str) -> str:
        """A principal issued an API key, under the key's hash."""
        return self.join("principal", key_digest)

    def idempotency(self, tenant: str, principal: str, key_digest: str) -> str:
        return self.join("idem", tenant, principal, key_digest)

    def llm_review(self, digest: str) -> str:
        """A cached verdict of the LLM reviewer."""
        return self.join("llm", digest)

    def reconcile_reported(self) -> str:
        """Digest of the findings the reconciler last recorded."""
        return self.join("reconcile", "reported")


# -- Lua scripts ---------------------------------------------------------------
# Redis runs a script without interleaving any other command: each one below is
# atomic, which is what it is for.

# Quota reservation. Guarantees: every counter a request touches is checked and,
# only if all are under their limits, all are incremented (window expiries set
# in the same step), so concurrent requests can never slip past a limit.
# KEYS: n counter keys, then the lease keys of the held ones among them.
# ARGV: limit_1, ttl_1, ..., limit_n, ttl_n, now, lease seconds, lease token.
# Returns {0, count_1, count_2, ...} on success, or {i, ttl_i} with the 1-based
# index of the first counter at its limit.
QUOTA_RESERVE = """
local n = (#ARGV - 3) / 2
local now = tonumber(ARGV[2 * n + 1])
local lease = tonumber(ARGV[2 * n + 2])
for i = 1, n do
  local limit = tonumber(ARGV[2 * i - 1])
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if current + 1 > limit then
    local ttl = redis.call('TTL', KEYS[i])
    return {i, ttl}
  end
end
local out = {0}
for i = 1, n do
  local ttl = tonumber(ARGV[2 * i])
  local value = redis.call('INCR', KEYS[i])
  if ttl > 0 and value == 1 then
    redis.call('EXPIRE', KEYS[i], ttl)
  end
  out[#out + 1] = value
end
for j = n + 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[j], '-inf', now - lease)
  redis.call('ZADD', KEYS[j], now, ARGV[2 * n + 3])
  redis.call('EXPIRE', KEYS[j], math.ceil(lease) + 1)
end
return out
"""

# Undo a reservation. Guarantees: a counter never goes below zero (a window that
# expired meanwhile has nothing to give back), and the reservation's lease goes.
# KEYS: n counter keys, then lease keys. ARGV: n, lease token.
QUOTA_RELEASE = """
local n = tonumber(ARGV[1])
for i = 1, n do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  if current > 0 then
    redis.call('DECR', KEYS[i])
  end
end
for j = n + 1, #KEYS do
  redis.call('ZREM', KEYS[j], ARGV[2])
end
return 1
"""

# Rebuild held counters in one atomic step. Guarantees: a rebuild never takes
# back a slot a request in flight holds (its live lease counts).
# KEYS: n counter keys, then their n lease keys. ARGV: now, lease seconds,
# floor_1 .. floor_n, where a floor is the slots the registry and the approval
# queue show as held. A counter above its floor plus its live leases is lowered
# to that; one below its floor is raised.
# Returns {key, before, after} for each counter it changed.
QUOTA_REBUILD = """
local n = #KEYS / 2
local now = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local out = {}
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[n + i], '-inf', now - lease)
  local live = redis.call('ZCARD', KEYS[n + i])
  local floor = tonumber(ARGV[2 + i])
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  local target = current
  if current > floor + live then
    target = floor + live
  elseif current < floor then
    target = floor
  end
  if target ~= current then
    redis.call('SET', KEYS[i], target)
    out[#out + 1] = {KEYS[i], current, target}
  end
end
return out
"""

# Create an agent in the built-in registry. Guarantees: of N concurrent requests
# for one name exactly one is created (registered and indexed in one step); a
# creation is never applied after its deadline (Redis's clock) nor after it was
# abandoned (tombstone).
# KEYS: record key, names index, tombstone, capability index keys...
# ARGV: record json, name, decision id, deadline (ms since the epoch), capabilities...
# Returns 1 created, 0 name taken, 2 already created by this decision (a
# repeated call), -1 too late (the caller gave up), -2 abandoned.
AGENT_CREATE = """
redis.replicate_commands()
if redis.call('EXISTS', KEYS[3]) == 1 then
  return -2
end
local existing = redis.call('GET', KEYS[1])
if existing then
  if cjson.decode(existing)['decision_id'] == ARGV[3] then
    return 2
  end
  return 0
end
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(ARGV[4]) then
  return -1
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
for i = 3, #ARGV - 2 do
  redis.call('SADD', KEYS[i + 1], ARGV[2])
end
return 1
"""

# Abandon a creation whose answer was lost. Guarantees: the creation, should it
# still arrive, is refused (tombstone), and an agent is removed only if this
# decision created it. KEYS: as AGENT_CREATE. ARGV: name, decision id,
# tombstone ttl. Returns 1 if removed.
AGENT_ABANDON = """
redis.call('SET', KEYS[3], '1', 'EX', ARGV[3])
local existing = redis.call('GET', KEYS[1])
if not existing or cjson.decode(existing)['decision_id'] ~= ARGV[2] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
for i = 4, #KEYS do
  redis.call('SREM', KEYS[i], ARGV[1])
end
return 1
"""

# Move an approval to its next state. Guarantees: a record leaves a state
# exactly once, so two approvers (or an approver and the sweeper) never both act
# on it; with a fence field, only while that field still holds the expected
# value; a pending record past its expiry cannot be approved or denied; the
# indexes change in the same step, so a half-done approval is never missing
# from the approving index.
# KEYS: record, its tenant's pending index, the approving index.
# ARGV: expected state, new record json, now (epoch seconds), expires_at (epoch
# seconds), 'expire' or '', fence field or '', expected fence value, new state,
# lease end (epoch seconds), record id.
APPROVAL_TRANSITION = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {'missing', ''} end
local current = cjson.decode(raw)
if current['state'] ~= ARGV[1] then return {'state', current['state']} end
if ARGV[1] == 'pending' and tonumber(ARGV[3]) >= tonumber(ARGV[4]) and ARGV[5] ~= 'expire' then
  return {'expired', current['state']}
end
if ARGV[6] ~= '' then
  local held = current[ARGV[6]]
  if held == nil or held == cjson.null then held = '' end
  if tostring(held) ~= ARGV[7] then return {'fence', current['state']} end
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[2])
end
if ARGV[8] ~= 'pending' then redis.call('ZREM', KEYS[2], ARGV[10]) end
if ARGV[8] == 'approving' then
  redis.call('ZADD', KEYS[3], ARGV[9], ARGV[10])
else
  redis.call('ZREM', KEYS[3], ARGV[10])
end
return {'ok', ARGV[1]}
"""

# Append records to the decision log. Guarantees: all records are appended and
# the head moved, or nothing is written: only if the head is still the one the
# caller chained after (compare-and-set) and only before the deadline on Redis's
# own clock (a frozen Redis does not apply it on waking).
# KEYS: stream, head. ARGV: deadline (ms on Redis's clock, "" for none), expected
# head ("seq:hash" or ""), then pairs of (new head, record json).
# Answers {status, current head, TIME}: OK, LATE (nothing written) or MOVED
# (nothing written; chain after that head).
# replicate_commands: TIME before writes needs effects replication, the default
# since Redis 5 (a no-op in Redis 7, kept for older servers).
AUDIT_APPEND = """
redis.replicate_commands()
local now = redis.call('TIME')
if ARGV[1] ~= '' and tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
    > tonumber(ARGV[1]) then
  return {'LATE', '', now[1], now[2]}
end
local head = redis.call('GET', KEYS[2]) or ''
if head ~= ARGV[2] then
  return {'MOVED', head, now[1], now[2]}
end
for i = 3, #ARGV, 2 do
  redis.call('XADD', KEYS[1], '*', 'record', ARGV[i + 1])
end
redis.call('SET', KEYS[2], ARGV[#ARGV - 1])
return {'OK', ARGV[#ARGV - 1], now[1], now[2]}
"""
