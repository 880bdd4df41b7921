"""The report's header names a kill switch that halted trading to the run's end.

Bug: the report of a run the daily-loss cap killed at step 428 of 600 said ``COMPLETED ·
600 of 600 steps`` in its header, as a run that traded to its end: a reviewer reading the
header alone took it for a good run. It says ``KILLED: trading HALTED by the kill switch
(DAILY_LOSS) from ... to the end`` now; a kill an operator lifted is not said there, but
on a line of its own, with who lifted it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy, daily_loss_kill, halted_run, sell
from livesession import DryrunConfig
from livesession.report import render_report


@pytest.mark.parametrize("clock_mode", ["sim", "fixed"])
def test_the_header_names_a_kill_that_lasted_to_the_end(tmp_path: Path, clock_mode: str) -> None:
    """Bug: the header gave the kill's ``ts_utc``, the clock's stamp, where every time of
    the report is the run's own: on the fixed clock, which stamps every record with the
    start time, the kill of bar 3 read ``from 2026-01-01T00:00:00Z`` (on the system clock,
    the wall time the process wrote it)."""
    daily_loss_kill(tmp_path, "cap", clock_mode=clock_mode)
    header = render_report(tmp_path / "cap").split("</header>", 1)[0]
    assert (
        "&middot; 6 of 6 steps; KILLED: trading HALTED by the kill switch (DAILY_LOSS) from "
        "2026-01-01T00:03:00Z to the end</p>"
    ) in header


def test_the_report_names_no_kill_an_operator_lifted(tmp_path: Path) -> None:
    daily_loss_kill(tmp_path, "lift", lifted_after=4)
    header = render_report(tmp_path / "lift").split("</header>", 1)[0]
    assert "&middot; 6 of 6 steps</p>" in header
    assert "KILLED" not in header


def _throttled(out: Path, run_id: str, *, lifted_after: int | None = None) -> Path:
    """A six-step run whose execution throttle (``max_executions`` 1) halts trading on bar 2:
    the buy of bar 1 filled, the sell of bar 2 is refused. ``lifted_after``: an operator
    re-enables trading after that many steps."""
    cfg = DryrunConfig(run_id=run_id, strategy_id="scripted", steps=6, risk={"max_executions": 1})
    strategy = ScriptedStrategy(at({1: [buy("0.010")], 2: [sell("0.010")]}))
    feed = ScriptedFeed(["40000.00"] * 6)
    return halted_run(cfg, out, feed, strategy, lifted_after=lifted_after)


def test_the_header_names_a_throttle_halt_that_lasted_to_the_end(tmp_path: Path) -> None:
    """Bug: a run the execution throttle halted on its second bar, and which then stepped to
    its end without trading, read ``COMPLETED · 6 of 6 steps`` in the header, where the
    evidence says ``trading HALTED from step 2 to the end by the execution throttle`` and
    ``status`` ``HALTED at the end``."""
    header = render_report(_throttled(tmp_path, "throttled")).split("</header>", 1)[0]
    assert (
        "&middot; 6 of 6 steps; HALTED: trading HALTED by the execution throttle "
        "(EXECUTION_THROTTLE) from 2026-01-01T00:02:00Z to the end</p>"
    ) in header


def test_the_header_names_no_halt_an_operator_lifted(tmp_path: Path) -> None:
    header = render_report(_throttled(tmp_path, "lifted", lifted_after=4)).split("</header>", 1)[0]
    assert "&middot; 6 of 6 steps</p>" in header  # the ending names no halt that lasted
    assert "to the end" not in header
    # It is said apart, lifted, and by whom (changed on purpose: the header once named no
    # lifted halt at all, and a run killed and re-enabled read as one that traded throughout).
    assert "Halted and re-enabled: trading HALTED by the execution throttle" in header
    assert "until ops-1 re-enabled it at " in header
