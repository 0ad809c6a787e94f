# METADATA
# title: Cost ceiling
# description: >
#   An agent whose estimated running cost is above the hard ceiling is refused.
#   (Above the tenant's own limit but under the ceiling, it needs a human:
#   see spawngate.approval.)
# custom:
#   severity: medium
package spawngate.cost

import rego.v1

import data.spawngate.lib

default _ceiling := 0

_ceiling := data.spawngate.cost.hard_max_cost_per_day

# METADATA
# title: Estimated cost above the hard ceiling
# custom:
#   id: SG-COST-001
deny contains lib.reason("SG-COST-001", message, lib.msg(["lower estimated_cost_per_day to at most ", lib.num(_ceiling)])) if {
	cost := lib.number(input, ["effective", "estimated_cost_per_day"], 1000000000)
	cost > _ceiling
	message := lib.msg(["estimated cost ", lib.num(cost), " $/day is above the ceiling of ", lib.num(_ceiling), " $/day"])
}
