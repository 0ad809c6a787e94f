package spawngate.cost_test

import rego.v1

import data.spawngate.cost
import data.spawngate.fixtures_test as fx

test_cost_under_ceiling_passes if {
	effective := fx.effective
	count(cost.deny) == 0 with input.effective as effective
}

test_cost_above_ceiling_is_denied if {
	denied := cost.deny with input.effective as object.union(fx.effective, {"estimated_cost_per_day": 150})
	fx.rules(denied) == {"SG-COST-001"}
	some r in denied
	r.message == "estimated cost 150 $/day is above the ceiling of 100 $/day"
}

test_missing_cost_is_denied if {
	fx.rules(cost.deny) == {"SG-COST-001"} with input.effective as object.remove(fx.effective, ["estimated_cost_per_day"])
}
