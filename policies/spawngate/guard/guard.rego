# METADATA
# title: Input and data completeness guard
# description: >
#   The gateway always sends these input fields, and policies/ always ships
#   these data lists. If one is missing or has the wrong type, other rules
#   could be evaluating against nothing, so the request is denied here instead
#   of being let through by silence.
# custom:
#   severity: critical
package spawngate.guard

import rego.v1

import data.spawngate.lib

_fix := "report this to the gateway operators"

# METADATA
# title: Required input fields
# description: Deny when an input field every policy relies on is missing or mistyped.
# custom:
#   id: SG-INPUT-001
deny contains _bad("creator.id", "a string") if not is_string(input.creator.id)

deny contains _bad("creator.tenant", "a string") if not is_string(input.creator.tenant)

deny contains _bad("tenant.id", "a string") if not is_string(input.tenant.id)

deny contains _bad("request.name", "a string") if not is_string(input.request.name)

deny contains _bad("kind", "a string") if not is_string(input.kind)

deny contains _bad("creator.tools", "a list") if not is_array(input.creator.tools)

deny contains _bad("effective.tools", "a list") if not is_array(input.effective.tools)

deny contains _bad("effective.capabilities", "a list") if not is_array(input.effective.capabilities)

deny contains _bad("catalog", "a list") if not is_array(input.catalog)

deny contains _bad("creator.depth", "a number") if not is_number(input.creator.depth)

deny contains _bad("effective.depth", "a number") if not is_number(input.effective.depth)

deny contains _bad("effective.estimated_cost_per_day", "a number") if not is_number(input.effective.estimated_cost_per_day)

# Without the swarm fact the dedup rule (SG-DEDUP-001) would see no covering agent and
# stay silent: the gateway always sends it (an empty list when dedup is off).
deny contains _bad("swarm.covering_agents", "a list") if not is_array(input.swarm.covering_agents)

# Without the tenant's estimated daily total the cost review (SG-APPROVAL-004) would
# see only this agent's estimate: the gateway always sends it (gateway.costs).
deny contains _bad("swarm.active_cost_per_day", "a number") if not is_number(input.swarm.active_cost_per_day)

_bad(field, kind) := lib.reason("SG-INPUT-001", lib.msg(["policy input field '", field, "' is missing or not ", kind]), _fix)

# METADATA
# title: Required policy data
# description: Deny when a data file a rule relies on is missing or mistyped.
# custom:
#   id: SG-INPUT-002
deny contains _no_list("spawngate.tools.spawning_tools") if not is_array(data.spawngate.tools.spawning_tools)

deny contains _no_list("spawngate.capabilities.default_allowed") if not is_array(data.spawngate.capabilities.default_allowed)

deny contains _no_list("spawngate.capabilities.allowed_providers") if not is_array(data.spawngate.capabilities.allowed_providers)

deny contains _no_list("spawngate.approval.require_approval_templates") if not is_array(data.spawngate.approval.require_approval_templates)

deny contains _no_list("spawngate.approval.risky_capabilities") if not is_array(data.spawngate.approval.risky_capabilities)

deny contains _no_list("spawngate.approval.risky_tools") if not is_array(data.spawngate.approval.risky_tools)

deny contains _no_number("spawngate.cost.hard_max_cost_per_day") if not is_number(data.spawngate.cost.hard_max_cost_per_day)

deny contains _no_number("spawngate.danger.deny_at") if not is_number(data.spawngate.danger.deny_at)

_no_list(name) := lib.reason("SG-INPUT-002", lib.msg(["policy data '", name, "' is missing or not a list"]), _fix)

_no_number(name) := lib.reason("SG-INPUT-002", lib.msg(["policy data '", name, "' is missing or not a number"]), _fix)
