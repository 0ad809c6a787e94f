package spawngate.approval_test

import rego.v1

import data.spawngate.approval
import data.spawngate.fixtures_test as fx

_review(tenant, template, effective, usage) := _review_swarm(tenant, template, effective, usage, fx.swarm)

_review_swarm(tenant, template, effective, usage, swarm) := reviewed if {
	reviewed := approval.review with input.tenant as tenant
		with input.template as template with input.effective as effective with input.usage as usage
		with input.swarm as swarm
}

test_plain_request_needs_no_review if {
	count(_review(fx.tenant, fx.template, fx.effective, fx.usage)) == 0
}

test_mode_always_reviews_everything if {
	reviewed := _review(object.union(fx.tenant, {"approval_mode": "always"}), fx.template, fx.effective, fx.usage)
	fx.rules(reviewed) == {"SG-APPROVAL-001"}
}

test_missing_mode_counts_as_always if {
	reviewed := _review(object.remove(fx.tenant, ["approval_mode"]), fx.template, fx.effective, fx.usage)
	fx.rules(reviewed) == {"SG-APPROVAL-001"}
}

test_devops_template_is_reviewed if {
	reviewed := _review(fx.tenant, object.union(fx.template, {"name": "devops"}), fx.effective, fx.usage)
	fx.rules(reviewed) == {"SG-APPROVAL-002"}
}

test_risky_capability_and_tool_are_reviewed if {
	reviewed := _review(fx.tenant, fx.template, object.union(fx.effective, {"capabilities": ["kubernetes"], "tools": ["shell"]}), fx.usage)
	fx.rules(reviewed) == {"SG-APPROVAL-003"}
	some r in reviewed
	r.message == "requests kubernetes, shell, which need human approval"
}

test_cost_above_tenant_limit_is_reviewed if {
	reviewed := _review(fx.tenant, fx.template, object.union(fx.effective, {"estimated_cost_per_day": 12}), fx.usage)
	fx.rules(reviewed) == {"SG-APPROVAL-004"}
}

test_cost_at_tenant_limit_is_not_reviewed if {
	count(_review(fx.tenant, fx.template, object.union(fx.effective, {"estimated_cost_per_day": 10}), fx.usage)) == 0
}

# The ADR's rule: the tenant's total after this creation, not the agent alone.
test_tenant_total_above_limit_is_reviewed if {
	swarm := object.union(fx.swarm, {"active_cost_per_day": 8})
	reviewed := _review_swarm(fx.tenant, fx.template, fx.effective, fx.usage, swarm)
	fx.rules(reviewed) == {"SG-APPROVAL-004"}
	some r in reviewed
	r.message == "tenant 'acme' estimated cost would be 11 $/day (active agents 8 + this agent 3), above its limit of 10 $/day"
	r.fix == "lower estimated_cost_per_day to at most 2 or retire idle agents to avoid the approval queue"
}

test_tenant_total_at_limit_is_not_reviewed if {
	swarm := object.union(fx.swarm, {"active_cost_per_day": 7})
	count(_review_swarm(fx.tenant, fx.template, fx.effective, fx.usage, swarm)) == 0
}

test_tenant_already_over_limit_says_so if {
	swarm := object.union(fx.swarm, {"active_cost_per_day": 12})
	reviewed := _review_swarm(fx.tenant, fx.template, fx.effective, fx.usage, swarm)
	some r in reviewed
	r.rule == "SG-APPROVAL-004"
	startswith(r.fix, "retire idle agents")
}

# A missing total must never switch the review off.
test_missing_tenant_total_is_reviewed if {
	swarm := object.remove(fx.swarm, ["active_cost_per_day"])
	fx.rules(_review_swarm(fx.tenant, fx.template, fx.effective, fx.usage, swarm)) == {"SG-APPROVAL-004"}
}

test_mistyped_tenant_total_is_reviewed if {
	swarm := object.union(fx.swarm, {"active_cost_per_day": "0"})
	fx.rules(_review_swarm(fx.tenant, fx.template, fx.effective, fx.usage, swarm)) == {"SG-APPROVAL-004"}
}

test_auto_approve_rules_all_met if {
	count(_review(object.union(fx.tenant, {"approval_mode": "auto_approve_rules"}), fx.template, fx.effective, fx.usage)) == 0
}

test_auto_approve_rules_each_unmet_condition_is_a_reason if {
	reviewed := _review(
		object.union(fx.tenant, {"approval_mode": "auto_approve_rules"}),
		object.union(fx.template, {"pre_approved": false}),
		object.union(fx.effective, {"capabilities": ["market_research", "image_generation"]}),
		{"tenant_active": 21, "tenant_day": 4},
	)
	fx.rules(reviewed) == {"SG-APPROVAL-005"}
	count(reviewed) == 4
}

test_unknown_mode_is_reviewed if {
	reviewed := _review(object.union(fx.tenant, {"approval_mode": "yolo"}), fx.template, fx.effective, fx.usage)
	fx.rules(reviewed) == {"SG-APPROVAL-006"}
}
