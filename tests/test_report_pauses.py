"""A wall-clock run's report and evidence say how long the longest stretch without a record was.

A session on a clock that is not simulated time (``clock_mode = "system"``, a clock of the
caller's) runs on it while nothing steps the session: a laptop suspended, a VM paused, a
process stopped with SIGSTOP, a strategy that blocks longer than the step interval. The
session takes one step when it wakes (steps are never caught up), so its simulated times
show no gap: only the records' ``ts_utc`` do, which the reviewer was not told of.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import orjson

from livesession import DryrunConfig, create_run
from livesession.evidence import write_evidence
from livesession.report import render_report

WALL = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


class SuspendedClock:
    """A desk's wall clock: 1 ms a reading, and ``jump_s`` more at reading ``at`` (a suspend,
    or a clock stepped forward)."""

    def __init__(self, at: int, jump_s: int = 300) -> None:
        self.readings = 0
        self.at = at
        self.jump = dt.timedelta(seconds=jump_s)
        self.moment = WALL

    def now(self) -> dt.datetime:
        self.readings += 1
        self.moment += dt.timedelta(milliseconds=1)
        if self.readings == self.at:
            self.moment += self.jump
        return self.moment


def _header(run_dir) -> str:
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", render_report(run_dir))).split())
    return text[: text.index("Verification")]


def _suspended(tmp_path):
    clock = SuspendedClock(at=12)
    cfg = DryrunConfig(run_id="suspended", steps=20, clock_mode="system")
    with create_run(cfg, tmp_path, clock=clock) as session:
        session.run_to_end(20)
    assert clock.readings > 12
    return tmp_path / "suspended"


def test_the_longest_stretch_without_a_record_is_said_with_its_step(tmp_path):
    _suspended(tmp_path)
    header = _header(tmp_path / "suspended")
    said = re.search(
        r"the longest time by it between two records (\S+) s, up to (\S+ \S+) UTC in step (\d+)",
        header,
    )
    assert said, header
    assert said.group(1) == "300.0"
    moment = dt.datetime.fromisoformat(said.group(2)).replace(tzinfo=dt.UTC)
    assert WALL + dt.timedelta(seconds=300) <= moment < WALL + dt.timedelta(seconds=301)
    assert 0 < int(said.group(3)) < 20
    assert "a paused or crashed process, a strategy or feed slower than the step" in header


def test_a_run_on_simulated_time_says_nothing_of_it(tmp_path):
    cfg = DryrunConfig(run_id="simulated", steps=20)
    with create_run(cfg, tmp_path) as session:
        session.run_to_end(20)
    assert "longest time" not in _header(tmp_path / "simulated")


def test_the_evidence_says_it_too(tmp_path):
    run = _suspended(tmp_path)
    result = write_evidence(run, out_dir=tmp_path / "evidence")
    gap = orjson.loads(result.manifest.read_bytes())["outcome"]["longest_gap"]
    assert 300_000_000_000 <= gap["ns"] < 301_000_000_000
    document = result.document.read_text(encoding="utf-8")
    line = f"by the clock that stamped them (`ts_utc`): 300.0 s, up to {gap['ts_utc']} in step"
    assert line in document
    assert f"step {gap['step']} (nothing was recorded meanwhile" in document


def test_a_clock_stepped_forward_is_not_said_only_as_a_pause(tmp_path):
    """Bug: a run on the system clock whose host's time sync stepped the clock an hour
    forward mid-run (its steps took 0.05 s each) read in the report's header as `the longest
    time by it between two records 3600.1 s ... (nothing was recorded meanwhile: a paused or
    crashed process, a strategy or feed slower than the step)`: a reviewer was told the
    process had stood still for an hour. The header says a stepped clock looks the same."""
    clock = SuspendedClock(at=12, jump_s=3600)
    cfg = DryrunConfig(run_id="stepped", steps=20, clock_mode="system")
    with create_run(cfg, tmp_path, clock=clock) as session:
        session.run_to_end(20)
    header = _header(tmp_path / "stepped")
    assert "the longest time by it between two records 3600.0 s" in header, header
    assert (
        "; or no time passed and the clock was stepped forward (a time sync step, a clock set "
        "by hand), which the records cannot tell apart)" in header
    ), header
