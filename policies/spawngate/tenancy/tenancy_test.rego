package spawngate.tenancy_test

import rego.v1

import data.spawngate.fixtures_test as fx
import data.spawngate.tenancy

test_same_tenant_passes if {
	creator := fx.creator
	template := fx.template
	tenant := fx.tenant
	denied := tenancy.deny with input.creator as creator with input.tenant as tenant
		with input.request as object.union(fx.request, {"tenant": "acme", "next_agent": "acme/bob"})
		with input.template as template
	count(denied) == 0
}

test_request_naming_other_tenant_is_denied if {
	creator := fx.creator
	tenant := fx.tenant
	denied := tenancy.deny with input.creator as creator with input.tenant as tenant
		with input.request as object.union(fx.request, {"tenant": "globex"})
	fx.rules(denied) == {"SG-TENANT-001"}
	some r in denied
	r.message == "cross-tenant creation refused: the request names tenant 'globex' but the caller belongs to 'acme'"
	r.fix == "omit 'tenant' or set it to 'acme'"
}

test_next_agent_in_other_tenant_is_denied if {
	creator := fx.creator
	tenant := fx.tenant
	denied := tenancy.deny with input.creator as creator with input.tenant as tenant
		with input.request as object.union(fx.request, {"next_agent": "globex/boss"})
	fx.rules(denied) == {"SG-TENANT-002"}
}

test_unqualified_next_agent_passes if {
	creator := fx.creator
	tenant := fx.tenant
	denied := tenancy.deny with input.creator as creator with input.tenant as tenant
		with input.request as object.union(fx.request, {"next_agent": "boss"})
	count(denied) == 0
}

test_template_of_other_tenant_is_denied if {
	creator := fx.creator
	request := fx.request
	tenant := fx.tenant
	denied := tenancy.deny with input.creator as creator with input.tenant as tenant
		with input.request as request
		with input.template as object.union(fx.template, {"tenants": ["globex"]})
	fx.rules(denied) == {"SG-TENANT-003"}
}

test_settings_for_other_tenant_is_denied if {
	creator := fx.creator
	request := fx.request
	denied := tenancy.deny with input.creator as creator with input.tenant as object.union(fx.tenant, {"id": "globex"})
		with input.request as request
	fx.rules(denied) == {"SG-TENANT-004"}
}

test_missing_creator_tenant_still_denies_foreign_request if {
	tenant := fx.tenant
	denied := tenancy.deny with input.creator as object.remove(fx.creator, ["tenant"]) with input.tenant as tenant
		with input.request as object.union(fx.request, {"tenant": "globex"})
	"SG-TENANT-001" in fx.rules(denied)
}
