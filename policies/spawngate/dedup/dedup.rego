# METADATA
# title: Discovery before spawning
# description: >
#   Seed 003's safeguards against redundant agents. Capability deduplication:
#   a proposal is "covered" when one active agent of the tenant already offers
#   every capability it requests (input.swarm.covering_agents, gathered by the
#   gateway from the registry); a proposal that requests no capabilities is
#   never covered. The tenant's dedup setting decides: deny, review (default)
#   or off. Justification: a tenant may require every proposal to say why.
# custom:
#   severity: medium
package spawngate.dedup

import rego.v1

import data.spawngate.lib

# A missing or unknown setting counts as the default, "review".
_mode := m if {
	m := object.get(input, ["tenant", "dedup"], "review")
	m in {"deny", "review", "off"}
} else := "review"

_covering := lib.items(input, ["swarm", "covering_agents"])

_caps := lib.items(input, ["effective", "capabilities"])

# The agent named in the fix: the first by name, so the answer is deterministic.
_ask := sort([a | some a in _covering])[0]

_duplicate := reason if {
	count(_caps) > 0
	count(_covering) > 0
	message := lib.msg(["capabilities ", lib.listing(_caps), " are already offered by active agent(s) ", lib.listing(_covering), " of tenant '", lib.str(input, ["tenant", "id"]), "'"])
	fix := lib.msg(["ask @", _ask, " instead of creating a new agent"])
	reason := lib.reason("SG-DEDUP-001", message, fix)
}

# METADATA
# title: Capabilities already covered by an active agent (tenant dedup deny)
# custom:
#   id: SG-DEDUP-001
deny contains r if {
	_mode == "deny"
	r := _duplicate
}

# METADATA
# title: Capabilities already covered by an active agent (tenant dedup review)
# custom:
#   id: SG-DEDUP-001
review contains r if {
	_mode == "review"
	r := _duplicate
}

_justification := j if {
	j := object.get(input, ["request", "justification"], "")
	is_string(j)
} else := ""

# METADATA
# title: Justification required by the tenant
# custom:
#   id: SG-DEDUP-002
deny contains lib.reason("SG-DEDUP-002", message, fix) if {
	object.get(input, ["tenant", "require_justification"], false) == true
	trim_space(_justification) == ""
	message := lib.msg(["field 'justification' is required by tenant '", lib.str(input, ["tenant", "id"]), "'"])
	fix := "say in 'justification' why no existing agent can do this"
}
