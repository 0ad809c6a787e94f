# METADATA
# title: Entry points
# description: >
#   The gateway queries exactly two documents, the same in the embedded
#   interpreter and in an OPA server:
#     data.spawngate.main.admission  governance rules, before danger scoring
#     data.spawngate.main.danger     the danger verdict, with input.danger set
#   Each is {"deny": [...], "review": [...], "obligations": [...]}; reasons are
#   {"rule", "message", "fix"}. The gateway combines them: any deny wins,
#   otherwise any review queues the request for a human, otherwise it is
#   allowed.
package spawngate.main

import rego.v1

import data.spawngate.approval
import data.spawngate.capabilities
import data.spawngate.cost
import data.spawngate.danger as danger_policy
import data.spawngate.dedup
import data.spawngate.guard
import data.spawngate.lineage
import data.spawngate.templates
import data.spawngate.tenancy
import data.spawngate.tools

# METADATA
# title: Admission verdict
# description: Every governance rule except the danger score.
admission := {"deny": _admission_deny, "review": _admission_review, "obligations": obligations}

_admission_deny := ((((((guard.deny | tenancy.deny) | tools.deny) | capabilities.deny) | templates.deny) | cost.deny) | lineage.deny) | dedup.deny

_admission_review := approval.review | dedup.review

# The input guard already ran in admission; a missing score is denied by
# spawngate.danger itself (SG-DANGER-003).

# METADATA
# title: Danger verdict
danger := {"deny": danger_policy.deny, "review": danger_policy.review, "obligations": set()}

# METADATA
# title: Obligations
# description: Conditions the gateway must apply when it creates the agent.
obligations contains "create_inactive" if {
	object.get(input, ["tenant", "create_inactive"], false) == true
}
