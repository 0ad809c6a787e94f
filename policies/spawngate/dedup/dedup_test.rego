package spawngate.dedup_test

import rego.v1

import data.spawngate.dedup
import data.spawngate.fixtures_test as fx

_covered := {"covering_agents": ["paper-finder", "archivist"]}

_verdict(tenant, swarm, effective) := {"deny": denied, "review": reviewed} if {
	denied := dedup.deny with input.tenant as tenant with input.swarm as swarm with input.effective as effective
	reviewed := dedup.review with input.tenant as tenant with input.swarm as swarm with input.effective as effective
}

test_no_covering_agent_is_not_a_duplicate if {
	t := fx.tenant
	e := fx.effective
	v := _verdict(t, {"covering_agents": []}, e)
	count(v.deny) == 0
	count(v.review) == 0
}

test_covered_request_is_reviewed_by_default if {
	t := fx.tenant
	e := fx.effective
	v := _verdict(t, _covered, e)
	count(v.deny) == 0
	fx.rules(v.review) == {"SG-DEDUP-001"}
	some r in v.review
	r.message == "capabilities literature_review are already offered by active agent(s) archivist, paper-finder of tenant 'acme'"
	r.fix == "ask @archivist instead of creating a new agent"
}

test_covered_request_is_denied_in_mode_deny if {
	t := object.union(fx.tenant, {"dedup": "deny"})
	e := fx.effective
	v := _verdict(t, _covered, e)
	fx.rules(v.deny) == {"SG-DEDUP-001"}
	count(v.review) == 0
}

test_mode_off_lets_a_duplicate_through if {
	t := object.union(fx.tenant, {"dedup": "off"})
	e := fx.effective
	v := _verdict(t, _covered, e)
	count(v.deny) == 0
	count(v.review) == 0
}

test_unknown_mode_counts_as_review if {
	t := object.union(fx.tenant, {"dedup": "sometimes"})
	e := fx.effective
	v := _verdict(t, _covered, e)
	fx.rules(v.review) == {"SG-DEDUP-001"}
}

test_request_without_capabilities_is_never_a_duplicate if {
	t := object.union(fx.tenant, {"dedup": "deny"})
	e := object.union(fx.effective, {"capabilities": []})
	v := _verdict(t, _covered, e)
	count(v.deny) == 0
	count(v.review) == 0
}

test_missing_swarm_fact_finds_no_duplicate if {
	t := object.union(fx.tenant, {"dedup": "deny"})
	e := fx.effective
	v := _verdict(t, {}, e)
	count(v.deny) == 0
}

_justify(tenant, request) := denied if {
	denied := dedup.deny with input.tenant as tenant with input.request as request
}

test_justification_required_and_missing_is_denied if {
	t := object.union(fx.tenant, {"require_justification": true})
	denied := _justify(t, {"name": "helper"})
	fx.rules(denied) == {"SG-DEDUP-002"}
	some r in denied
	contains(r.message, "'justification'")
}

test_blank_justification_is_denied_when_required if {
	t := object.union(fx.tenant, {"require_justification": true})
	denied := _justify(t, {"name": "helper", "justification": "  "})
	fx.rules(denied) == {"SG-DEDUP-002"}
}

test_justification_given_passes if {
	t := object.union(fx.tenant, {"require_justification": true})
	denied := _justify(t, {"name": "helper", "justification": "recurring diagram requests"})
	count(denied) == 0
}

test_justification_not_required_by_default if {
	t := fx.tenant
	denied := _justify(t, {"name": "helper"})
	count(denied) == 0
}
