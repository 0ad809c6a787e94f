package spawngate.danger_test

import rego.v1

import data.spawngate.danger
import data.spawngate.fixtures_test as fx

test_low_score_passes if {
	low := fx.danger
	tenant := fx.tenant
	count(danger.review) == 0 with input.tenant as tenant with input.danger as low
	count(danger.deny) == 0 with input.tenant as tenant with input.danger as low
}

test_score_at_threshold_is_reviewed if {
	tenant := fx.tenant
	reviewed := danger.review with input.tenant as tenant with input.danger as {"score": 0.3, "categories": ["deception"]}
	fx.rules(reviewed) == {"SG-DANGER-001"}
	some r in reviewed
	r.message == "danger score 0.3 is at or above the threshold 0.3 (categories: deception)"
}

test_score_just_below_threshold_passes if {
	tenant := fx.tenant
	count(danger.review) == 0 with input.tenant as tenant with input.danger as {"score": 0.29, "categories": []}
}

test_very_high_score_is_denied_not_queued if {
	tenant := fx.tenant
	denied := danger.deny with input.tenant as tenant with input.danger as {"score": 0.95, "categories": ["data_exfiltration"]}
	fx.rules(denied) == {"SG-DANGER-002"}
	count(danger.review) == 0 with input.tenant as tenant with input.danger as {"score": 0.95, "categories": []}
}

test_missing_score_is_denied if {
	tenant := fx.tenant
	fx.rules(danger.deny) == {"SG-DANGER-003", "SG-DANGER-002"} with input.tenant as tenant with input.danger as {"categories": []}
}

test_unavailable_reviewer_is_reviewed_even_with_low_score if {
	tenant := fx.tenant
	reviewed := danger.review with input.tenant as tenant
		with input.danger as {"score": 0.0, "categories": [], "reviewer_unavailable": true}
	fx.rules(reviewed) == {"SG-DANGER-004"}
}
