# METADATA
# title: Danger score
# description: >
#   How the danger score combines with policy is itself policy: at or above
#   the tenant threshold (seed 000 default 0.30) a human decides; at or above
#   deny_at the request is refused. A missing score is not a low score: it is
#   a deny.
# custom:
#   severity: high
package spawngate.danger

import rego.v1

import data.spawngate.lib

_score := lib.number(input, ["danger", "score"], 1)

_threshold := lib.number(input, ["tenant", "danger_threshold"], 0)

default _deny_at := 0

_deny_at := data.spawngate.danger.deny_at

_categories := lib.listing(lib.items(input, ["danger", "categories"]))

# METADATA
# title: Danger score at or above the tenant threshold
# custom:
#   id: SG-DANGER-001
review contains lib.reason("SG-DANGER-001", message, null) if {
	_score >= _threshold
	_score < _deny_at
	message := lib.msg(["danger score ", lib.num(_score), " is at or above the threshold ", lib.num(_threshold), " (categories: ", _categories, ")"])
}

# METADATA
# title: Danger score too high to queue
# custom:
#   id: SG-DANGER-002
deny contains lib.reason("SG-DANGER-002", message, "remove the flagged instructions or grants; see the danger findings") if {
	_score >= _deny_at
	message := lib.msg(["danger score ", lib.num(_score), " is at or above the refusal level ", lib.num(_deny_at), " (categories: ", _categories, ")"])
}

# METADATA
# title: No danger score
# custom:
#   id: SG-DANGER-003
deny contains lib.reason("SG-DANGER-003", "no danger score was supplied to policy", "report this to the gateway operators") if {
	not is_number(object.get(input, ["danger", "score"], null))
}

# METADATA
# title: Safety reviewer unavailable
# description: A configured reviewer that failed never counts as "safe".
# custom:
#   id: SG-DANGER-004
review contains lib.reason("SG-DANGER-004", "safety review unavailable", null) if {
	object.get(input, ["danger", "reviewer_unavailable"], false) == true
}
