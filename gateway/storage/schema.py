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
    "AGENT_RETIRE",
    "AGENT_TOUCH",
    "APPROVAL_TRANSITION",
    "AUDIT_APPEND",
    "COST_CREATED",
    "COST_HOLD",
    "COST_REBUILD",
    "COST_RETIRED",
    "COST_USAGE",
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

    def agent_activity(self, tenant: str) -> str:
        """When each agent of a tenant was last active: name -> epoch seconds."""
        return self.join("reg", tenant, "activity")

    def agents_expiring(self) -> str:
        """Agents with a ttl, in every tenant: agent id scored by its expiry (epoch seconds)."""
        return self.join("reg", "expiring")

    # -- retirement and ephemeral agents (gateway.lifecycle) -----------------

    def retirement_claim(self, tenant: str, decision_id: str) -> str:
        """Held while a retirement of the agent created by ``decision_id`` is proposed:
        one proposal per agent, whichever replica sweeps."""
        return self.join("life", tenant, "retire", decision_id)

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

    # -- swarm notifications (gateway.notifications) --------------------------

    def swarm_events(self, tenant: str) -> str:
        """A tenant's stream of swarm events (any consumer may XREAD it)."""
        return self.join("swarm", tenant, "events")

    def swarm_outbox(self) -> str:
        """The stream of webhook deliveries not yet made (consumer group "delivery")."""
        return self.join("swarm", "outbox")

    def swarm_dead_letters(self) -> str:
        """The stream of webhook deliveries given up after every retry."""
        return self.join("swarm", "dead")

    # -- cost tracking (gateway.costs) ---------------------------------------

    def cost_active(self, tenant: str) -> str:
        """Hash: each active agent of the tenant -> its estimated $/day."""
        return self.join("cost", tenant, "active")

    def cost_active_total(self, tenant: str) -> str:
        """The sum of ``cost_active``, kept beside it so reading it is one GET."""
        return self.join("cost", tenant, "active", "total")

    def cost_held(self, tenant: str) -> str:
        """Hash: each admission of the tenant in flight -> "<$/day> <expiry>" (COST_HOLD)."""
        return self.join("cost", tenant, "held")

    def cost_day(self, tenant: str, day: str) -> str:
        """Hash of one ISO day's figures: spawned, retired, total, estimated, actual, tokens."""
        return self.join("cost", tenant, "day", day)

    def cost_day_spenders(self, tenant: str, day: str, by: str, measure: str) -> str:
        """Sorted set of one day's usage by agent or creator (``by``), in cost or tokens."""
        return self.join("cost", tenant, "day", day, by, measure)

    def cost_days(self, tenant: str) -> str:
        """Sorted set of the ISO days that have figures, scored by day ordinal."""
        return self.join("cost", tenant, "days")

    # -- the web console (gateway.fronts.console) ----------------------------

    def console_session(self, session_id: str) -> str:
        """One signed-in console user (JSON: principal, CSRF token), with an expiry."""
        return self.join("console", "session", session_id)

    def settings_overrides(self) -> str:
        """Hash: tenant -> JSON of the settings the console changed over the config file."""
        return self.join("settings", "overrides")

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
# A ttl agent enters the expiring index in the same step (gateway.lifecycle).
# KEYS: record key, names index, tombstone, expiring index, capability index keys...
# ARGV: record json, name, decision id, deadline (ms since the epoch), expiry
# (epoch seconds, '' for none), agent id.
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
for i = 5, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[2])
end
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[6])
end
return 1
"""

# Abandon a creation whose answer was lost. Guarantees: the creation, should it
# still arrive, is refused (tombstone), and an agent is removed only if this
# decision created it. KEYS: as AGENT_CREATE. ARGV: name, decision id,
# tombstone ttl, agent id. Returns 1 if removed.
AGENT_ABANDON = """
redis.call('SET', KEYS[3], '1', 'EX', ARGV[3])
local existing = redis.call('GET', KEYS[1])
if not existing or cjson.decode(existing)['decision_id'] ~= ARGV[2] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[4])
for i = 5, #KEYS do
  redis.call('SREM', KEYS[i], ARGV[1])
end
return 1
"""

# Record that an agent was active. Guarantees: only for a registered agent, and
# the time never moves back (a late report does not make an agent look idle).
# KEYS: record key, activity hash. ARGV: name, when (epoch seconds).
# Returns 1 if the agent exists.
AGENT_TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local seen = redis.call('HGET', KEYS[2], ARGV[1])
if not seen or tonumber(seen) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
return 1
"""

# Retire an agent. Guarantees: removed, unindexed and forgotten in one step, and
# only the agent of that decision (not a namesake created since); exactly one
# caller gets 1, so slots are released and the retirement logged once whichever
# replica or sweep gets there first.
# KEYS: record key, names index, activity hash, expiring index, capability
# index keys... ARGV: name, decision id, agent id. Returns 1 if removed.
AGENT_RETIRE = """
local existing = redis.call('GET', KEYS[1])
if not existing or cjson.decode(existing)['decision_id'] ~= ARGV[2] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[3])
for i = 5, #KEYS do
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


# The cost scripts add floats with GET/SET rather than INCRBYFLOAT and
# HINCRBYFLOAT: Redis 6.2 (the embedded server) rewrites those two for the AOF
# and crashed in feedAppendOnlyFile running them inside a script.
# Cost tracking: an agent starts counting against its tenant's estimated daily
# total. Guarantees: an agent is counted once however often it is reported
# (a resumed approval creates it again), and the running total, the day's
# spawned count and the day's closing figures (total agents, estimated $/day)
# change in the same step; days older than the retention leave the index; the
# admission's hold (COST_HOLD) ends in the same step, so its cost is never
# counted twice nor missing in between.
# KEYS: active hash, active total, day hash, days index, held hash.
# ARGV: agent name, estimated $/day, ISO day, day ordinal, retention in days,
# decision id (whose hold ends).
# Returns {1 if counted now else 0, the tenant's total after}.
COST_CREATED = """
redis.call('HDEL', KEYS[5], ARGV[6])
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return {0, redis.call('GET', KEYS[2]) or '0'}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local sum = tonumber(redis.call('GET', KEYS[2]) or '0') + tonumber(ARGV[2])
local total = string.format('%.17g', sum)
redis.call('SET', KEYS[2], total)
redis.call('HINCRBY', KEYS[3], 'spawned', 1)
redis.call('HSET', KEYS[3], 'total', redis.call('HLEN', KEYS[1]), 'estimated', total)
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5]) * 86400)
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', tonumber(ARGV[4]) - tonumber(ARGV[5]))
return {1, total}
"""

# Cost tracking: an admission's hold on the tenant's total while it is in
# flight, taken when policy reads the total. Guarantees: the figure returned is
# the active total plus every other live hold, and this hold is in place before
# the script returns, so of two admissions at once the later one sees the
# earlier one's cost (the cost rule cannot be passed twice under the limit);
# holds past their expiry (a gateway that died mid-admission) stop counting and
# are dropped; a hold for the same agent name is not added (one name makes at
# most one agent, so a burst of duplicates does not count N times for the one
# that can be created). A hold ends when the agent is counted (COST_CREATED), or
# when the admission is denied, queued or fails (HDEL).
# KEYS: active total, held hash. ARGV: decision id, this admission's $/day,
# now, expiry (both epoch seconds), agent name.
# Returns the active total plus the other live holds, as text.
COST_HOLD = """
local sum = tonumber(redis.call('GET', KEYS[1]) or '0')
local now = tonumber(ARGV[3])
local held = redis.call('HGETALL', KEYS[2])
for i = 1, #held, 2 do
  if held[i] ~= ARGV[1] then
    local cost, expiry, name = string.match(held[i + 1], '^(%S+) (%S+) (.*)$')
    if cost == nil or tonumber(expiry) <= now then
      redis.call('HDEL', KEYS[2], held[i])
    elseif name ~= ARGV[5] then
      sum = sum + tonumber(cost)
    end
  end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[4] .. ' ' .. ARGV[5])
return string.format('%.17g', sum)
"""

# Cost tracking: a retired agent stops counting. Guarantees: an agent is taken
# off once (a second retirement changes nothing), the total never goes below
# zero and is exactly zero when no agent is left (no float residue), and the
# day's retired count and closing figures change in the same step.
# KEYS: the first four of COST_CREATED. ARGV: agent name, ISO day, day ordinal, retention in days.
# Returns {1 if taken off now else 0, the tenant's total after}.
COST_RETIRED = """
local cost = redis.call('HGET', KEYS[1], ARGV[1])
if not cost then
  return {0, redis.call('GET', KEYS[2]) or '0'}
end
redis.call('HDEL', KEYS[1], ARGV[1])
local total = tonumber(redis.call('GET', KEYS[2]) or '0') - tonumber(cost)
redis.call('SET', KEYS[2], string.format('%.17g', total))
if total < 0 or redis.call('HLEN', KEYS[1]) == 0 then
  total = 0
  redis.call('SET', KEYS[2], '0')
end
redis.call('HINCRBY', KEYS[3], 'retired', 1)
redis.call('HSET', KEYS[3], 'total', redis.call('HLEN', KEYS[1]), 'estimated', tostring(total))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[4]) * 86400)
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
return {1, tostring(total)}
"""

# Cost tracking: the reconciler puts the tenant's active set back in line with
# the registry. Guarantees: an agent the registry has and the set lacks (its
# counting failed after creation, or it predates cost tracking) is added unless
# it was counted meanwhile; an entry the registry no longer has is removed only
# if it still holds the cost read before the registry was listed (so an agent
# counted after that read is never taken off); the total is summed afresh from
# the set (no float drift); the day's closing figures follow when anything changed.
# KEYS: the first four of COST_CREATED. ARGV: number of agents to add, then name/cost pairs to
# add, then name/cost pairs to remove, ISO day, day ordinal, retention in days
# (the last three always last).
# Returns {added, removed, total before, total after}.
COST_REBUILD = """
local n = #ARGV - 3
local adds = tonumber(ARGV[1])
local added, removed = 0, 0
local before = redis.call('GET', KEYS[2]) or '0'
for i = 2, 1 + 2 * adds, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then added = added + 1 end
end
for i = 2 + 2 * adds, n, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    removed = removed + 1
  end
end
if added + removed == 0 then
  return {0, 0, before, before}
end
local sum = 0
for _, cost in ipairs(redis.call('HVALS', KEYS[1])) do sum = sum + tonumber(cost) end
local total = string.format('%.17g', sum)
redis.call('SET', KEYS[2], total)
redis.call('HSET', KEYS[3], 'total', redis.call('HLEN', KEYS[1]), 'estimated', total)
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[n + 3]) * 86400)
redis.call('ZADD', KEYS[4], ARGV[n + 2], ARGV[n + 1])
return {added, removed, before, total}
"""

# Cost tracking: one usage report. Guarantees: the tenant's day, the agent's
# and the creator's figures all take the report or none does, and expire with
# the retention.
# KEYS: day hash, days index, then the day's sorted sets: agent cost, agent
# tokens, creator cost, creator tokens.
# ARGV: agent, creator, tokens, cost, ISO day, day ordinal, retention in days.
# Returns the agent's figures of the day so far: {tokens, cost}.
COST_USAGE = """
local actual = tonumber(redis.call('HGET', KEYS[1], 'actual') or '0') + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'actual', string.format('%.17g', actual))
redis.call('HINCRBY', KEYS[1], 'tokens', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'reports', 1)
local cost = redis.call('ZINCRBY', KEYS[3], ARGV[4], ARGV[1])
local tokens = redis.call('ZINCRBY', KEYS[4], ARGV[3], ARGV[1])
redis.call('ZINCRBY', KEYS[5], ARGV[4], ARGV[2])
redis.call('ZINCRBY', KEYS[6], ARGV[3], ARGV[2])
for i = 1, #KEYS do
  if i ~= 2 then redis.call('EXPIRE', KEYS[i], tonumber(ARGV[7]) * 86400) end
end
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
return {tokens, cost}
"""
