"""Issue 10, part 1: blueprint tools, lineage from tenant settings, control characters,
and the tenant of every attempt. Through HTTP with the real embedded Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.audit.log import AuditRecord, RecordType
from gateway.runtime import Gateway
from tests.conftest import MakeSettings, bearer, client_for, write_config
from tests.support.narrow import obj, objs, some

pytestmark = pytest.mark.asyncio

#: Roomy quotas; lineage depth 3. The creator in most tests is acme-analyst, an
#: orchestrator (Casbin) that holds only create_sme and web_search: none of the
#: tools the media-generator, researcher or devops blueprints bring.
CONFIG = """tenants:
  acme:
    enabled: true
    danger_threshold: 0.9
    quotas:
      per_agent: {per_minute: 1000, per_hour: 1000, per_day: 1000}
      per_tenant: {per_minute: 1000, per_hour: 1000, per_day: 1000}
      max_active_agents: 1000
    lineage: {max_depth: 3, max_descendants_per_root: 1000, root_spawns_per_minute: 1000}
    # These tests create look-alike agents on purpose; dedup (part 2) is tested apart.
    dedup: "off"
  globex: {}
  initech: {}
"""


@pytest.fixture
async def gw(tmp_path: Path, make_settings: MakeSettings) -> AsyncIterator[Gateway]:
    gateway = Gateway.build(make_settings(config_file=write_config(tmp_path, CONFIG)))
    yield gateway
    await gateway.stop()


async def post(
    c: httpx.AsyncClient,
    body: dict[str, Any],
    who: str = "analyst",
    kind: str = "agent",
    key: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else bearer(who)
    return await c.post(f"/v1/create_{kind}", json=body, headers=headers)


def codes(r: httpx.Response) -> set[str]:
    return {x["code"] for x in r.json()["reasons"]}


async def decision_record(gw: Gateway, decision_id: str) -> AuditRecord:
    records = await gw.audit.read()
    return next(
        r for r in records if r.type is RecordType.DECISION and r.decision_id == decision_id
    )


async def test_lifecycle_1_adr_diagram_agent_is_not_charged_for_template_tools(
    gw: Gateway,
) -> None:
    async with client_for(gw) as c:
        r = await post(
            c,
            {
                "name": "diagram-agent",
                "template": "media-generator",
                "capabilities": ["diagram_generation"],
                "justification": "Recurring requests for architecture diagrams",
            },
        )
        body = r.json()
        assert "SG-TOOLS-001" not in codes(r), body
        assert r.status_code in (201, 202), body
        provenance = {
            "from_template": ["filesystem", "mermaid", "plantuml"],
            "from_request": [],
            "dropped": [],
        }
        assert body["tools"] == provenance
        if r.status_code == 201:
            assert body["agent"]["tools"] == ["filesystem", "mermaid", "plantuml"]
        record = await decision_record(gw, body["decision_id"])
        template = next(s for s in objs(record.result["stages"]) if s["stage"] == "template")
        assert obj(template["facts"])["tools"] == provenance
        assert obj(some(record.policy_input)["effective"])["tool_sources"] == provenance


async def test_lifecycle_1_researcher_devops_and_sme_templates_reach_review_rules(
    gw: Gateway,
) -> None:
    async with client_for(gw) as c:
        researcher = await post(
            c,
            {
                "name": "paper-finder",
                "template": "researcher",
                "capabilities": ["literature_review"],
            },
        )
        assert researcher.status_code == 201, researcher.json()
        assert researcher.json()["tools"]["from_template"] == [
            "paper_search",
            "web_fetch",
            "web_search",
        ]
        devops = await post(
            c, {"name": "deployer", "template": "devops", "capabilities": ["kubernetes"]}
        )
        # Human-approval rules still govern what the template brings (kubectl, devops).
        assert devops.status_code == 202, devops.json()
        assert "SG-TOOLS-001" not in codes(devops)
        assert any(code.startswith("SG-APPROVAL-") for code in codes(devops))
        sme = await post(
            c,
            {
                "name": "lit-sme",
                "expertise": "systematic reviews",
                "template": "researcher",
                "capabilities": ["literature_review"],
            },
            kind="sme",
        )
        assert sme.status_code == 201, sme.json()


async def test_lifecycle_1_tools_the_creator_adds_are_still_charged(gw: Gateway) -> None:
    async with client_for(gw) as c:
        r = await post(
            c,
            {
                "name": "paper-finder",
                "template": "researcher",
                "capabilities": ["literature_review"],
                "tools": ["vault", "paper_search"],
            },
        )
        assert r.status_code == 403 and codes(r) == {"SG-TOOLS-001"}, r.json()
        reason = r.json()["reasons"][0]
        assert reason["fix"] == "drop tools vault"
        assert r.json()["tools"] == {
            "from_template": ["paper_search", "web_fetch", "web_search"],
            "from_request": ["vault"],
            "dropped": ["paper_search"],
        }


async def test_lifecycle_1_tenant_lineage_depth_governs_spawning(gw: Gateway) -> None:
    async with client_for(gw) as c:
        first = await post(
            c,
            {"name": "sub-orch", "template": "orchestrator", "tools": ["create_agent"]},
            who="orchestrator",
        )
        assert first.status_code == 201, first.json()
        key1 = first.json()["agent_api_key"]
        # Depth 1 spawns again: a general agent that may itself spawn (depth 2 < 3).
        second = await post(
            c,
            {"name": "sub-sub-orch", "template": "orchestrator", "tools": ["create_agent"]},
            key=key1,
        )
        assert second.status_code == 201, second.json()
        assert second.json()["agent"]["depth"] == 2
        key2 = second.json()["agent_api_key"]
        # Depth 3 is the tenant's limit: an agent there may exist but not spawn.
        spawning = await post(
            c, {"name": "too-deep", "template": "orchestrator", "tools": ["create_agent"]}, key=key2
        )
        assert spawning.status_code == 403 and codes(spawning) == {"SG-TOOLS-002"}
        leaf = await post(c, {"name": "leaf"}, key=key2)
        assert leaf.status_code == 201, leaf.json()
        assert leaf.json()["agent"]["depth"] == 3
        # A spawned agent creates only the kind whose tool it holds.
        sme = await post(c, {"name": "an-sme", "expertise": "x"}, key=key2, kind="sme")
        assert sme.status_code == 403 and codes(sme) == {"SG-TOOLS-003"}


async def test_lifecycle_1_per_template_depth_override(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    cfg = CONFIG.replace(
        "root_spawns_per_minute: 1000}",
        "root_spawns_per_minute: 1000, templates: {orchestrator: {max_depth: 1}}}",
    )
    gateway = Gateway.build(make_settings(config_file=write_config(tmp_path, cfg)))
    try:
        async with client_for(gateway) as c:
            first = await post(
                c,
                {"name": "sub-orch", "template": "orchestrator", "tools": ["create_agent"]},
                who="orchestrator",
            )
            assert first.status_code == 201, first.json()
            key = first.json()["agent_api_key"]
            deeper = await post(
                c,
                {"name": "sub-sub-orch", "template": "orchestrator", "tools": ["create_agent"]},
                key=key,
            )
            assert deeper.status_code == 403 and codes(deeper) == {"SG-LINEAGE-001"}
            plain = await post(c, {"name": "plain"}, key=key)
            assert plain.status_code == 201, plain.json()
    finally:
        await gateway.stop()


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("role", "a helper\x1b[2J", "agent"),
        ("instructions", "be helpful\x00ignore the rest", "agent"),
        ("instructions", "bell\x07", "agent"),
        ("justification", "needed\x00badly", "agent"),
        ("expertise", "VAT\x7f", "sme"),
        ("role", "a\u202ehelper", "agent"),
    ],
)
async def test_lifecycle_1_control_characters_are_refused_naming_the_field(
    gw: Gateway, field: str, value: str, kind: str
) -> None:
    body: dict[str, Any] = {"name": "ctrl-agent", field: value}
    if kind == "sme":
        body.setdefault("expertise", "x")
    async with client_for(gw) as c:
        r = await post(c, body, kind=kind)
    assert r.status_code == 422, r.json()
    assert [p["field"] for p in r.json()["error"]["problems"]] == [field]


async def test_lifecycle_1_newline_and_tab_are_fine_in_long_text(gw: Gateway) -> None:
    async with client_for(gw) as c:
        r = await post(
            c,
            {
                "name": "multi-line",
                "instructions": "Step one.\n\tStep two.\nDone.",
                "justification": "Asked for twice this week.\nNo agent offers it.",
            },
        )
    assert r.status_code == 201, r.json()


async def test_lifecycle_1_validation_failure_is_recorded_with_the_tenant(gw: Gateway) -> None:
    async with client_for(gw) as c:
        r = await post(c, {"name": "Not A Name"})
        assert r.status_code == 422
        record = await decision_record(gw, r.json()["decision_id"])
        assert (record.tenant, record.principal) == ("acme", "acme-analyst")
        assert record.result["verdict"] == "deny"
        # Without a valid credential the attempt is still a 422, with no tenant.
        anon = await c.post(
            "/v1/create_agent", json={"name": "Not A Name"}, headers=bearer("sg_nobody")
        )
        assert anon.status_code == 422
        record = await decision_record(gw, anon.json()["decision_id"])
        assert record.tenant is None
