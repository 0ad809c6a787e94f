package spawngate.tools_test

import rego.v1

import data.spawngate.fixtures_test as fx
import data.spawngate.tools

test_held_tools_pass if {
	creator := fx.creator
	effective := fx.effective
	template := fx.template
	denied := tools.deny with input.creator as creator with input.effective as effective with input.template as template
	count(denied) == 0
}

test_tool_not_held_is_denied_with_fix if {
	creator := fx.creator
	template := fx.template
	denied := tools.deny with input.creator as creator with input.template as template
		with input.effective as object.union(fx.effective, {"tools": ["web_search", "shell", "kubectl"]})
	fx.rules(denied) == {"SG-TOOLS-001"}
	some r in denied
	r.message == "agent 'orc' cannot grant tools it does not hold: kubectl, shell (it holds: create_agent, web_fetch, web_search)"
	r.fix == "drop tools kubectl, shell"
}

test_missing_creator_tools_denies_every_tool if {
	effective := fx.effective
	template := fx.template
	denied := tools.deny with input.creator as object.remove(fx.creator, ["tools"]) with input.template as template
		with input.effective as effective
	fx.rules(denied) == {"SG-TOOLS-001"}
}

test_spawning_tool_needs_template_permission if {
	creator := fx.creator
	template := fx.template
	denied := tools.deny with input.creator as creator with input.template as template
		with input.effective as object.union(fx.effective, {"tools": ["create_agent"]})
	fx.rules(denied) == {"SG-TOOLS-002"}
}

test_spawning_tool_allowed_for_spawning_template_at_depth_one if {
	creator := fx.creator
	tenant := fx.tenant
	denied := tools.deny with input.creator as creator with input.tenant as tenant
		with input.template as object.union(fx.template, {"allow_spawning": true})
		with input.effective as object.union(fx.effective, {"tools": ["create_agent"]})
	count(denied) == 0
}

test_spawning_tool_denied_at_tenant_max_depth if {
	denied := tools.deny with input.creator as object.union(fx.creator, {"depth": 2})
		with input.tenant as object.union(fx.tenant, {"lineage": {"max_depth": 3}})
		with input.template as object.union(fx.template, {"allow_spawning": true})
		with input.effective as object.union(fx.effective, {"tools": ["create_agent"], "depth": 3})
	fx.rules(denied) == {"SG-TOOLS-002"}
	some r in denied
	r.message == "the new agent would get create_agent, which create agents; only templates with allow_spawning may pass them on, to agents above tenant 'acme' lineage.max_depth 3 (template 'researcher', new depth 3)"
}

test_spawning_depth_is_the_tenant_setting if {
	creator := object.union(fx.creator, {"depth": 1})
	denied := tools.deny with input.creator as creator
		with input.tenant as object.union(fx.tenant, {"lineage": {"max_depth": 3}})
		with input.template as object.union(fx.template, {"allow_spawning": true})
		with input.effective as object.union(fx.effective, {"tools": ["create_agent"], "depth": 2})
	count(denied) == 0
}

test_spawning_without_tenant_lineage_is_denied if {
	creator := fx.creator
	denied := tools.deny with input.creator as creator
		with input.tenant as object.remove(fx.tenant, ["lineage"])
		with input.template as object.union(fx.template, {"allow_spawning": true})
		with input.effective as object.union(fx.effective, {"tools": ["create_agent"]})
	fx.rules(denied) == {"SG-TOOLS-002"}
}

test_template_tools_are_not_charged_to_the_creator if {
	creator := fx.creator
	template := fx.template
	denied := tools.deny with input.creator as creator with input.template as template
		with input.effective as object.union(fx.effective, {
			"tools": ["paper_search", "web_fetch", "web_search"],
			"tool_sources": {"from_template": ["paper_search", "web_fetch", "web_search"], "from_request": [], "dropped": []},
		})
	count(denied) == 0
}

test_tools_the_creator_adds_are_charged if {
	creator := fx.creator
	template := fx.template
	denied := tools.deny with input.creator as creator with input.template as template
		with input.effective as object.union(fx.effective, {
			"tools": ["paper_search", "vault"],
			"tool_sources": {"from_template": ["paper_search"], "from_request": ["vault"], "dropped": []},
		})
	fx.rules(denied) == {"SG-TOOLS-001"}
	some r in denied
	r.fix == "drop tools vault"
}

test_template_tools_charged_when_template_unknown if {
	creator := fx.creator
	denied := tools.deny with input.creator as creator
		with input.template as object.union(fx.template, {"exists": false})
		with input.effective as object.union(fx.effective, {
			"tools": ["paper_search"],
			"tool_sources": {"from_template": ["paper_search"], "from_request": [], "dropped": []},
		})
	fx.rules(denied) == {"SG-TOOLS-001"}
}

test_template_attribution_outside_granted_tools_is_ignored if {
	creator := fx.creator
	template := fx.template
	denied := tools.deny with input.creator as creator with input.template as template
		with input.effective as object.union(fx.effective, {
			"tools": ["vault"],
			"tool_sources": {"from_template": ["paper_search"], "from_request": [], "dropped": []},
		})
	fx.rules(denied) == {"SG-TOOLS-001"}
}

test_spawning_tools_from_a_template_are_still_charged if {
	creator := object.union(fx.creator, {"tools": ["web_search"]})
	tenant := fx.tenant
	denied := tools.deny with input.creator as creator with input.tenant as tenant
		with input.template as object.union(fx.template, {"allow_spawning": true})
		with input.effective as object.union(fx.effective, {
			"tools": ["create_agent"],
			"tool_sources": {"from_template": ["create_agent"], "from_request": [], "dropped": []},
		})
	fx.rules(denied) == {"SG-TOOLS-001"}
}

test_spawning_tools_from_a_non_spawning_template_are_denied if {
	creator := fx.creator
	template := fx.template
	denied := tools.deny with input.creator as creator with input.template as template
		with input.effective as object.union(fx.effective, {
			"tools": ["create_agent"],
			"tool_sources": {"from_template": ["create_agent"], "from_request": [], "dropped": []},
		})
	fx.rules(denied) == {"SG-TOOLS-002"}
}

test_spawned_creator_needs_the_tool_for_the_kind if {
	creator := object.union(fx.creator, {"depth": 1, "tools": ["create_sme", "web_search"]})
	effective := fx.effective
	template := fx.template
	denied := tools.deny with input.creator as creator with input.effective as effective
		with input.template as template with input.kind as "agent"
	fx.rules(denied) == {"SG-TOOLS-003"}
	some r in denied
	r.fix == "ask an agent that holds create_agent"
}

test_spawned_creator_with_the_tool_for_the_kind_passes if {
	creator := object.union(fx.creator, {"depth": 1, "tools": ["create_sme", "web_search"]})
	effective := fx.effective
	template := fx.template
	denied := tools.deny with input.creator as creator with input.effective as effective
		with input.template as template with input.kind as "sme"
	count(denied) == 0
}

test_configured_creator_needs_no_creating_tool if {
	creator := object.union(fx.creator, {"tools": ["web_search"]})
	effective := fx.effective
	template := fx.template
	denied := tools.deny with input.creator as creator with input.effective as effective
		with input.template as template with input.kind as "sme"
	count(denied) == 0
}

test_spawned_creator_without_depth_is_checked if {
	creator := object.remove(fx.creator, ["depth"])
	effective := fx.effective
	template := fx.template
	denied := tools.deny with input.creator as creator with input.effective as effective
		with input.template as template with input.kind as "sme"
	fx.rules(denied) == {"SG-TOOLS-003"}
}
