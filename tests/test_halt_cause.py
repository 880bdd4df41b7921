"""``halt_cause`` and ``halted_by_in``: what halted trading, in words, by the event that did.

The evidence (``Halts``) and ``status`` (``halted_by_in``) read a halt through them: each
kill switch's reason has its own words (the session's own kills; any other is an
operator's), a ``TRADING_STATE_CHANGED`` only halts when it goes to HALTED, and a halt
without a reason says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession._artifacts import names
from livesession._rundir.halts import Halts, halt_cause, halted_by_in, killed_by_in


def _event(kind: str, **body: Any) -> dict[str, Any]:
    return {"event_type": kind, "payload": body}


@pytest.mark.parametrize(
    ("event", "said"),
    [
        (_event("KILL_SWITCH", reason="DAILY_LOSS"), "the daily-loss cap pulled the kill switch"),
        (_event("KILL_SWITCH", reason="ops"), "an operator's kill"),
        (_event("TRADING_STATE_CHANGED", to="HALTED", reason="EXECUTION_THROTTLE"), None),
        (_event("TRADING_STATE_CHANGED", to="HALTED", reason="DESK_RULE"), "DESK_RULE"),
        (_event("TRADING_STATE_CHANGED", to="HALTED"), "(no reason recorded)"),
        (_event("TRADING_STATE_CHANGED", to="ACTIVE", reason="EXECUTION_THROTTLE"), None),
        (_event("BAR"), None),
    ],
)
def test_what_halted_trading_by_its_event(event: dict[str, Any], said: str | None) -> None:
    if said is None and event["payload"].get("to") == "HALTED":
        said = "the execution throttle"
    assert halt_cause(event) == said


def _events(run_dir: Path, *events: dict[str, Any]) -> Path:
    run_dir.mkdir(exist_ok=True)
    lines = b"".join(orjson.dumps(event) + b"\n" for event in events)
    (run_dir / names.EVENTS).write_bytes(lines)
    return run_dir


_THROTTLED = _event("TRADING_STATE_CHANGED", to="HALTED", reason="EXECUTION_THROTTLE")


def test_status_names_the_halt_of_a_run_halted_not_by_the_kill_switch(tmp_path: Path) -> None:
    run_dir = _events(tmp_path, _THROTTLED)
    assert halted_by_in(run_dir, "HALTED", killed=False) == "the execution throttle"
    assert halted_by_in(run_dir, "HALTED", killed=True) == ""  # the kill switch's own words
    assert halted_by_in(run_dir, "ACTIVE", killed=False) == ""
    assert halted_by_in(run_dir, None, killed=False) == ""


def test_a_newest_trading_event_of_another_kind_names_no_halt(tmp_path: Path) -> None:
    """A kill switch as the newest (a lease lost halts as the kill switch does, yet is no
    kill: its reason tells it) is not said as a halt by it."""
    run_dir = _events(tmp_path, _THROTTLED, _event("KILL_SWITCH", reason="ops"))
    assert halted_by_in(run_dir, "HALTED", killed=False) == ""


def test_halts_keep_the_halting_event_s_reason(tmp_path: Path) -> None:
    halts = Halts()
    for event in (_event("BAR"), _THROTTLED):
        halts.note(event)
    (halt,) = halts.found
    assert (halt["reason"], halt["by"]) == ("EXECUTION_THROTTLE", "the execution throttle")


def test_status_names_the_newest_kill_s_reason(tmp_path: Path) -> None:
    """``status`` of a run halted at its end by the kill switch names what pulled it last
    (an operator's kill acked before the daily-loss cap's is not the halt at the end)."""
    kills = [
        {"code": "C2_KILL_SWITCH", "payload": {"reason": why}} for why in ("ops", "DAILY\nLOSS")
    ]
    (tmp_path / names.AUDIT).write_bytes(b"".join(orjson.dumps(k) + b"\n" for k in kills))
    assert killed_by_in(tmp_path) == "the kill switch (DAILY LOSS)"  # one line, as it prints
    (tmp_path / names.AUDIT).write_bytes(b"")
    assert killed_by_in(tmp_path) == "the kill switch"  # none recorded: the words as before
