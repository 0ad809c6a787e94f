# METADATA
# title: Lineage depth
# description: >
#   Agents created through the gateway can create agents in turn. The family
#   tree under one root orchestrator may not grow deeper than the tenant's
#   lineage.max_depth. (Descendants per root and the spawn rate per root are
#   counted atomically in Redis by the quota stage, where races cannot slip
#   through.)
# custom:
#   severity: high
package spawngate.lineage

import rego.v1

import data.spawngate.lib

# METADATA
# title: Too deep below the root orchestrator
# custom:
#   id: SG-LINEAGE-001
deny contains lib.reason("SG-LINEAGE-001", message, "ask the root orchestrator to create this agent instead") if {
	depth := lib.number(input, ["effective", "depth"], 1000000000)
	max_depth := lib.number(input, ["tenant", "lineage", "max_depth"], 0)
	depth > max_depth
	message := lib.msg([
		"the new agent would be at depth ", lib.num(depth), " below root '", lib.str(input, ["creator", "root"]),
		"'; tenant '", lib.str(input, ["creator", "tenant"]), "' allows at most depth ", lib.num(max_depth),
	])
}
