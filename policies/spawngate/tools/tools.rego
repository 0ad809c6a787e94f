# METADATA
# title: Tool inheritance
# description: >
#   An agent can only grant tools it already has (seed 000). The check covers
#   every tool the new agent would get: requested ones and those its blueprint
#   and capability modules bring. The tools that create agents are never passed
#   on unless the blueprint allows spawning and the depth limit holds.
# custom:
#   severity: high
package spawngate.tools

import rego.v1

import data.spawngate.lib

_held := lib.items(input, ["creator", "tools"])

_granted := lib.items(input, ["effective", "tools"])

_spawning := {t | some t in data.spawngate.tools.spawning_tools}

default _max_spawning_depth := 0

_max_spawning_depth := data.spawngate.tools.max_spawning_depth

_depth := lib.number(input, ["effective", "depth"], 999)

# METADATA
# title: Tools the creator does not hold
# custom:
#   id: SG-TOOLS-001
deny contains lib.reason("SG-TOOLS-001", message, lib.msg(["drop tools ", lib.listing(extra)])) if {
	extra := _granted - _held
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
		"the new agent would get ", lib.listing(passed), ", which create agents; only templates with allow_spawning may pass them on, down to depth ",
		lib.num(_max_spawning_depth), " (template '", lib.str(input, ["template", "name"]), "', new depth ", lib.num(_depth), ")",
	])
	fix := lib.msg(["drop tools ", lib.listing(passed), ", or use a template that allows spawning"])
}

_spawning_allowed if {
	object.get(input, ["template", "allow_spawning"], false) == true
	_depth <= _max_spawning_depth
}
