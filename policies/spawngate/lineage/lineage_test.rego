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

test_template_override_replaces_the_tenant_depth if {
	creator := fx.creator
	template := fx.template
	denied := lineage.deny with input.creator as creator
		with input.tenant as object.union(fx.tenant, {"lineage": {"max_depth": 3, "templates": {"researcher": {"max_depth": 1}}}})
		with input.template as template
		with input.effective as object.union(fx.effective, {"depth": 2})
	fx.rules(denied) == {"SG-LINEAGE-001"}
	some r in denied
	r.message == "the new agent would be at depth 2 below root 'orc'; tenant 'acme' allows at most depth 1 for template 'researcher'"
}

test_template_override_may_allow_deeper if {
	creator := fx.creator
	template := fx.template
	count(lineage.deny) == 0 with input.creator as creator with input.template as template
		with input.tenant as object.union(fx.tenant, {"lineage": {"max_depth": 1, "templates": {"researcher": {"max_depth": 3}}}})
		with input.effective as object.union(fx.effective, {"depth": 3})
}

test_override_for_another_template_does_not_apply if {
	creator := fx.creator
	template := fx.template
	denied := lineage.deny with input.creator as creator with input.template as template
		with input.tenant as object.union(fx.tenant, {"lineage": {"max_depth": 1, "templates": {"devops": {"max_depth": 3}}}})
		with input.effective as object.union(fx.effective, {"depth": 2})
	fx.rules(denied) == {"SG-LINEAGE-001"}
}

test_non_numeric_override_falls_back_to_the_tenant_depth if {
	creator := fx.creator
	template := fx.template
	denied := lineage.deny with input.creator as creator with input.template as template
		with input.tenant as object.union(fx.tenant, {"lineage": {"max_depth": 1, "templates": {"researcher": {"max_depth": "9"}}}})
		with input.effective as object.union(fx.effective, {"depth": 2})
	fx.rules(denied) == {"SG-LINEAGE-001"}
}
