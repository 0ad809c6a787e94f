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
	denied := tools.deny with input.creator as creator
		with input.template as object.union(fx.template, {"allow_spawning": true})
		with input.effective as object.union(fx.effective, {"tools": ["create_agent"]})
	count(denied) == 0
}

test_spawning_tool_denied_below_max_spawning_depth if {
	denied := tools.deny with input.creator as object.union(fx.creator, {"depth": 1})
		with input.template as object.union(fx.template, {"allow_spawning": true})
		with input.effective as object.union(fx.effective, {"tools": ["create_agent"], "depth": 2})
	fx.rules(denied) == {"SG-TOOLS-002"}
}

test_spawning_depth_is_data if {
	denied := tools.deny with input.creator as object.union(fx.creator, {"depth": 1})
		with input.template as object.union(fx.template, {"allow_spawning": true})
		with input.effective as object.union(fx.effective, {"tools": ["create_agent"], "depth": 2})
		with data.spawngate.tools.max_spawning_depth as 2
	count(denied) == 0
}
