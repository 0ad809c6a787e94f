package spawngate.capabilities_test

import rego.v1

import data.spawngate.capabilities
import data.spawngate.fixtures_test as fx

test_allowed_capability_passes if {
	creator := fx.creator
	effective := fx.effective
	template := fx.template
	denied := capabilities.deny with input.creator as creator with input.template as template with input.effective as effective
	count(denied) == 0
}

test_capability_outside_tenant_allowlist_is_denied if {
	creator := fx.creator
	denied := capabilities.deny with input.creator as creator
		with input.template as object.union(fx.template, {"capability_modules": ["literature_review", "crypto_trading"]})
		with input.effective as object.union(fx.effective, {"capabilities": ["crypto_trading"]})
	fx.rules(denied) == {"SG-CAP-001"}
	some r in denied
	startswith(r.message, "capabilities not allowed in tenant 'acme': crypto_trading (allowed: ")
	r.fix == "drop capabilities crypto_trading"
}

test_per_tenant_allowlist_replaces_default if {
	denied := capabilities.deny with input.creator as object.union(fx.creator, {"tenant": "globex"})
		with input.template as object.union(fx.template, {"capability_modules": ["kubernetes"]})
		with input.effective as object.union(fx.effective, {"capabilities": ["kubernetes"]})
	fx.rules(denied) == {"SG-CAP-001"}
}

test_capability_not_offered_by_template_is_denied if {
	creator := fx.creator
	template := fx.template
	denied := capabilities.deny with input.creator as creator with input.template as template
		with input.effective as object.union(fx.effective, {"capabilities": ["testing"]})
	fx.rules(denied) == {"SG-CAP-002"}
	some r in denied
	r.message == "template 'researcher' offers no capability module testing (it offers: literature_review, market_research)"
}

test_capabilities_on_template_without_modules_are_denied if {
	creator := fx.creator
	denied := capabilities.deny with input.creator as creator
		with input.template as object.union(fx.template, {"name": "default", "capability_modules": []})
		with input.effective as object.union(fx.effective, {"capabilities": ["testing"]})
	fx.rules(denied) == {"SG-CAP-003"}
}

test_unknown_provider_is_denied if {
	creator := fx.creator
	template := fx.template
	denied := capabilities.deny with input.creator as creator with input.template as template
		with input.effective as object.union(fx.effective, {"provider": "shady-llm"})
	fx.rules(denied) == {"SG-CAP-004"}
}

test_missing_provider_is_denied if {
	creator := fx.creator
	template := fx.template
	denied := capabilities.deny with input.creator as creator with input.template as template
		with input.effective as object.remove(fx.effective, ["provider"])
	fx.rules(denied) == {"SG-CAP-004"}
}
