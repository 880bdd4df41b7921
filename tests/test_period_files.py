"""A period made of several data files, a month a file, joined into one (docs/data.md).

A desk keeps minute bars a file a month (data.binance.vision's klines without a header, its
own exports with one each) and joins a quarter's. Bug: ``cat`` of files with a header each
was refused at the second header as ``column open, value 'open': not a decimal number``,
naming no header and no join; a bar two months both held where they meet was ``the same time
twice (a duplicated row?)``, which said nothing of what to do, whether the rows were the
same bar or two; docs/data.md said nothing of joining files.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

import pytest

from livesession import check_csv
from livesession._artifacts.bargaps import BarGaps
from livesession._exceptions import DataFileError
from livesession.cli import main

HEADER = "timestamp,open,high,low,close,volume\n"
JAN = "2024-01-31 23:58:00,42100.5,42110.0,42090.0,42105.0,3.1\n2024-01-31 23:59:00,42105.0,42120.0,42100.0,42118.5,2.7\n"
FEB = "2024-02-01 00:00:00,42118.5,42130.0,42110.0,42125.0,4.0\n2024-02-01 00:01:00,42125.0,42126.0,42101.0,42102.5,1.9\n"
JOIN = (
    "`awk 'FNR == 1 {if (NR == 1) print; next} $0 != last {print} {last = $0}' jan.csv "
    "feb.csv > both.csv` keeps the first file's header and drops a row that repeats the row "
    "before it"
)
JOIN_FIX = f"keep only the first file's: {JOIN}"


def _refusal(tmp_path: Path, text: str) -> DataFileError:
    path = tmp_path / "q1.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        check_csv(path, tick=None)
    return caught.value


@pytest.mark.parametrize(
    "second",
    [
        HEADER,
        "Timestamp,Open,High,Low,Close,Volume\n",
        "\ufefftimestamp,open,high,low,close,volume\n",
    ],
    ids=["the same header", "in other case", "after a byte order mark"],
)
def test_files_joined_with_cat_each_with_its_header_are_told_so(
    tmp_path: Path, second: str
) -> None:
    """The second file's header is named as a header among the rows, with the join to use."""
    error = _refusal(tmp_path, HEADER + JAN + second + FEB)
    assert error.line == 4
    said = str(error)
    shown = second.strip().replace("\ufeff", "\\ufeff")  # an invisible character, written out
    assert f"q1.csv, line 4, value '{shown}': the header again, among the rows" in said
    assert said.endswith(f"(files joined with `cat`, each with its header?): {JOIN_FIX}")
    assert "not a decimal number" not in said


def test_a_month_exported_with_other_columns_is_told_so_at_its_header(tmp_path: Path) -> None:
    """February's export added a column: its header, among January's rows, was refused as
    ``column #7, value 'trades': extra value (the row has 7 values, the header 6)``."""
    second = "Timestamp,Open,High,Low,Close,Volume,Trades\n"
    feb = "".join(row + ",12\n" for row in FEB.splitlines())
    error = _refusal(tmp_path, HEADER + JAN + second + feb)
    said = str(error)
    assert "q1.csv, line 4, value 'Timestamp,Open,High,Low,Close,Volume,Tra...': a header" in said
    assert said.endswith(
        ": a header among the rows, of other columns than line 1's (files joined with `cat`, "
        "exported with other columns?): export every file with the same columns, then join "
        f"them keeping only the first file's header: {JOIN}"
    )


def test_a_bar_both_months_hold_is_told_to_be_deleted_once(tmp_path: Path) -> None:
    """January's export ran to February's first minute, included: one bar, written twice."""
    first_of_feb = FEB.splitlines(keepends=True)[0]
    error = _refusal(tmp_path, HEADER + JAN + first_of_feb + FEB)
    assert error.line == 5
    assert str(error).endswith(
        "line 5, column timestamp, value '2024-02-01 00:00:00': time does not increase (line 4 "
        "has 2024-02-01 00:00:00): the same row twice (a bar written twice, as files joined "
        'that overlap write it): delete one of the two lines (to join files: docs/data.md, "A '
        'period in several files")'
    )


def test_two_bars_of_one_time_at_a_join_are_left_to_the_desk(tmp_path: Path) -> None:
    """The vendor corrected February's first kline since January's file was fetched: which
    of the two bars is right is not guessed."""
    names = "open_time,open,high,low,close,volume,close_time\n"
    jan = "1706745540000,42105.0,42120.0,42100.0,42118.5,2.7,1706745599999\n"
    feb = (
        "1706745540000,42105.0,42121.0,42100.0,42118.5,2.7,1706745599999\n"
        "1706745600000,42118.5,42130.0,42110.0,42125.0,4.0,1706745659999\n"
    )
    error = _refusal(tmp_path, names + jan + feb)
    assert str(error).endswith(
        "line 3, column open_time, value '1706745540000': time does not increase (line 2 has "
        "1706745540000): the same time twice, on rows that differ (line 2 is another bar of "
        "it): keep the right one, delete the other"
    )


def _quarter_sample(path: Path, rows: int) -> Path:
    """``rows`` minute bars from 2024-01-01, as a quarter's joined file starts."""
    lines = [HEADER.strip()]
    for minute in range(rows):
        price = 42100 + minute % 9
        at = f"2024-01-01 {minute // 60:02d}:{minute % 60:02d}:00"
        lines.append(f"{at},{price}.5,{price + 2}.0,{price - 2}.0,{price}.0,3.1")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


_LENIENT = ("--min-signals", "0", "--min-decisions", "0", "--min-oco", "0")
_UNPLAYED = (
    "90 of the data file's 120 bars were not played: the run's 30 steps ran out first; "
    "steps = 120 plays them all"
)


def test_a_run_whose_steps_end_before_its_file_says_what_it_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a quarter's file run at the default steps played its first 1,000 bars of 129,600
    and said only ``status COMPLETED`` and ``steps 1000 of 1000``; burn-in and the evidence
    said nothing either, and the run passed for the quarter's. The summary's steps line and
    the burn-in's notes say how many of the file's bars were not played."""
    data = _quarter_sample(tmp_path / "q1.csv", 120)
    argv = ["dryrun", "--out", str(tmp_path / "runs"), "--feed", f"csv:{data}", "--symbol"]
    argv += ["BTC/USDT", "--durability", "none", "--run-id"]
    assert main([*argv, "short", "--steps", "30"]) == 0
    assert f"steps       30 of 30 ({_UNPLAYED})\n" in capsys.readouterr().out
    assert main(["burnin", str(tmp_path / "runs" / "short"), *_LENIENT, "--json"]) in (0, 1)
    (session,) = json.loads(capsys.readouterr().out)["sessions"]
    assert _UNPLAYED in session["notes"]
    md = (tmp_path / "runs" / "short" / "burnin.md").read_text(encoding="utf-8")
    assert f"Note: {_UNPLAYED}." in md
    assert main(["report", str(tmp_path / "runs" / "short")]) == 0
    page = (tmp_path / "runs" / "short" / "report.html").read_text(encoding="utf-8")
    assert f'<p class="sub">Data: {html.escape(_UNPLAYED)}</p>' in page


@pytest.mark.parametrize("steps", ["120", "500"], ids=["every bar", "the feed runs out"])
def test_a_run_that_played_its_whole_file_says_nothing_of_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], steps: str
) -> None:
    data = _quarter_sample(tmp_path / "q1.csv", 120)
    argv = ["dryrun", "--out", str(tmp_path / "runs"), "--feed", f"csv:{data}", "--symbol"]
    argv += ["BTC/USDT", "--durability", "none", "--run-id", "all", "--steps", steps]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"steps       120 of {steps}\n" in out
    assert "not played" not in out
    assert main(["burnin", str(tmp_path / "runs" / "all"), *_LENIENT, "--json"]) in (0, 1)
    (session,) = json.loads(capsys.readouterr().out)["sessions"]
    assert not [note for note in session["notes"] if "not played" in note]


def test_each_gap_of_a_quarter_is_named_not_the_longest_alone() -> None:
    """Bug: a quarter with a day missing in January, an hour missing where February's file
    meets March's (an export in local time) and the hour skipped as summer time began on
    2024-03-31 noted `3 gap(s) ... the longest from 2024-01-14T23:59:00Z to
    2024-01-16T00:00:00Z`: the two hours were named nowhere a reviewer reads. The note names
    the longest three, and how many more there are."""
    gaps = BarGaps()
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    missing = (
        (dt.datetime(2024, 1, 15, tzinfo=dt.UTC), dt.timedelta(days=1)),
        (dt.datetime(2024, 3, 1, tzinfo=dt.UTC), dt.timedelta(hours=1)),
        (dt.datetime(2024, 3, 31, 2, tzinfo=dt.UTC), dt.timedelta(hours=1)),
    )
    for minute in range(91 * 24 * 60):  # the quarter, every minute
        at = start + dt.timedelta(minutes=minute)
        if not any(begin <= at < begin + length for begin, length in missing):
            gaps.bar(int(at.timestamp()) * 1_000_000_000)
    said = gaps.said()
    assert (
        "the longest from 2024-01-14T23:59:00Z to 2024-01-16T00:00:00Z, then from "
        "2024-02-29T23:59:00Z to 2024-03-01T01:00:00Z (1 h 1 min) and from 2024-03-31T01:59:00Z "
        "to 2024-03-31T03:00:00Z (1 h 1 min): a gap in the data"
    ) in said, said
