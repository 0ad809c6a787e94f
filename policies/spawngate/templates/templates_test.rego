package spawngate.templates_test

import rego.v1

import data.spawngate.fixtures_test as fx
import data.spawngate.templates

test_known_template_passes if {
	catalog := fx.catalog
	creator := fx.creator
	template := fx.template
	denied := templates.deny with input.creator as creator with input.template as template with input.catalog as catalog
	count(denied) == 0
}

test_unknown_template_is_denied_listing_the_available_ones if {
	catalog := fx.catalog
	creator := fx.creator
	denied := templates.deny with input.creator as creator with input.catalog as catalog
		with input.template as {"name": "hacker", "exists": false}
	fx.rules(denied) == {"SG-TPL-001"}
	some r in denied
	r.message == "unknown template 'hacker' (available: default, devops, researcher)"
}

test_missing_template_facts_are_denied if {
	catalog := fx.catalog
	creator := fx.creator
	denied := templates.deny with input.creator as creator with input.catalog as catalog
	fx.rules(denied) == {"SG-TPL-001"}
}

test_template_outside_tenant_allowlist_is_denied if {
	catalog := fx.catalog
	denied := templates.deny with input.creator as object.union(fx.creator, {"tenant": "globex"})
		with input.catalog as catalog
		with input.template as object.union(fx.template, {"name": "devops"})
	fx.rules(denied) == {"SG-TPL-002"}
	some r in denied
	r.fix == "use one of: default, general-assistant, researcher"
}
