"""The words of a run's halts and of a fault in its wind-down (``_rundir/halts.py``).

``status``, the CLI's last line, the report and the evidence all say a run sealed in
ERROR_REQUIRES_OPERATOR, and each halt of its trading, in these words: each branch is
pinned here through the module's own functions, on records written by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession._artifacts import names
from livesession._rundir.halts import (
    MID_WIND_DOWN,
    WOUND_DOWN,
    faulted_in_wind_down,
    faulted_in_wind_down_in,
    halt_text,
    left_for_an_operator,
    trading_halts,
    wind_down_next,
    wind_down_words,
)
from livesession._rundir.statuswords import (
    DIFFERED_MID_WIND_DOWN,
    FAULTED_MID_WIND_DOWN,
    FAULTED_WOUND_DOWN,
    UNCONFIRMED_WIND_DOWN,
    WOUND_DOWN_THEN_DIFFERED,
)

_LOOK = "a person must look (RUNBOOK: When a session is in ERROR_REQUIRES_OPERATOR): "


@pytest.mark.parametrize(
    ("reason", "at", "words"),
    [
        ("STOP_INCOMPLETE", "", UNCONFIRMED_WIND_DOWN),
        ("STOP_INCOMPLETE", WOUND_DOWN, UNCONFIRMED_WIND_DOWN),
        ("RECONCILE_MISMATCH", WOUND_DOWN, WOUND_DOWN_THEN_DIFFERED),
        ("RECONCILE_MISMATCH", MID_WIND_DOWN, DIFFERED_MID_WIND_DOWN),
        ("RECONCILE_MISMATCH", "", ""),
        ("BROKER_ERROR", WOUND_DOWN, FAULTED_WOUND_DOWN),
        ("BROKER_ERROR", MID_WIND_DOWN, FAULTED_MID_WIND_DOWN),
        ("BROKER_ERROR", "", ""),
    ],
)
def test_wind_down_words(reason: str, at: str, words: str) -> None:
    assert wind_down_words(reason, at) == words


def test_wind_down_next_for_an_escalation_says_what_it_found() -> None:
    wound = wind_down_next("RECONCILE_MISMATCH", WOUND_DOWN)
    mid = wind_down_next("RECONCILE_MISMATCH", MID_WIND_DOWN)
    assert wound.startswith(f"{_LOOK}the run was wound down (its orders cancelled")
    assert mid.startswith(f"{_LOOK}the run was winding down, its orders not all cancelled")
    assert mid.endswith("its own among them")
    assert wind_down_next("RECONCILE_MISMATCH", "") == ""


def test_wind_down_next_for_any_other_fault_in_the_wind_down() -> None:
    assert wind_down_next("BROKER_ERROR", MID_WIND_DOWN) == (
        f"{_LOOK}the run faulted (BROKER_ERROR) {FAULTED_MID_WIND_DOWN}: check the venue's "
        "open orders and positions, its own among them"
    )
    assert wind_down_next("BROKER_ERROR", WOUND_DOWN) == (
        f"{_LOOK}the run faulted (BROKER_ERROR) {FAULTED_WOUND_DOWN}: check the venue's "
        "open orders and positions"
    )


@pytest.mark.parametrize("reason", ["BROKER_ERROR", "STOP_INCOMPLETE"])
def test_wind_down_next_is_nothing_without_a_wind_down(reason: str) -> None:
    assert wind_down_next(reason, "") == ""


@pytest.mark.parametrize(
    ("reason", "at", "said"),
    [
        (
            "RECONCILE_MISMATCH",
            WOUND_DOWN,
            (
                f"left in ERROR_REQUIRES_OPERATOR {WOUND_DOWN_THEN_DIFFERED}: a person must look "
                "at the venue's open orders and positions"
            ),
        ),
        (
            "RECONCILE_MISMATCH",
            MID_WIND_DOWN,
            (
                f"left in ERROR_REQUIRES_OPERATOR {DIFFERED_MID_WIND_DOWN}: the venue may still "
                "hold its orders and position (a person must look)"
            ),
        ),
        (
            "BROKER_ERROR",
            WOUND_DOWN,
            (
                f"left in ERROR_REQUIRES_OPERATOR {FAULTED_WOUND_DOWN}: the venue may still "
                "hold its orders and position (a person must look)"
            ),
        ),
        (
            "BROKER_ERROR",
            "",
            (
                "left in ERROR_REQUIRES_OPERATOR, not wound down: the venue may still hold its "
                "orders and position (a person must look)"
            ),
        ),
        (
            "STOP_INCOMPLETE",
            "",
            (
                f"left in ERROR_REQUIRES_OPERATOR {UNCONFIRMED_WIND_DOWN}: the venue may still "
                "hold its orders and position (a person must look)"
            ),
        ),
    ],
)
def test_left_for_an_operator(reason: str, at: str, said: str) -> None:
    assert left_for_an_operator(reason, at) == said


def _fault(
    from_state: str = "STOPPING", positions: object = None, orders: object = None
) -> dict[str, Any]:
    return {
        "trigger": "fault",
        "from_state": from_state,
        "positions": {"BTC/USDT": "0.000"} if positions is None else positions,
        "open_orders": [] if orders is None else orders,
    }


@pytest.mark.parametrize(
    ("snapshots", "at"),
    [
        ([_fault()], WOUND_DOWN),
        ([_fault(positions={})], WOUND_DOWN),
        ([_fault(orders=["ls1"])], MID_WIND_DOWN),
        ([_fault(positions={"BTC/USDT": "0.010"})], MID_WIND_DOWN),
        ([_fault(positions=["0"])], MID_WIND_DOWN),
        ([_fault(orders=None) | {"open_orders": None}], MID_WIND_DOWN),
        ([_fault(from_state="RUNNING")], ""),
        ([_fault() | {"trigger": "transition"}], ""),
        ([], ""),
        ([_fault(from_state="RUNNING"), _fault()], WOUND_DOWN),  # the last fault's
        ([_fault(), _fault(from_state="RUNNING")], ""),
        ([_fault(), {"trigger": "final", "from_state": "ERROR_REQUIRES_OPERATOR"}], WOUND_DOWN),
    ],
)
def test_faulted_in_wind_down(snapshots: list[dict[str, Any]], at: str) -> None:
    assert faulted_in_wind_down("BROKER_ERROR", snapshots) == at


@pytest.mark.parametrize("reason", ["", None, "STOP_INCOMPLETE"])
def test_no_fault_or_an_unconfirmed_stop_is_no_fault_in_a_wind_down(reason: object) -> None:
    assert faulted_in_wind_down(reason, [_fault()]) == ""


def test_faulted_in_wind_down_in_reads_the_snapshots(tmp_path: Path) -> None:
    assert faulted_in_wind_down_in(tmp_path, "BROKER_ERROR") == ""  # no file
    (tmp_path / names.SNAPSHOTS).write_bytes(orjson.dumps(_fault(orders=["ls1"])) + b"\n")
    assert faulted_in_wind_down_in(tmp_path, "BROKER_ERROR") == MID_WIND_DOWN
    assert faulted_in_wind_down_in(tmp_path, "STOP_INCOMPLETE") == ""
    assert faulted_in_wind_down_in(tmp_path, "") == ""


def _event(kind: str, **body: object) -> dict[str, Any]:
    return {"event_type": kind, "payload": body}


def test_trading_halts_from_when_by_what_until_when() -> None:
    bar = _event("BAR")
    events = [
        _event("TRADING_REENABLED", operator="early"),  # nothing halted: nothing lifted
        bar,
        bar,
        _event("KILL_SWITCH", reason="DAILY_LOSS"),
        bar,
        _event("KILL_SWITCH", reason="OPS"),  # already HALTED: starts nothing
        _event("TRADING_STATE_CHANGED", to="HALTED", reason="EXECUTION_THROTTLE"),
        _event("TRADING_REENABLED", operator="ops"),
        bar,
        _event("TRADING_STATE_CHANGED", to="REDUCING", reason="X"),
        _event("KILL_SWITCH", reason="OPS"),
        _event("TRADING_REENABLED"),
        _event("TRADING_STATE_CHANGED", to="HALTED", reason="EXECUTION_THROTTLE"),
        bar,
        _event("TRADING_REENABLED", operator="ops"),
        _event("TRADING_STATE_CHANGED", to="HALTED", reason="SOMETHING_NEW"),
        _event("TRADING_REENABLED", operator="ops"),
        _event("TRADING_STATE_CHANGED", to="HALTED"),
    ]
    found = trading_halts(events)
    assert [(h["from_step"], h["until_step"], h["reenabled_by"]) for h in found] == [
        (2, 3, "ops"),
        (4, 4, ""),
        (4, 5, "ops"),
        (5, 5, "ops"),
        (5, None, None),
    ]
    assert [(h["event"], h["reason"], h["by"]) for h in found] == [
        ("KILL_SWITCH", "DAILY_LOSS", "the daily-loss cap pulled the kill switch"),
        ("KILL_SWITCH", "OPS", "an operator's kill"),
        ("TRADING_STATE_CHANGED", "EXECUTION_THROTTLE", "the execution throttle"),
        ("TRADING_STATE_CHANGED", "SOMETHING_NEW", "SOMETHING_NEW"),
        ("TRADING_STATE_CHANGED", "", "(no reason recorded)"),
    ]


def test_halt_text() -> None:
    halt = {
        "from_step": 40,
        "until_step": 52,
        "reenabled_by": "ops",
        "event": "KILL_SWITCH",
        "reason": "DAILY_LOSS",
        "by": "the daily-loss cap pulled the kill switch",
    }
    assert halt_text(halt, "to the end", code=lambda v: f"`{v}`", text=str.upper) == (
        "from step 40 until `ops` re-enabled it after step 52: THE DAILY-LOSS CAP PULLED THE "
        "KILL SWITCH (`KILL_SWITCH` reason `DAILY_LOSS`)"
    )
    unnamed = halt | {"reenabled_by": "", "reason": ""}
    assert halt_text(unnamed, "to the end") == (
        "from step 40 until an operator re-enabled it after step 52: the daily-loss cap "
        "pulled the kill switch (KILL_SWITCH)"
    )
    lasting = halt | {"until_step": None, "reenabled_by": None}
    assert halt_text(lasting, "to the run's end") == (
        "from step 40 to the run's end: the daily-loss cap pulled the kill switch "
        "(KILL_SWITCH reason DAILY_LOSS)"
    )
