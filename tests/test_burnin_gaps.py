"""A paper day whose data skips time says so beside its verdict, and in its report.

A day's 1-minute export with 90 minutes missing read only ``the session stopped at step
1350 of 1440 planned (FEED_EXHAUSTED)``, as a half day's file does: nothing in ``burnin``'s
output, ``burnin.md`` or the evidence said that the strategy saw no bar from 10:00 to 11:30.
``report.html``, the page a reviewer reads first, said nothing of it either.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from livesession._artifacts.bargaps import BarGaps
from livesession.cli import main

_LENIENT = ("--min-signals", "0", "--min-decisions", "0", "--min-oco", "0")


def _day(path: Path, skipped: range) -> Path:
    start = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
    rows = ["timestamp,open,high,low,close,volume"]
    for minute in range(120):
        if minute in skipped:
            continue
        at = (start + dt.timedelta(minutes=minute)).strftime("%Y-%m-%d %H:%M:%S")
        price = 3000 + minute % 7
        rows.append(f"{at},{price},{price + 1},{price - 1},{price},10")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], skipped: range, *clock: str
) -> dict:
    data = _day(tmp_path / "ETHUSDT-1m-2026-11-03.csv", skipped)
    argv = ["dryrun", "--out", str(tmp_path / "runs"), "--run-id", "day", "--steps", "120"]
    argv += clock
    assert (
        main([*argv, "--feed", f"csv:{data}", "--symbol", "ETH/USDT", "-q", "--durability", "none"])
        == 0
    )
    run = tmp_path / "runs" / "day"
    assert main(["burnin", str(run), *_LENIENT, "--json"]) in (0, 1)
    out = json.loads(capsys.readouterr().out)
    (session,) = out["sessions"]
    return session | {"md": (run / "burnin.md").read_text(encoding="utf-8")}


def test_a_gap_in_the_days_data_is_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = _judged(tmp_path, capsys, range(60, 90))
    said = (
        "the bars skip time: 1 gap(s) longer than their usual 1 min spacing, 30 min without a "
        "bar in all, the longest from 2026-11-03T00:59:00Z to 2026-11-03T01:30:00Z: a gap in "
        "the data, or the market closed (the strategy saw no bar in between)"
    )
    assert said in session["notes"]
    assert f"Note: {said}." in session["md"]


def test_data_without_a_gap_says_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = _judged(tmp_path, capsys, range(0))
    assert not [note for note in session["notes"] if "skip time" in note]


def _report(tmp_path: Path, capsys: pytest.CaptureFixture[str], skipped: range, *clock: str) -> str:
    _judged(tmp_path, capsys, skipped, *clock)
    assert main(["report", str(tmp_path / "runs" / "day")]) == 0
    return (tmp_path / "runs" / "day" / "report.html").read_text(encoding="utf-8")


def test_the_report_says_where_the_data_skips_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = _report(tmp_path, capsys, range(60, 90))
    assert (
        '<p class="sub">Data: the bars skip time: 1 gap(s) longer than their usual 1 min '
        "spacing, 30 min without a bar in all, the longest from 2026-11-03T00:59:00Z to "
        "2026-11-03T01:30:00Z"
    ) in page


@pytest.mark.parametrize("clock", ["fixed", "system"])
def test_the_gap_is_named_by_the_bars_times_whatever_clock_stamps_the_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clock: str
) -> None:
    # ts_utc is the clock's stamp: start_time for every record (fixed), or the wall clock
    # (system). The gap was named by it: "from 2026-11-03T00:00:00Z to 2026-11-03T00:00:00Z".
    page = _report(tmp_path, capsys, range(60, 90), "--clock", clock)
    where = "the longest from 2026-11-03T00:59:00Z to 2026-11-03T01:30:00Z"
    assert where in page
    burnin = (tmp_path / "runs" / "day" / "burnin.md").read_text(encoding="utf-8")
    assert where in burnin


def test_a_report_of_data_without_a_gap_says_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = _report(tmp_path, capsys, range(0))
    assert "Run <code>day</code>" in page
    assert "skip time" not in page


def _bar(at_s: int) -> dict:
    return {"event_type": "BAR", "ts_sim": at_s * 1_000_000_000, "ts_utc": f"t{at_s}"}


def test_gaps_of_several_lengths_are_counted_and_the_first_longest_named() -> None:
    gaps = BarGaps()
    # Bars each minute, with gaps of 3, 5, 3 and 5 minutes; a stray event and a bar without
    # a time count for nothing.
    at = [0, 60, 120, 300, 360, 660, 720, 900, 960, 1260, 1320, 1380]
    for when in at:
        gaps.note(_bar(when))
        gaps.note({"event_type": "SIGNAL", "ts_sim": 5})
    gaps.note({"event_type": "BAR", "ts_sim": "later"})
    said = gaps.said()
    # 2 x 2 min + 2 x 4 min missing; the first 5-minute gap is the longest named, then the
    # next two longest (of equal ones, the first), and how many more there are.
    assert said.startswith(
        "the bars skip time: 4 gap(s) longer than their usual 1 min spacing, 12 min without a "
        "bar in all, the longest from 1970-01-01T00:06:00Z to 1970-01-01T00:11:00Z, then from "
        "1970-01-01T00:16:00Z to 1970-01-01T00:21:00Z (5 min) and from 1970-01-01T00:02:00Z "
        "to 1970-01-01T00:05:00Z (3 min), and 1 more:"
    ), said
