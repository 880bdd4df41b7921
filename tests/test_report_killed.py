"""The report's header names a kill switch that halted trading to the run's end.

Bug: the report of a run the daily-loss cap killed at step 428 of 600 said ``COMPLETED ·
600 of 600 steps`` in its header, as a run that traded to its end: a reviewer reading the
header alone took it for a good run. It says ``KILLED: trading HALTED by the kill switch
(DAILY_LOSS) from ... to the end`` now; a kill an operator lifted is not said there.
"""

from __future__ import annotations

from pathlib import Path

from _scripted import daily_loss_kill
from livesession.report import render_report


def test_the_header_names_a_kill_that_lasted_to_the_end(tmp_path: Path) -> None:
    daily_loss_kill(tmp_path, "cap")
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
