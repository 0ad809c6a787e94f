"""What every front returns for a creation request: a status, a JSON body, headers.

The body is the public contract of ``POST /v1/agents`` and ``/v1/smes``
(documented in README "API"); the HTTP front sends it as it is, the CLI prints
it, and an idempotent retry gets the stored copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.contract.decision import Decision, StageName
from gateway.errors import SpawngateError

__all__ = ["AdmissionAnswer", "answer_of"]


@dataclass(frozen=True, slots=True)
class AdmissionAnswer:
    status_code: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def answer_of(decision: Decision, error: SpawngateError | None) -> AdmissionAnswer:
    body: dict[str, Any] = {
        "decision_id": decision.decision_id,
        "outcome": decision.outcome.value,
        "verdict": decision.verdict.value,
        "kind": decision.kind.value,
        "reasons": [r.model_dump(mode="json", exclude_none=True) for r in decision.reasons],
        "obligations": list(decision.obligations),
        "policy_revision": decision.revision,
        "stages": [
            {"stage": s.stage.value, "status": s.status.value, "duration_ms": s.duration_ms}
            for s in decision.stages
        ],
    }
    if decision.danger_score is not None:
        body["danger_score"] = decision.danger_score
    if decision.approval_id is not None:
        body["request_id"] = decision.approval_id
    if decision.agent is not None:
        body["agent"] = decision.agent
        # The signed admission receipt (gateway.receipts), also inside ``agent``.
        if decision.agent.get("receipt"):
            body["receipt"] = decision.agent["receipt"]
    created = next((s for s in decision.stages if s.stage is StageName.CREATE), None)
    if created is not None and isinstance(created.facts.get("a2a_card_url"), str):
        body["a2a_card_url"] = created.facts["a2a_card_url"]
    # Tool provenance (from_template / from_request / dropped), as the template
    # stage recorded it, so the caller sees what it was charged for.
    template = next((s for s in decision.stages if s.stage is StageName.TEMPLATE), None)
    if template is not None and isinstance(template.facts.get("tools"), dict):
        body["tools"] = template.facts["tools"]
    if decision.agent_api_key is not None:
        body["agent_api_key"] = decision.agent_api_key
    headers: dict[str, str] = {}
    if error is not None:
        body["error"] = error.to_body()
        headers.update(error.headers())
    return AdmissionAnswer(decision.status_code, body, headers)
