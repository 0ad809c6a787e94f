package spawngate.main_test

import rego.v1

import data.spawngate.fixtures_test as fx
import data.spawngate.main

_admission(request, effective) := result if {
	creator := fx.creator
	tenant := fx.tenant
	template := fx.template
	catalog := fx.catalog
	swarm := fx.swarm
	usage := fx.usage
	result := main.admission with input.creator as creator with input.tenant as tenant
		with input.request as request with input.effective as effective with input.template as template
		with input.catalog as catalog with input.swarm as swarm with input.usage as usage with input.kind as "agent"
}

test_clean_request_is_allowed if {
	result := _admission(fx.request, fx.effective)
	count(result.deny) == 0
	count(result.review) == 0
}

test_every_deny_is_reported_not_just_the_first if {
	result := _admission(
		object.union(fx.request, {"tenant": "globex"}),
		object.union(fx.effective, {"tools": ["shell"], "estimated_cost_per_day": 500}),
	)
	fx.rules(result.deny) == {"SG-TENANT-001", "SG-TOOLS-001", "SG-COST-001"}
}

test_create_inactive_obligation if {
	catalog := fx.catalog
	swarm := fx.swarm
	creator := fx.creator
	effective := fx.effective
	request := fx.request
	template := fx.template
	result := main.admission with input.creator as creator
		with input.tenant as object.union(fx.tenant, {"create_inactive": true})
		with input.request as request with input.effective as effective with input.template as template
		with input.catalog as catalog with input.swarm as swarm with input.kind as "agent"
	result.obligations == {"create_inactive"}
}
