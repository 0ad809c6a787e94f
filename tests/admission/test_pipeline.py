"""The combination rule and the stage order, as written once in gateway.admission.pipeline."""

from __future__ import annotations

import pytest

from gateway.admission.pipeline import DECIDING_STAGES, STAGE_ORDER, combine
from gateway.admission.runner import StageRunner
from gateway.contract.decision import StageName, StageResult, StageStatus, Verdict


def results(**overrides: StageStatus) -> list[StageResult]:
    return [
        StageResult(stage=s, status=overrides.get(s.value, StageStatus.PASS))
        for s in DECIDING_STAGES
    ]


def test_all_pass_is_allow() -> None:
    assert combine(results()) is Verdict.ALLOW


def test_review_outranks_allow() -> None:
    assert combine(results(danger=StageStatus.REVIEW)) is Verdict.REVIEW


def test_deny_anywhere_wins_over_review() -> None:
    assert combine(results(policy=StageStatus.REVIEW, danger=StageStatus.DENY)) is Verdict.DENY


def test_an_error_is_a_deny() -> None:
    assert combine(results(quota=StageStatus.ERROR)) is Verdict.DENY


@pytest.mark.parametrize("missing", [s.value for s in DECIDING_STAGES])
def test_no_allow_means_deny(missing: str) -> None:
    # A deciding stage that did not run (or was skipped) can never yield an allow.
    partial = [r for r in results() if r.stage.value != missing]
    assert combine(partial) is Verdict.DENY
    assert combine(results(**{missing: StageStatus.SKIPPED})) is Verdict.DENY


def test_order_is_the_documented_one() -> None:
    assert [s.value for s in STAGE_ORDER] == [
        "validate",
        "authenticate",
        "feature",
        "authorize",
        "quota",
        "template",
        "policy",
        "danger",
        "approval",
        "create",
    ]


def test_stages_out_of_order_are_refused() -> None:
    class Named:
        def __init__(self, name: StageName) -> None:
            self.name = name

        async def run(self, ctx: object) -> object:  # pragma: no cover - never run
            raise AssertionError

    with pytest.raises(ValueError, match="out of order"):
        StageRunner([Named(StageName.POLICY), Named(StageName.VALIDATE)], STAGE_ORDER)  # type: ignore[list-item]
