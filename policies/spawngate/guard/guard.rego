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

_strings := [["creator", "id"], ["creator", "tenant"], ["tenant", "id"], ["request", "name"], ["kind"]]

_arrays := [["creator", "tools"], ["effective", "tools"], ["effective", "capabilities"], ["catalog"]]

_numbers := [["creator", "depth"], ["effective", "depth"], ["effective", "estimated_cost_per_day"]]

# METADATA
# title: Required input fields
# description: Deny when an input field every policy relies on is missing or mistyped.
# custom:
#   id: SG-INPUT-001
deny contains lib.reason("SG-INPUT-001", lib.msg(["policy input field '", concat(".", path), "' is missing or not a string"]), _fix) if {
	some path in _strings
	not is_string(object.get(input, path, null))
}

deny contains lib.reason("SG-INPUT-001", lib.msg(["policy input field '", concat(".", path), "' is missing or not a list"]), _fix) if {
	some path in _arrays
	not is_array(object.get(input, path, null))
}

deny contains lib.reason("SG-INPUT-001", lib.msg(["policy input field '", concat(".", path), "' is missing or not a number"]), _fix) if {
	some path in _numbers
	not is_number(object.get(input, path, null))
}

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

deny contains _no_number("spawngate.tools.max_spawning_depth") if not is_number(data.spawngate.tools.max_spawning_depth)

deny contains _no_number("spawngate.cost.hard_max_cost_per_day") if not is_number(data.spawngate.cost.hard_max_cost_per_day)

deny contains _no_number("spawngate.danger.deny_at") if not is_number(data.spawngate.danger.deny_at)

_no_list(name) := lib.reason("SG-INPUT-002", lib.msg(["policy data '", name, "' is missing or not a list"]), _fix)

_no_number(name) := lib.reason("SG-INPUT-002", lib.msg(["policy data '", name, "' is missing or not a number"]), _fix)
