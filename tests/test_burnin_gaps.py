"""A paper day whose data skips time says so beside its verdict.

A day's 1-minute export with 90 minutes missing read only ``the session stopped at step
1350 of 1440 planned (FEED_EXHAUSTED)``, as a half day's file does: nothing in ``burnin``'s
output, ``burnin.md`` or the evidence said that the strategy saw no bar from 10:00 to 11:30.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

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


def _judged(tmp_path: Path, capsys: pytest.CaptureFixture[str], skipped: range) -> dict:
    data = _day(tmp_path / "ETHUSDT-1m-2026-11-03.csv", skipped)
    argv = ["dryrun", "--out", str(tmp_path / "runs"), "--run-id", "day", "--steps", "120"]
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
