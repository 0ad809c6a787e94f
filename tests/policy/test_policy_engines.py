"""Every policy case through both in-process interpreters (rego-cpp and regorus), and the
same cases through the OPA adapter (httpx) against a local server speaking OPA's Data API."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.policy.embedded import EmbeddedEngine
from gateway.policy.files import load_policy_files
from gateway.policy.opa import OpaEngine
from gateway.policy.regorus import RegorusEngine
from gateway.settings import PROJECT_ROOT
from tests.conftest import MakeSettings
from tests.policy.cases import CASES, Case
from tests.support.opa_standin import OpaStandIn

pytestmark = pytest.mark.asyncio
POLICIES = PROJECT_ROOT / "policies"


@pytest.fixture(scope="module")
def embedded() -> EmbeddedEngine:
    return EmbeddedEngine(load_policy_files(POLICIES))


@pytest.fixture(scope="module")
def rust() -> RegorusEngine:
    return RegorusEngine(load_policy_files(POLICIES))


@pytest.fixture
async def opa() -> AsyncIterator[tuple[OpaEngine, OpaStandIn]]:
    standin = OpaStandIn(POLICIES)
    url = await standin.start()
    engine = OpaEngine(url, revision=standin.revision, timeout=2.0)
    yield engine, standin
    await engine.aclose()
    await standin.stop()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_embedded_verdict(embedded: EmbeddedEngine, case: Case) -> None:
    verdict = await embedded.evaluate(case.entrypoint, case.document())
    assert {r.rule for r in verdict.deny} == case.deny
    assert {r.rule for r in verdict.review} == case.review
    assert all(reason.message for reason in (*verdict.deny, *verdict.review))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_regorus_verdict(rust: RegorusEngine, case: Case) -> None:
    verdict = await rust.evaluate(case.entrypoint, case.document())
    assert {r.rule for r in verdict.deny} == case.deny
    assert {r.rule for r in verdict.review} == case.review
    assert all(reason.message for reason in (*verdict.deny, *verdict.review))


async def test_create_inactive_is_an_obligation(
    embedded: EmbeddedEngine, rust: RegorusEngine
) -> None:
    case = next(c for c in CASES if c.name == "create-inactive")
    for engine in (embedded, rust):
        verdict = await engine.evaluate(case.entrypoint, case.document())
        assert verdict.obligations == ("create_inactive",), engine.name


async def test_in_process_engines_agree_on_every_case(
    embedded: EmbeddedEngine, rust: RegorusEngine
) -> None:
    """Field for field, messages and fixes included: the engine choice changes no verdict."""
    for case in CASES:
        document = case.document()
        assert await rust.evaluate(case.entrypoint, document) == await embedded.evaluate(
            case.entrypoint, document
        ), case.name


async def test_regorus_refuses_an_unresolved_policy_at_load(tmp_path: Path) -> None:
    """regorus resolves functions lazily: the load evaluates both entry points to find out."""
    import shutil

    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    lib = policies / "spawngate" / "lib" / "lib.rego"
    lib.write_text(lib.read_text().replace("str(doc, path) :=", "string_at(doc, path) :="))
    with pytest.raises(ValueError, match="does not compile"):
        RegorusEngine(load_policy_files(policies))


async def test_regorus_failures_are_dependency_errors(rust: RegorusEngine) -> None:
    from gateway.errors import DependencyUnavailable

    # Not JSON (a set): refused before the engine runs, and the request is denied.
    with pytest.raises(DependencyUnavailable) as err:
        await rust.evaluate(CASES[0].entrypoint, {**CASES[0].document(), "catalog": {"a"}})
    assert err.value.dependency == "policy engine" and err.value.status == 503


async def test_a_regorus_panic_is_a_dependency_error() -> None:
    """pyo3 raises a Rust panic as a BaseException: it must still deny, not escape."""
    import threading

    from gateway.errors import DependencyUnavailable

    class PanicException(BaseException):
        pass

    PanicException.__module__ = "pyo3_runtime"

    class Panicking:
        def set_input_json(self, text: str) -> None:
            raise PanicException("index out of bounds")

    engine = RegorusEngine(load_policy_files(POLICIES))
    engine._serving, engine._owner = Panicking(), threading.get_ident()
    with pytest.raises(DependencyUnavailable) as err:
        await engine.evaluate(CASES[0].entrypoint, CASES[0].document())
    assert err.value.dependency == "policy engine"


async def test_regorus_is_chosen_by_settings(make_settings: MakeSettings) -> None:
    from gateway.policy.snapshot import load_snapshot

    snapshot = load_snapshot(make_settings(policy_engine="regorus"))
    assert isinstance(snapshot.engine, RegorusEngine)
    case = next(c for c in CASES if c.name == "create-inactive")
    verdict = await snapshot.engine.evaluate(case.entrypoint, case.document())
    assert verdict.obligations == ("create_inactive",)


async def test_both_engines_agree_on_every_case(
    embedded: EmbeddedEngine, opa: tuple[OpaEngine, OpaStandIn]
) -> None:
    engine, standin = opa
    for case in CASES:
        document = case.document()
        assert await engine.evaluate(case.entrypoint, document) == await embedded.evaluate(
            case.entrypoint, document
        ), case.name
    assert standin.queries.count("spawngate/main/admission") == sum(
        1 for c in CASES if c.entrypoint.value.endswith("admission")
    )


@pytest.mark.parametrize("mode", ["error", "undefined", "garbage"])
async def test_opa_failures_are_dependency_errors(
    opa: tuple[OpaEngine, OpaStandIn], mode: str
) -> None:
    from gateway.errors import DependencyUnavailable

    engine, standin = opa
    standin.mode = mode
    with pytest.raises(DependencyUnavailable) as err:
        await engine.evaluate(CASES[0].entrypoint, CASES[0].document())
    assert err.value.dependency == "policy engine" and err.value.status == 503


async def test_opa_unreachable_is_a_dependency_error() -> None:
    from gateway.errors import DependencyUnavailable

    engine = OpaEngine("http://127.0.0.1:9", revision="r", timeout=0.5)
    try:
        with pytest.raises(DependencyUnavailable):
            await engine.evaluate(CASES[0].entrypoint, CASES[0].document())
        assert await engine.ready() is False
    finally:
        await engine.aclose()


async def test_opa_mode_stamps_the_revision_opa_reports(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    import json
    import shutil

    from gateway.audit.log import RecordType
    from gateway.runtime import Gateway
    from tests.conftest import bearer, client_for

    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    # OPA serves a bundle whose manifest says which revision it is.
    (policies / ".manifest").write_text(json.dumps({"revision": "bundle-rev-7"}))
    standin = OpaStandIn(policies)
    url = await standin.start()
    gw = Gateway.build(make_settings(policy_engine="opa", opa_url=url, policies_dir=policies))
    try:
        async with client_for(gw) as c:
            r = await c.post(
                "/v1/create_agent", json={"name": "stamped"}, headers=bearer("orchestrator")
            )
        assert r.status_code == 201 and r.json()["policy_revision"] == "bundle-rev-7"
        record = next(x for x in await gw.audit.read() if x.type is RecordType.DECISION)
        assert record.bundles["spawngate"]["revision"] == "bundle-rev-7"
    finally:
        await gw.stop()
        await standin.stop()


async def test_opa_server_error_is_retried_once_then_denied(
    opa: tuple[OpaEngine, OpaStandIn],
) -> None:
    """A 500 from OPA (or a proxy before it) gets one more try, never more: a decision waits."""
    from gateway.errors import DependencyUnavailable

    engine, standin = opa
    standin.mode = "error"
    with pytest.raises(DependencyUnavailable):
        await engine.evaluate(CASES[0].entrypoint, CASES[0].document())
    assert len(standin.queries) == 2
    standin.mode = "ok"
    standin.queries.clear()
    await engine.evaluate(CASES[0].entrypoint, CASES[0].document())
    assert len(standin.queries) == 1


async def test_regorus_serves_on_any_thread() -> None:
    """A regorus engine panics when used off the thread that made it; revisions load on a
    worker thread and serve on the event loop's (PolicyHolder.reload)."""
    import asyncio

    engine = await asyncio.to_thread(RegorusEngine, load_policy_files(POLICIES))
    case = next(c for c in CASES if c.name == "create-inactive")
    on_loop = await engine.evaluate(case.entrypoint, case.document())
    on_worker = await asyncio.to_thread(
        lambda: asyncio.run(engine.evaluate(case.entrypoint, case.document()))
    )
    assert on_loop == on_worker and on_loop.obligations == ("create_inactive",)
    # Dropped by its owner (this thread), as PolicyHolder.reload closes a replaced revision:
    # whichever thread lets go of the object last, no engine is dropped off its thread.
    await engine.aclose()


async def test_regorus_without_its_binding_is_a_clear_start_up_error(
    make_settings: MakeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.policy.snapshot import load_snapshot

    # As on an install without the optional `regorus` extra.
    monkeypatch.setitem(sys.modules, "regorus", None)
    monkeypatch.delitem(sys.modules, "gateway.policy.regorus", raising=False)
    with pytest.raises(ValueError, match=r"pip install 'spawngate\[regorus\]'"):
        load_snapshot(make_settings(policy_engine="regorus"))
