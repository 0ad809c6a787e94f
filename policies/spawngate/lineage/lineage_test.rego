package spawngate.lineage_test

import rego.v1

import data.spawngate.fixtures_test as fx
import data.spawngate.lineage

test_within_depth_passes if {
	creator := fx.creator
	effective := fx.effective
	tenant := fx.tenant
	count(lineage.deny) == 0 with input.creator as creator with input.tenant as tenant with input.effective as effective
}

test_too_deep_is_denied if {
	creator := fx.creator
	tenant := fx.tenant
	denied := lineage.deny with input.creator as creator with input.tenant as tenant
		with input.effective as object.union(fx.effective, {"depth": 4})
	fx.rules(denied) == {"SG-LINEAGE-001"}
	some r in denied
	r.message == "the new agent would be at depth 4 below root 'orc'; tenant 'acme' allows at most depth 3"
}

test_missing_limit_is_denied if {
	creator := fx.creator
	effective := fx.effective
	denied := lineage.deny with input.creator as creator with input.tenant as object.remove(fx.tenant, ["lineage"])
		with input.effective as effective
	fx.rules(denied) == {"SG-LINEAGE-001"}
}
