# METADATA
# title: Tool inheritance
# description: >
#   An agent can only grant tools it already has (seed 000). That rule covers
#   the tools the creator adds. Tools that the blueprint and its capability
#   modules bring (effective.tool_sources.from_template) were granted by
#   whoever owns the template (the tenant's admins), so they are not charged
#   to the creator, with one exception: the tools that create agents are
#   always charged. Only a blueprint that allows spawning may pass those on,
#   and only to an agent above the tenant's lineage.max_depth (its children
#   must fit in the tree). Human-approval tools from a template still go
#   through the approval rules (spawngate.approval), which see every tool.
#   A spawned agent may create only the kind whose tool it holds.
# custom:
#   severity: high
package spawngate.tools

import rego.v1

import data.spawngate.lib
import data.spawngate.lineage

_held := lib.items(input, ["creator", "tools"])

_granted := lib.items(input, ["effective", "tools"])

_spawning := {t | some t in data.spawngate.tools.spawning_tools}

_depth := lib.number(input, ["effective", "depth"], 999)

# Tools the template grants: only those the gateway attributes to a template
# that exists, and that the new agent actually gets. A missing attribution
# charges every tool to the creator (fail closed).
_from_template := {t |
	object.get(input, ["template", "exists"], false) == true
	some t in lib.items(input, ["effective", "tool_sources", "from_template"])
	t in _granted
}

_not_from_template := _granted - _from_template

_charged := _not_from_template | (_granted & _spawning)

# METADATA
# title: Tools the creator does not hold
# custom:
#   id: SG-TOOLS-001
deny contains lib.reason("SG-TOOLS-001", message, lib.msg(["drop tools ", lib.listing(extra)])) if {
	extra := _charged - _held
	count(extra) > 0
	message := lib.msg([
		"agent '", lib.str(input, ["creator", "id"]), "' cannot grant tools it does not hold: ",
		lib.listing(extra), " (it holds: ", lib.listing(_held), ")",
	])
}

# METADATA
# title: Agent-creating tools passed on
# custom:
#   id: SG-TOOLS-002
deny contains lib.reason("SG-TOOLS-002", message, fix) if {
	passed := _granted & _spawning
	count(passed) > 0
	not _spawning_allowed
	message := lib.msg([
		"the new agent would get ", lib.listing(passed), ", which create agents; only templates with allow_spawning may pass them on, to agents above tenant '",
		lib.str(input, ["creator", "tenant"]), "' lineage.max_depth ", lib.num(lineage.tenant_max_depth),
		" (template '", lib.str(input, ["template", "name"]), "', new depth ", lib.num(_depth), ")",
	])
	fix := lib.msg(["drop tools ", lib.listing(passed), ", or use a template that allows spawning"])
}

_spawning_allowed if {
	object.get(input, ["template", "allow_spawning"], false) == true
	_depth < lineage.tenant_max_depth
}

_kind_tool := "create_sme" if {
	input.kind == "sme"
} else := "create_agent"

# METADATA
# title: Spawned agent without the tool for this kind
# custom:
#   id: SG-TOOLS-003
deny contains lib.reason("SG-TOOLS-003", message, fix) if {
	lib.number(input, ["creator", "depth"], 999) > 0
	not _kind_tool in _held
	message := lib.msg([
		"agent '", lib.str(input, ["creator", "id"]), "' was created through the gateway and does not hold '",
		_kind_tool, "', so it cannot create ", lib.str(input, ["kind"]), "s (it holds: ", lib.listing(_held), ")",
	])
	fix := lib.msg(["ask an agent that holds ", _kind_tool])
}
