"""Issue 9, items 7, 8, 9 and 11: the policy engine, the registry and the policy files
can fail or be tampered with, and the gateway still fails closed and says nothing it
should not. Upstreams are the stand-ins of tests/support (real HTTP servers on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest

from gateway.audit.log import AuditRecord, RecordType
from gateway.policy.snapshot import revision_of
from gateway.runtime import Gateway
from gateway.settings import PROJECT_ROOT
from tests.conftest import MakeSettings, bearer, client_for
from tests.support.opa_standin import OpaStandIn
from tests.support.records import outcome_record
from tests.support.registry_standin import RegistryStandIn

pytestmark = pytest.mark.asyncio


async def _decisions(gw: Gateway) -> list[AuditRecord]:
    return [r for r in await gw.audit.read() if r.type is RecordType.DECISION]


async def _outcomes(gw: Gateway) -> list[AuditRecord]:
    return [r for r in await gw.audit.read() if r.type is RecordType.OUTCOME]


# --- item 7: every engine fails closed on anything that is not a verdict ---------------

OPA_FAULTS = [
    "empty-result",
    "partial-result",
    "null-result",
    "wrong-types",
    "not-json",
    "html",
    "undefined",
    "garbage",
    "slow",
    "down",
]


@pytest.mark.parametrize("mode", OPA_FAULTS)
async def test_trust_7_opa_fault_denies_with_503(make_settings: MakeSettings, mode: str) -> None:
    standin = OpaStandIn(PROJECT_ROOT / "policies")
    url = await standin.start()
    gw = Gateway.build(make_settings(policy_engine="opa", opa_url=url, opa_timeout_seconds=0.3))
    try:
        async with client_for(gw) as c:
            ok = await c.post(
                "/v1/create_agent", json={"name": "before"}, headers=bearer("orchestrator")
            )
            assert ok.status_code == 201, ok.text
            if mode == "down":
                await standin.stop()  # the port now refuses connections
            else:
                standin.mode = mode
            r = await asyncio.wait_for(
                c.post("/v1/create_agent", json={"name": "during"}, headers=bearer("orchestrator")),
                timeout=10,
            )
        assert r.status_code == 503, r.text
        assert r.json()["error"]["dependency"] == "policy engine"
        assert f"127.0.0.1:{standin.port}" not in r.text and url not in r.text
        last = (await _decisions(gw))[-1]
        assert last.input["name"] == "during"
        assert last.result["verdict"] == "deny" and last.result["outcome"] == "failed"
        assert await gw.registry.get("acme", "during") is None
    finally:
        await gw.stop()
        await standin.stop()


async def test_trust_7_embedded_engine_incomplete_verdict_denies(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    """The embedded engine obeys the same rule: a verdict without review/obligations is no verdict."""
    policies = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "policies", policies)
    main = policies / "spawngate" / "main" / "main.rego"
    text = main.read_text()
    whole = (
        'admission := {"deny": _admission_deny, "review": _admission_review, '
        '"obligations": obligations}'
    )
    assert whole in text
    main.write_text(text.replace(whole, 'admission := {"deny": _admission_deny}'))
    gw = Gateway.build(make_settings(policies_dir=policies))
    try:
        async with client_for(gw) as c:
            r = await c.post(
                "/v1/create_agent", json={"name": "half-verdict"}, headers=bearer("orchestrator")
            )
        assert r.status_code == 503, r.text
        assert r.json()["error"]["dependency"] == "policy engine"
        last = (await _decisions(gw))[-1]
        assert last.result["verdict"] == "deny" and last.result["outcome"] == "failed"
        assert await gw.registry.get("acme", "half-verdict") is None
    finally:
        await gw.stop()


# --- items 8 and 9: the HTTP registry --------------------------------------------------


@pytest.fixture
async def registry() -> AsyncIterator[tuple[RegistryStandIn, str]]:
    standin = RegistryStandIn()
    url = await standin.start()
    yield standin, url
    await standin.stop()


@pytest.fixture
async def http_gw(
    registry: tuple[RegistryStandIn, str], make_settings: MakeSettings
) -> AsyncIterator[Gateway]:
    _, url = registry
    gw = Gateway.build(
        make_settings(registry="http", registry_url=url, registry_timeout_seconds=0.5)
    )
    yield gw
    await gw.stop()


async def _create(gw: Gateway, name: str) -> httpx.Response:
    async with client_for(gw) as c:
        return await asyncio.wait_for(
            c.post("/v1/create_agent", json={"name": name}, headers=bearer("orchestrator")),
            timeout=10,
        )


@pytest.mark.parametrize(
    ("mode", "read_mode"),
    [("garbage", "ok"), ("garbage-stored", "garbage"), ("other-agent", "ok")],
)
async def test_trust_8_unconfirmed_registry_answer_is_not_201(
    registry: tuple[RegistryStandIn, str], http_gw: Gateway, mode: str, read_mode: str
) -> None:
    standin, url = registry
    standin.mode, standin.read_mode = mode, read_mode
    r = await _create(http_gw, "unconfirmed")
    assert r.status_code in (502, 503), r.text
    assert r.json()["error"]["dependency"] == "registry"
    assert "agent" not in r.json() and url not in r.text and "<html>" not in r.text
    outcome = (await _outcomes(http_gw))[-1]
    assert outcome.result["outcome"] != "created"
    # The creation was abandoned: an agent the registry did keep is gone.
    decision = (await _decisions(http_gw))[-1]
    assert decision.decision_id in standin.abandoned
    assert standin.agents == {}


async def test_trust_8_non_json_answer_confirmed_by_a_read_is_created(
    registry: tuple[RegistryStandIn, str], http_gw: Gateway
) -> None:
    standin, _ = registry
    standin.mode = "garbage-stored"
    r = await _create(http_gw, "confirmed")
    assert r.status_code == 201, r.text
    assert "acme/confirmed" in standin.agents
    assert ("GET", "/agents/acme/confirmed") in standin.requests


async def test_trust_8_slow_registry_that_created_gives_201(
    registry: tuple[RegistryStandIn, str], http_gw: Gateway
) -> None:
    standin, _ = registry
    standin.mode = "slow-after"  # creates, then answers after the gateway's timeout
    r = await _create(http_gw, "late-answer")
    assert r.status_code == 201, r.text
    assert "acme/late-answer" in standin.agents
    decision = (await _decisions(http_gw))[-1]
    assert standin.keys == {decision.decision_id: "acme/late-answer"}
    assert (await _outcomes(http_gw))[-1].result["outcome"] == "created"


async def test_trust_8_slow_registry_that_would_create_late_is_abandoned(
    registry: tuple[RegistryStandIn, str], http_gw: Gateway
) -> None:
    standin, _ = registry
    standin.mode, standin.delay = "slow", 1.0  # would create only after the gateway gave up
    r = await _create(http_gw, "too-late")
    assert r.status_code in (502, 503), r.text
    assert (await _outcomes(http_gw))[-1].result["outcome"] != "created"
    decision = (await _decisions(http_gw))[-1]
    # The registry saw the creation id, and the gateway abandoned that creation.
    assert standin.keys == {} and decision.decision_id in standin.abandoned
    await asyncio.sleep(standin.delay + 0.2)  # the late create has run by now
    assert standin.agents == {}


CRAFTED = ["..", "x?tenant=globex", "x#frag", "..%2Fglobex%2Fsecret", "%2E%2E"]


@pytest.mark.parametrize("name", CRAFTED)
async def test_trust_9_agent_name_is_one_escaped_path_segment(
    registry: tuple[RegistryStandIn, str], http_gw: Gateway, name: str
) -> None:
    standin, _ = registry
    standin.agents["globex/secret"] = {"id": "globex/secret"}
    async with client_for(http_gw) as c:
        r = await c.get(
            f"/v1/agents/{quote(name, safe='').replace('.', '%2E')}", headers=bearer("orchestrator")
        )
    assert r.status_code == 404, r.text
    assert "globex" not in r.text.replace(name, "")
    ((method, raw),) = standin.requests
    path, _, query = raw.partition("?")
    assert method == "GET" and query == ""
    assert [unquote(p) for p in path.split("/")] == ["", "agents", "acme", name]


async def test_trust_9_registry_error_bodies_are_not_echoed(
    registry: tuple[RegistryStandIn, str], http_gw: Gateway
) -> None:
    standin, url = registry
    standin.mode = "error"
    r = await _create(http_gw, "exploding")
    assert r.status_code == 502, r.text
    assert r.json()["error"]["dependency"] == "registry"
    assert "exploded" not in r.text and url not in r.text
    decision = (await _decisions(http_gw))[-1]
    outcome = (await _outcomes(http_gw))[-1]
    assert "exploded" not in outcome.model_dump_json() + decision.model_dump_json()
    standin.mode, standin.read_mode = "ok", "garbage"
    async with client_for(http_gw) as c:
        read = await c.get("/v1/agents/anyone", headers=bearer("orchestrator"))
    assert read.status_code == 502, read.text
    assert "<html>" not in read.text and url not in read.text


# --- item 11: hidden paths never count -------------------------------------------------


def _copy(root: Path) -> tuple[Path, Path]:
    policies, templates = root / "policies", root / "templates"
    shutil.copytree(PROJECT_ROOT / "policies", policies)
    shutil.copytree(PROJECT_ROOT / "templates", templates)
    return policies, templates


def _add_hidden_junk(policies: Path, templates: Path) -> None:
    (policies / ".idea").mkdir()
    (policies / ".idea" / "x.rego").write_text("package broken\nthis is { not rego\n")
    (policies / ".git" / "objects").mkdir(parents=True)
    (policies / ".git" / "HEAD").write_text("ref: refs/heads/nowhere\n")
    (policies / "spawngate" / ".#main.rego").write_text("junk of an editor\n")
    (policies / "spawngate" / "cost" / ".data.yaml.swp").write_bytes(b"\x00\xff junk")
    (templates / ".#default.yaml").write_text("name: [unclosed\n")


async def test_trust_11_hidden_paths_do_not_affect_load_revision_or_reload(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    clean = revision_of(*_copy(tmp_path / "clean"))
    # The copy lives under a dot directory too, as ~/.config/spawngate would.
    policies, templates = _copy(tmp_path / ".config" / "spawngate")
    _add_hidden_junk(policies, templates)
    gw = Gateway.build(make_settings(policies_dir=policies, templates_dir=templates))
    watcher = asyncio.create_task(gw.policy.watch(0.05))
    try:
        assert gw.policy.current.revision == clean
        # Hidden files change: nothing to reload.
        (policies / ".idea" / "x.rego").write_text("package broken\nstill { not rego\n")
        (policies / ".git" / "index").write_bytes(b"\x01")
        await asyncio.sleep(0.3)
        assert gw.policy.reloads == 0 and gw.policy.last_error is None
        # A visible change is picked up, and hidden junk does not make it fail.
        data = policies / "spawngate" / "cost" / "data.yaml"
        text = data.read_text()
        start = text.index("hard_max_cost_per_day:")
        data.write_text(text[:start] + "hard_max_cost_per_day: 4\n")
        for _ in range(60):  # bounded: at most 3 s
            if gw.policy.reloads:
                break
            await asyncio.sleep(0.05)
        assert gw.policy.reloads == 1 and gw.policy.last_error is None
        assert gw.policy.current.revision != clean
        async with client_for(gw) as c:
            r = await c.post(
                "/v1/create_agent",
                json={"name": "costly", "estimated_cost_per_day": 5},
                headers=bearer("orchestrator"),
            )
        assert r.status_code == 403, r.text
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await gw.stop()


async def test_trust_11_hidden_paths_keep_a_clean_checkout_clean(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    """An untracked .idea/ or editor file in a git checkout leaves the revision the commit."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(tmp_path), "-c", "user.email=t@t", "-c", "user.name=t", *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return done.stdout.strip()

    policies, templates = _copy(tmp_path)
    git("init", "-q")
    git("add", "policies", "templates")
    git("commit", "-q", "-m", "policies")
    commit = "git:" + git("rev-parse", "HEAD")[:12]
    _add_hidden_junk(policies, templates)
    gw = Gateway.build(make_settings(policies_dir=policies, templates_dir=templates))
    try:
        assert gw.policy.current.revision == commit
        assert await gw.policy.reload() is False and gw.policy.last_error is None
    finally:
        await gw.stop()


async def test_trust_8_reconciler_takes_back_an_http_registry_agent_of_a_failed_creation(
    registry: tuple[RegistryStandIn, str], http_gw: Gateway
) -> None:
    """An agent that landed in the HTTP registry although the log says its creation
    failed is abandoned there by the reconciler (DELETE with its decision id)."""
    standin, _ = registry
    made = await _create(http_gw, "base")
    assert made.status_code == 201, made.text
    lost = {**made.json()["agent"], "id": "acme/lost", "name": "lost", "decision_id": "dec_lost"}
    standin.agents["acme/lost"] = lost
    await http_gw.audit.append(outcome_record("dec_lost", "failed", "acme/lost"))
    report = await http_gw.reconciler.named("test").run_once()
    assert sorted(standin.agents) == ["acme/base"]
    assert ("DELETE", "/agents/acme/lost") in standin.requests
    removed = report.result()["removed"]
    assert isinstance(removed, list) and len(removed) == 1
