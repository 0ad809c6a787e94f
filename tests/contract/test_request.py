"""The request contract: canonical fields, seed 002 aliases, and errors that name the field."""

from __future__ import annotations

import pytest

from gateway.contract.request import ALIASES, AgentKind, SmeRequest, parse_request
from gateway.errors import InvalidRequest


@pytest.mark.parametrize(("alias", "canonical"), sorted(ALIASES.items()))
def test_every_alias_is_normalised(alias: str, canonical: str) -> None:
    value: object = True if canonical == "auto_reply" else "reviewer"
    parsed = parse_request(AgentKind.AGENT, {"name": "helper", alias: value})
    assert getattr(parsed, canonical) == value
    assert alias not in parsed.model_dump()


def test_alias_and_canonical_that_disagree_are_refused() -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_request(AgentKind.AGENT, {"name": "helper", "next agent": "a1", "next_agent": "b2"})
    assert err.value.problems == [
        {
            "field": "next_agent",
            "problem": "given twice with different values (as 'next agent' and 'next_agent')",
        }
    ]


def test_alias_and_canonical_that_agree_are_accepted() -> None:
    parsed = parse_request(
        AgentKind.AGENT, {"name": "helper", "autoReply": False, "auto_reply": False}
    )
    assert parsed.auto_reply is False


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({}, "name", "field required"),
        ({"name": "A-Upper"}, "name", "lowercase letters"),
        ({"name": "x"}, "name", "2-63"),
        ({"name": "ends-with-"}, "name", "not end with a dash"),
        ({"name": "a" * 64}, "name", "2-63"),
        ({"name": "ok-name", "tool": ["x"]}, "tool", "unknown field"),
        ({"name": "ok-name", "tools": ["shell", "shell"]}, "tools", "listed twice"),
        ({"name": "ok-name", "tools": ["Bad Tool"]}, "tools.0", "must be"),
        ({"name": "ok-name", "auto_reply": "yes"}, "auto_reply", "boolean"),
        ({"name": "ok-name", "estimated_cost_per_day": "5"}, "estimated_cost_per_day", "number"),
        (
            {"name": "ok-name", "estimated_cost_per_day": -1},
            "estimated_cost_per_day",
            "greater than or equal",
        ),
        ({"name": "ok-name", "ttl_seconds": 0}, "ttl_seconds", "greater than or equal"),
        ({"name": "ok-name", "next_agent": "a/b/c"}, "next_agent", "tenant/name"),
        ({"name": "ok-name", "tenant": "Not A Tenant"}, "tenant", "must match"),
    ],
)
def test_invalid_fields_are_named(body: dict[str, object], field: str, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_request(AgentKind.AGENT, body)
    assert err.value.status == 422
    problems = {p["field"]: p["problem"] for p in err.value.problems}
    assert field in problems, problems
    assert fragment in problems[field]


def test_every_optional_field_is_accepted() -> None:
    parsed = parse_request(
        AgentKind.SME,
        {
            "name": "vat-sme",
            "expertise": "EU VAT",
            "knowledge_sources": ["https://example.org/vat", "tax-wiki"],
            "role": "answers VAT questions",
            "instructions": "Cite the directive.",
            "template": "researcher",
            "tools": ["web_search"],
            "capabilities": ["market_research"],
            "auto-reply": True,
            "next agent": "acme/boss",
            "provider": "anthropic",
            "model": "claude",
            "estimated_cost_per_day": 2.5,
            "justification": "recurring questions",
            "ttl_seconds": 3600,
        },
    )
    assert isinstance(parsed, SmeRequest) and parsed.kind is AgentKind.SME
    assert parsed.auto_reply is True and parsed.next_agent == "acme/boss"
    assert [str(k) for k in parsed.knowledge_sources] == ["https://example.org/vat", "tax-wiki"]
