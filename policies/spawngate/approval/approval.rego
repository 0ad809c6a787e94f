# METADATA
# title: Human approval rules
# description: >
#   Which requests a human must approve before the agent is created. These
#   rules only ever add "review"; a deny from any other policy still wins.
#   The danger score is judged separately in spawngate.danger.
# custom:
#   severity: medium
package spawngate.approval

import rego.v1

import data.spawngate.lib

_tenant := lib.str(input, ["tenant", "id"])

# A missing approval mode counts as "always": the strictest.
_mode := lib.str(input, ["tenant", "approval_mode"]) if {
	is_string(object.get(input, ["tenant", "approval_mode"], null))
} else := "always"

_template := lib.str(input, ["template", "name"])

_caps := lib.items(input, ["effective", "capabilities"])

_tools := lib.items(input, ["effective", "tools"])

_auto_caps := {c | some c in data.spawngate.approval.auto_approve.capabilities}

default _max_swarm := 0

_max_swarm := data.spawngate.approval.auto_approve.max_swarm_size

default _max_daily := 0

_max_daily := data.spawngate.approval.auto_approve.max_daily_spawns

# METADATA
# title: Tenant requires approval for every creation
# description: Seed 002 mode.
# custom:
#   id: SG-APPROVAL-001
review contains lib.reason("SG-APPROVAL-001", lib.msg(["tenant '", _tenant, "' requires human approval for every creation"]), null) if {
	_mode == "always"
}

# METADATA
# title: Template always needs a human
# custom:
#   id: SG-APPROVAL-002
review contains lib.reason("SG-APPROVAL-002", message, null) if {
	_template in {t | some t in data.spawngate.approval.require_approval_templates}
	message := lib.msg(["template '", _template, "' can affect infrastructure and always needs human approval"])
}

# METADATA
# title: Risky capabilities or tools
# custom:
#   id: SG-APPROVAL-003
review contains lib.reason("SG-APPROVAL-003", message, fix) if {
	risky_caps := _caps & {c | some c in data.spawngate.approval.risky_capabilities}
	risky_tools := _tools & {t | some t in data.spawngate.approval.risky_tools}
	risky := risky_caps | risky_tools
	count(risky) > 0
	message := lib.msg(["requests ", lib.listing(risky), ", which need human approval"])
	fix := lib.msg(["drop ", lib.listing(risky), " to avoid the approval queue"])
}

# METADATA
# title: The tenant's estimated daily cost above its limit
# description: >
#   The ADR's rule: the estimated $/day of the tenant's active agents after this
#   creation (input.swarm.active_cost_per_day, which also holds the cost of the
#   tenant's other admissions in flight, plus this agent's estimate) above
#   the tenant's max_cost_per_day needs a human. A missing or mistyped figure
#   counts as huge and a missing limit as zero, so the review still fires (and
#   spawngate.guard denies the missing fact).
# custom:
#   id: SG-APPROVAL-004
review contains lib.reason("SG-APPROVAL-004", message, fix) if {
	cost := lib.number(input, ["effective", "estimated_cost_per_day"], 1000000000)
	active := lib.number(input, ["swarm", "active_cost_per_day"], 1000000000)
	limit := lib.number(input, ["tenant", "max_cost_per_day"], 0)
	after := active + cost
	after > limit
	message := lib.msg([
		"tenant '", _tenant, "' estimated cost would be ", lib.num(after), " $/day (active agents ",
		lib.num(active), " + this agent ", lib.num(cost), "), above its limit of ", lib.num(limit), " $/day",
	])
	fix := _cost_fix(limit - active)
}

_cost_fix(room) := lib.msg(["lower estimated_cost_per_day to at most ", lib.num(room), " or retire idle agents to avoid the approval queue"]) if {
	room >= 0
} else := "retire idle agents (the active ones are over the limit already) or ask a human to approve"

# METADATA
# title: Auto-approve conditions not met
# description: Seed 003 mode. Each unmet condition is its own reason.
# custom:
#   id: SG-APPROVAL-005
review contains lib.reason("SG-APPROVAL-005", message, null) if {
	_mode == "auto_approve_rules"
	object.get(input, ["template", "pre_approved"], false) != true
	message := lib.msg(["not auto-approved: template '", _template, "' is not pre-approved"])
}

review contains lib.reason("SG-APPROVAL-005", message, null) if {
	_mode == "auto_approve_rules"
	extra := _caps - _auto_caps
	count(extra) > 0
	message := lib.msg(["not auto-approved: capabilities ", lib.listing(extra), " are outside the auto-approve list (", lib.listing(_auto_caps), ")"])
}

review contains lib.reason("SG-APPROVAL-005", message, null) if {
	_mode == "auto_approve_rules"
	active := lib.number(input, ["usage", "tenant_active"], 1000000000)
	active > _max_swarm
	message := lib.msg(["not auto-approved: the swarm would have ", lib.num(active), " active agents (auto-approve up to ", lib.num(_max_swarm), ")"])
}

review contains lib.reason("SG-APPROVAL-005", message, null) if {
	_mode == "auto_approve_rules"
	today := lib.number(input, ["usage", "tenant_day"], 1000000000)
	today > _max_daily
	message := lib.msg(["not auto-approved: this would be creation ", lib.num(today), " today in the tenant (auto-approve up to ", lib.num(_max_daily), ")"])
}

# METADATA
# title: Unknown approval mode
# custom:
#   id: SG-APPROVAL-006
review contains lib.reason("SG-APPROVAL-006", lib.msg(["unknown approval mode '", _mode, "'; a human decides"]), null) if {
	not _mode in {"always", "risk_based", "auto_approve_rules"}
}
