package spawngate.guard_test

import rego.v1

import data.spawngate.fixtures_test as fx
import data.spawngate.guard

test_complete_input_passes if {
	catalog := fx.catalog
	swarm := fx.swarm
	creator := fx.creator
	effective := fx.effective
	request := fx.request
	tenant := fx.tenant
	denied := guard.deny with input.creator as creator with input.tenant as tenant
		with input.request as request with input.effective as effective
		with input.catalog as catalog with input.kind as "agent" with input.swarm as swarm
	count(denied) == 0
}

test_missing_creator_tools_is_denied if {
	catalog := fx.catalog
	swarm := fx.swarm
	effective := fx.effective
	request := fx.request
	tenant := fx.tenant
	denied := guard.deny with input.creator as object.remove(fx.creator, ["tools"]) with input.tenant as tenant
		with input.request as request with input.effective as effective
		with input.catalog as catalog with input.kind as "agent" with input.swarm as swarm
	fx.rules(denied) == {"SG-INPUT-001"}
	some r in denied
	contains(r.message, "creator.tools")
}

test_wrong_type_is_denied if {
	catalog := fx.catalog
	swarm := fx.swarm
	effective := fx.effective
	request := fx.request
	tenant := fx.tenant
	denied := guard.deny with input.creator as object.union(fx.creator, {"depth": "zero"}) with input.tenant as tenant
		with input.request as request with input.effective as effective
		with input.catalog as catalog with input.kind as "agent" with input.swarm as swarm
	some r in denied
	r.message == "policy input field 'creator.depth' is missing or not a number"
}

test_missing_tenant_cost_total_is_denied if {
	catalog := fx.catalog
	creator := fx.creator
	effective := fx.effective
	request := fx.request
	tenant := fx.tenant
	denied := guard.deny with input.creator as creator with input.tenant as tenant
		with input.request as request with input.effective as effective
		with input.catalog as catalog with input.kind as "agent"
		with input.swarm as object.remove(fx.swarm, ["active_cost_per_day"])
	fx.rules(denied) == {"SG-INPUT-001"}
	some r in denied
	r.message == "policy input field 'swarm.active_cost_per_day' is missing or not a number"
}

test_empty_input_is_denied if {
	count(guard.deny) >= 10
}

test_missing_policy_data_is_denied if {
	catalog := fx.catalog
	swarm := fx.swarm
	creator := fx.creator
	effective := fx.effective
	request := fx.request
	tenant := fx.tenant
	denied := guard.deny with input.creator as creator with input.tenant as tenant
		with input.request as request with input.effective as effective
		with input.catalog as catalog with input.kind as "agent" with input.swarm as swarm
		with data.spawngate.tools.spawning_tools as "create_agent"
	fx.rules(denied) == {"SG-INPUT-002"}
}

test_missing_swarm_fact_is_denied if {
	catalog := fx.catalog
	creator := fx.creator
	effective := fx.effective
	request := fx.request
	tenant := fx.tenant
	denied := guard.deny with input.creator as creator with input.tenant as tenant
		with input.request as request with input.effective as effective
		with input.catalog as catalog with input.kind as "agent"
	fx.rules(denied) == {"SG-INPUT-001"}
	some r in denied
	contains(r.message, "swarm.covering_agents")
}
