"""A desk's own rails and preflight checks that raise or answer junk.

Bugs: a check of the caller's that raised escaped ``preflight()``/``run_to_end`` with the
session left in INIT after its first records (a torn run, nothing naming the check); one
that answered ``None`` did the same (``AttributeError: 'NoneType' object has no attribute
'passed'``); and one whose ``passed`` was ``"no"`` (truthy) *passed*, the session traded.
A rail that raised or answered ``True`` faulted the step with a bare ``RuntimeError`` /
``AttributeError`` naming no rail; one whose ``detail`` held a ``Decimal`` faulted it with
``Type is not JSON serializable``; and one whose ``detail`` held ``"rule"`` or
``"signal_id"`` overwrote the record's own fields (a desk rail's refusal recorded as
``MAX_ORDER_QTY``). Now a check that raises or answers junk fails (``CHECK_ERROR``, the
detail naming it; the session is rejected, sealed, and verifies), and a rail that does
faults the step (``UNEXPECTED_ERROR``) with a detail naming the rail; the run verifies.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from _scripted import SYMBOL, ScriptedFeed, ScriptedStrategy, at, buy
from livesession import (
    CheckResult,
    DryrunConfig,
    LiveSessionOrchestrator,
    Rejection,
    VerbOutcome,
    VerbResult,
    default_rails,
)
from test_run_failures import _verify_memory

from _helpers import Sinks

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


class _Rail:
    rule = "DESK_CAP"

    def __init__(self, answer: Callable[[], Any]) -> None:
        self.answer = answer

    def __call__(self, _intent: object, _ctx: object) -> Any:
        return self.answer()


class _Check:
    name = "data_fresh"

    def __init__(self, answer: Callable[[], Any]) -> None:
        self.answer = answer

    def __call__(self, _ctx: object) -> Any:
        return self.answer()


def _raise() -> Any:
    raise OSError("the data disk is gone")


def _raise_bare() -> Any:
    raise MemoryError  # no message: named alone, with no colon before nothing


def _session(sinks: Sinks, **edges: Any) -> LiveSessionOrchestrator:
    cfg = DryrunConfig(run_id="t", strategy_id="scripted", steps=20)
    rails = edges.pop("rails", ())
    return LiveSessionOrchestrator(
        cfg,
        feed=ScriptedFeed(["40000.00"]),
        strategy=ScriptedStrategy(at({1: [buy("0.010")]})),
        rails=(*default_rails(cfg.risk, (SYMBOL,)), *rails),
        **edges,
        **sinks.kwargs(),
    )


class TestACheckThatRaisesOrAnswersJunk:
    @pytest.mark.parametrize(
        ("answer", "detail"),
        [
            (_raise, "check 'data_fresh' raised OSError: the data disk is gone"),
            (_raise_bare, "check 'data_fresh' raised MemoryError"),
            (lambda: None, "check 'data_fresh' returned None, not a CheckResult"),
            (lambda: True, "check 'data_fresh' returned a bool, not a CheckResult"),
            (
                lambda: CheckResult(name="data_fresh", passed="no"),  # type: ignore[arg-type]
                (
                    "check 'data_fresh' returned a CheckResult whose passed is a str, "
                    "not True or False"
                ),
            ),
        ],
        ids=["raises", "raises-bare", "none", "bool", "passed-a-str"],
    )
    def test_it_fails_naming_the_check_and_the_run_is_rejected_whole(
        self, answer: Callable[[], Any], detail: str, tmp_path: Path
    ) -> None:
        sinks = Sinks()
        orch = _session(sinks, checks=[_Check(answer)])
        result = orch.run_to_end(20)
        assert (result.status.value, result.reason, result.detail) == (
            "REJECTED",
            "CHECK_ERROR",
            detail,
        )
        assert result.orders_submitted == 0
        failed = sinks.events_of("PREFLIGHT_CHECK")[-1]["payload"]
        assert failed == {
            "check": "data_fresh",
            "passed": False,
            "reason": "CHECK_ERROR",
            "detail": detail,
        }
        assert "C2_REJECT_CHECK_ERROR" in sinks.audit_codes()
        _verify_memory(sinks, tmp_path / "run")


class TestARailThatRaisesOrAnswersJunk:
    @pytest.mark.parametrize(
        ("answer", "said"),
        [
            (_raise, "raised OSError: the data disk is gone"),
            (_raise_bare, "raised MemoryError"),
            (lambda: True, "returned a bool, not a Rejection or None"),
            (
                lambda: Rejection(rule="DESK_CAP", detail={"limit": Decimal("0.005")}),
                (
                    "returned a Rejection whose detail holds a Decimal at key 'limit': its keys "
                    "and values are strings (write numbers as str(...))"
                ),
            ),
            (
                lambda: Rejection(rule="DESK_CAP", detail={"rule": "MAX_ORDER_QTY"}),
                (
                    "returned a Rejection whose detail holds 'rule', a field RISK_REJECTED "
                    "records of its own"
                ),
            ),
            (
                lambda: Rejection(rule="DESK_CAP", detail={"signal_id": "0" * 24}),
                (
                    "returned a Rejection whose detail holds 'signal_id', a field RISK_REJECTED "
                    "records of its own"
                ),
            ),
        ],
        ids=[
            "raises",
            "raises-bare",
            "bool",
            "decimal-detail",
            "rule-in-detail",
            "signal-id-in-detail",
        ],
    )
    def test_the_step_faults_naming_the_rail_and_the_run_verifies(
        self, answer: Callable[[], Any], said: str, tmp_path: Path
    ) -> None:
        sinks = Sinks()
        orch = _session(sinks, rails=[_Rail(answer)])
        result = orch.run_to_end(20, operator="ops")
        assert (result.status.value, result.reason) == ("FAILED", "UNEXPECTED_ERROR")
        assert result.detail == f"RailError: rail 'DESK_CAP' ({__name__}._Rail) {said}"
        assert result.orders_submitted == 0
        assert not sinks.events_of("RISK_REJECTED")  # nothing recorded of what it answered
        _verify_memory(sinks, tmp_path / "run")

    def test_a_rejection_is_recorded_under_its_rail_s_rule(self, tmp_path: Path) -> None:
        """The good answer, for contrast: recorded as a built-in rail's, by its rule."""
        cap = _Rail(lambda: Rejection(rule="DESK_CAP", detail={"limit": "0.005"}, reason="cap"))
        sinks = Sinks()
        result = _session(sinks, rails=[cap]).run_to_end(20)
        assert result.status.value == "COMPLETED"
        (event,) = sinks.events_of("RISK_REJECTED")
        assert (event["payload"]["rule"], event["payload"]["limit"]) == ("DESK_CAP", "0.005")
        assert "C2_REJECT_DESK_CAP" in sinks.audit_codes()
        assert sinks.metrics_doc()["rejects_by_reason"] == {"DESK_CAP": 1}
        _verify_memory(sinks, tmp_path / "run")


class TestARunDirectoryTakesNoRailsOfACaller:
    """A run directory takes no rail or check objects (a resume could not get a desk's
    back). ``create_run(..., rails=...)`` was refused as "an edge of
    LiveSessionOrchestrator, which a run directory sets up itself", which did not say that
    the desk's rail would not run there, nor where it goes instead: the config's ``rails``
    (by reference) for a rail, ``LiveSessionOrchestrator`` for a check."""

    @pytest.mark.parametrize("keyword", ["rails", "checks"])
    def test_create_run_and_resume_run_refuse_them_saying_why(
        self, keyword: str, tmp_path: Path
    ) -> None:
        from livesession import create_run, resume_run

        said = {
            "rails": (
                "(rails: a run directory takes a desk's own rails from the config's rails "
                "key, by reference, so that resume and the evidence's re-run build the same "
                'ones: docs/plugins.md, "Rails of your own")'
            ),
            "checks": (
                "(checks: a run directory runs the built-in checks only, so that resume and "
                "the evidence's re-run hold the same ones; yours go to "
                "LiveSessionOrchestrator: docs/embedding.md)"
            ),
        }[keyword]
        with pytest.raises(TypeError) as made:
            create_run(DryrunConfig(run_id="d", steps=5), tmp_path / "runs", **{keyword: ()})
        assert said in str(made.value)
        assert not (tmp_path / "runs").exists()
        with pytest.raises(TypeError) as resumed:
            resume_run(tmp_path / "runs" / "d", **{keyword: ()})
        assert said in str(resumed.value)


class TestTheOperatorsVerbsHoldWhateverRailsAreGiven:
    """Bug: ``rails=`` replaces the whole list, the trading-state rail too, so a session
    given a desk's own rail alone (``rails=[MaxPosition(...)]``, without
    ``default_rails(...)``) took the operator's ``reduce_only()`` as ``APPLIED``, ``trading
    REDUCING``, and went on adding to its position: nothing held the verb. The trading state
    is enforced first whatever rails a session is given; the risk limits stay the caller's
    to choose."""

    def test_reduce_only_refuses_an_entry_with_a_desks_rail_alone(self, tmp_path: Path) -> None:
        sinks = Sinks()
        cfg = DryrunConfig(run_id="t", strategy_id="scripted", steps=20)
        session = LiveSessionOrchestrator(
            cfg,
            feed=ScriptedFeed(["40000.00"]),
            strategy=ScriptedStrategy(at({1: [buy("0.010")], 3: [buy("0.010")]})),
            rails=[_Rail(lambda: None)],
            **sinks.kwargs(),
        )
        session.preflight()
        session.activate()
        session.run_n_steps(2)
        assert session.book.positions[SYMBOL] == Decimal("0.010")
        assert session.reduce_only("risk: reduce only")
        result = session.run_to_end(20)
        assert result.status.value == "COMPLETED"
        (refused,) = sinks.events_of("RISK_REJECTED")
        assert refused["payload"]["rule"] == "TRADING_STATE"
        assert refused["payload"]["trading_state"] == "REDUCING"
        _verify_memory(sinks, tmp_path / "run")


def test_a_verb_a_rail_calls_is_deferred_saying_a_rail_called_it() -> None:
    """Bug: a verb a desk's rail called mid-step was deferred ``(a signal handler, say)``;
    the library knows it was a rail, and says so."""
    sinks = Sinks()
    said: list[VerbResult] = []
    orch: LiveSessionOrchestrator | None = None

    def pause() -> None:
        assert orch is not None
        said.append(orch.reduce_only("the desk's rail saw enough"))

    orch = _session(sinks, rails=[_Rail(pause)])
    orch.run_to_end(20)
    (result,) = said
    assert result.outcome is VerbOutcome.DEFERRED
    assert result.message == (
        "called from inside a step (from within a rail): it takes effect when the step ends"
    )
