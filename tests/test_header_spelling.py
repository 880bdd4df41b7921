"""A data file's error names a column as the file's header writes it.

Bug: the header is matched in any case, and the check's errors named the column as
matched, lower-cased: a header ``Date(UTC),Open,High,Low,Close,Volume`` with a bad cell
was refused at ``column date(utc)`` or ``column open``, names the file does not write (a
user searching the header for them found nothing). Now the check (``check_csv``,
``check_parquet``, the CLI's one line before any run) says ``column Date(UTC)``,
``column Open``, and a header's other volumes as written (``Volume BTC``). A row that turns
bad while a run plays the file is the run's recorded ``FEED_ERROR``: its text is as before
(the recorded bytes of a run do not change).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from livesession import DataFileError, check_csv
from livesession._market.parquet import check_parquet
from test_history import _cli
from test_rewritten_data import (
    LATER,
    ROWS,
    _played_on,
    _rewrite_row,
    _row,
    _started,
    _swapped_high_low,
)

EXIT_BAD_INPUT = 2
HEADER = "Date(UTC),Open,High,Low,Close,Volume"
TIMED = "Timestamp,Open,High,Low,Close,Volume"


def _refused(path: Path) -> DataFileError:
    with pytest.raises(DataFileError) as caught:
        check_csv(path, tick=None)
    return caught.value


@pytest.mark.parametrize(
    ("header", "row", "where"),
    [
        (HEADER, "2026-03-02 09:00,1,2,0.5,1.5,10", "column Date(UTC), value '2026-03-02 09:00'"),
        (TIMED, "2026-03-02 09:00,x,2,0.5,1.5,10", "column Open, value 'x'"),
        (TIMED, "2026-03-02 09:00,1,2,0.5,3,10", "column Close, value '3'"),
        (TIMED, "2026-03-02 09:00,1,2,0.5,1.5", "column Volume, value ''"),
        (TIMED, "3/2/2026 9:00 AM,1,2,0.5,1.5,10", "column Timestamp, value '3/2/2026 9:00 AM'"),
    ],
    ids=["unread time", "bad number", "outside the range", "missing value", "bad time"],
)
def test_a_csv_check_names_the_column_as_the_header_writes_it(
    tmp_path: Path, header: str, row: str, where: str
) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    error = _refused(path)
    assert str(error).startswith(f"data file {path}, line 2, {where}: ")
    assert error.column == where.split(",", maxsplit=1)[0].removeprefix("column ")


def test_a_time_split_in_two_columns_is_named_by_both_as_written(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    row = "2026-03-02,09:00,1,2,0.5,1.5,10\n"
    path.write_text(f"Date,Time,Open,High,Low,Close,Volume\n{row}{row}", encoding="utf-8")
    error = _refused(path)
    assert str(error).startswith(
        f"data file {path}, line 3, column Date Time, value '2026-03-02 09:00': time does not "
    )
    assert error.column == "Date Time"


def test_the_cli_says_it_in_its_one_line_and_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "bars.csv"
    data.write_text(f"{HEADER}\n2026-03-02 09:00,1,2,0.5,1.5,10\n", encoding="utf-8")
    out = tmp_path / "runs"
    done = _cli("dryrun", "--feed", f"csv:{data}", "--symbol", "BTC/USDT", "--out", out,
                "-q", cwd=tmp_path)  # fmt: skip
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(
        f"livesession: error: data file {data}, line 2, column Date(UTC), value "
        "'2026-03-02 09:00': a time in a column not read as the bars' time"
    )
    assert not out.exists()


def test_a_repeated_column_and_other_volumes_are_named_as_written(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("Open,High,Low,Close,Volume,OPEN\n1,2,0.5,1.5,10,1\n", encoding="utf-8")
    assert str(_refused(path)).startswith(f"data file {path}, line 1, column OPEN, value ")
    path.write_text("Open,High,Low,Close,Volume BTC,Volume USDT\n1,2,0.5,1.5,1,2\n")
    said = str(_refused(path))
    assert said.startswith(f"data file {path}, line 1, column volume, value ")  # the one lacked
    assert said.endswith(": it has Volume BTC, Volume USDT: rename the one to play volume")


def test_a_symbol_column_is_named_as_written(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("Ticker,Open,High,Low,Close,Volume\nGOOG,1,2,0.5,1.5,10\n")
    with pytest.raises(DataFileError, match=r"line 2, column Ticker, value 'GOOG': the rows"):
        check_csv(path, tick=None).refuse_other_symbol("AAPL")


def test_a_parquet_check_names_the_column_as_written(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    columns = {"Open": [1.5, -1.0], "High": [2.0, 2.0], "Low": [1.0, 1.0], "Close": [1.5, 1.5]}
    path = tmp_path / "bars.parquet"
    pq.write_table(pa.table({**columns, "Volume": [1, 1]}), path)
    with pytest.raises(DataFileError) as caught:
        check_parquet(path, tick=None)
    assert str(caught.value).startswith(
        f"data file {path}, line 3 (row 1 of the table, from 0), column Open, value '-1.0': "
    )
    assert caught.value.column == "Open"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(DataFileError, match=r"line 1, column volume, value 'Open,High,Low,"):
        check_parquet(path, tick=None)


def test_a_row_turned_bad_during_a_run_is_recorded_as_before(tmp_path: Path) -> None:
    """The run's FEED_ERROR keeps the text runs have recorded: the column as matched."""
    path = tmp_path / "eurusd.csv"
    header = b"Timestamp,Open,High,Low,Close,Volume,Note\n"
    path.write_bytes(header + b"".join(_row(i) for i in range(ROWS)))
    session, sinks = _started(path)
    _rewrite_row(path, LATER, _swapped_high_low(LATER))
    _played_on(session)
    [error] = sinks.events_of("FEED_ERROR")
    assert error["payload"]["message"].startswith(
        f"data file {path}, line {LATER + 2}, column high, value '1.08400': high is below low"
    )
    assert Decimal(sinks.events_of("BAR")[-1]["payload"]["high"]) >= Decimal("1.08450")
