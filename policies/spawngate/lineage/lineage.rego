# METADATA
# title: Lineage depth
# description: >
#   Agents created through the gateway can create agents in turn. The family
#   tree under one root orchestrator may not grow deeper than the tenant's
#   lineage.max_depth, or, for agents made from a template the tenant lists
#   under lineage.templates, that template's max_depth. The same tenant
#   setting decides whether a new agent may itself spawn (see
#   spawngate.tools). (Descendants per root and the spawn rate per root are
#   counted atomically in Redis by the quota stage, where races cannot slip
#   through.)
# custom:
#   severity: high
package spawngate.lineage

import rego.v1

import data.spawngate.lib

# METADATA
# title: The tenant's lineage.max_depth
# description: The deepest level of the tenant's trees; 0 (nothing spawned is allowed) when missing.
tenant_max_depth := lib.number(input, ["tenant", "lineage", "max_depth"], 0)

# METADATA
# title: The depth limit for the new agent's template
# description: The tenant's per-template override when it has one, else the tenant's max_depth.
max_depth := n if {
	n := object.get(input, ["tenant", "lineage", "templates", lib.str(input, ["template", "name"]), "max_depth"], null)
	is_number(n)
} else := tenant_max_depth

# METADATA
# title: Too deep below the root orchestrator
# custom:
#   id: SG-LINEAGE-001
deny contains lib.reason("SG-LINEAGE-001", message, "ask the root orchestrator to create this agent instead") if {
	depth := lib.number(input, ["effective", "depth"], 1000000000)
	depth > max_depth
	message := lib.msg([
		"the new agent would be at depth ", lib.num(depth), " below root '", lib.str(input, ["creator", "root"]),
		"'; tenant '", lib.str(input, ["creator", "tenant"]), "' allows at most depth ", lib.num(max_depth),
		_for_template,
	])
}

_for_template := lib.msg([" for template '", lib.str(input, ["template", "name"]), "'"]) if {
	max_depth != tenant_max_depth
} else := ""
