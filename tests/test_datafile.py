"""Data files checked whole before a run: each problem named by file, line, column, value.

``check_csv`` (also ``CsvReplayFeed.check``) reads the file once, hashing it as it goes;
``CsvReplayFeed`` runs the same check when it opens. Prices are never rounded; volumes
are not order quantities and are not held to the lot.
"""

from __future__ import annotations

import hashlib
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import orjson
import pytest

from _eurusd import EURUSD_TOML, eurusd_csv
from _scripted import ScriptedStrategy
from livesession import (
    ConfigError,
    CsvReplayFeed,
    DataFileCheck,
    DataFileError,
    DryrunConfig,
    LiveSessionOrchestrator,
    MemoryLineSink,
    MemoryMetricsSink,
    RunDirectoryError,
    check_csv,
    create_run,
    resume_run,
)
from livesession._domain.decimal import plain
from livesession._rundir.data import (
    changed_or,
    check_data_unchanged,
    check_resume_data,
    check_run_data,
)
from livesession._rundir.layout import read_run_config
from livesession.cli import main
from livesession.verify import verify_run

from _helpers import crash_in_step, without_waiting_on
from crash_harness import KILLED, cli

D = Decimal
HEADER = "timestamp,open,high,low,close,volume\n"
GOOD = "2026-01-01T00:00:00Z,1.0716,1.0720,1.0710,1.0718,100\n"
TICK = D("0.0001")


def _file(tmp_path: Path, text: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# (file content, line, column, value, words the message must hold)
PROBLEMS: dict[str, tuple[str | bytes, int, str | None, str | None, str]] = {
    "empty value": (
        HEADER + GOOD + "2026-01-01T00:01:00Z,1,2,1,,3\n",
        3,
        "close",
        "",
        "empty value: drop the row, or fill in its close",
    ),
    "missing value": (HEADER + "2026-01-01T00:00:00Z,1,2,1\n", 2, "close", "", "missing value"),
    "extra value": (HEADER + "2026-01-01T00:00:00Z,1,2,1,1,3,9\n", 2, "#7", "9", "extra value"),
    "not a number": (HEADER + "2026-01-01T00:00:00Z,1,abc,1,1,3\n", 2, "high", "abc", "decimal"),
    "not finite": (
        HEADER + "2026-01-01T00:00:00Z,1,2,1,Infinity,3\n",
        2,
        "close",
        "Infinity",
        "finite",
    ),
    # Before: "not a decimal number" ("not a finite number" for NaN), no word of what to do.
    "NaN": (
        HEADER + "2026-01-01T00:00:00Z,1,2,1,NaN,3\n",
        2,
        "close",
        "NaN",
        "a missing value: drop the row, or fill in its close",
    ),
    "null": (
        HEADER + "2026-01-01T00:00:00Z,null,2,1,1,3\n",
        2,
        "open",
        "null",
        "a missing value: drop the row, or fill in its open",
    ),
    "N/A": (
        HEADER + "2026-01-01T00:00:00Z,1,2,1,1,N/A\n",
        2,
        "volume",
        "N/A",
        "a missing value: drop the row, or fill in its volume",
    ),
    # 29 significant digits: the run's arithmetic (28) would record 123...567.0
    "a price too long for Decimal": (
        HEADER + "2026-01-01T00:00:00Z,123456789012345678901234567.05,"
        "123456789012345678901234567.05,123456789012345678901234567.05,"
        "123456789012345678901234567.05,1\n",
        2,
        "open",
        "123456789012345678901234567.05",
        "29 significant digits, more than the 28 Decimal arithmetic keeps: the run would round",
    ),
    "a volume too long for Decimal": (
        HEADER
        + "2026-01-01T00:00:00Z,1.0716,1.0720,1.0710,1.0718,1.0000000000000000000000000001\n",
        2,
        "volume",
        "1.0000000000000000000000000001",
        "29 significant digits",
    ),
    # Before: passed, and the run failed at its bar (DivisionImpossible at a lot of 0.001).
    "a volume of more than 28 digits": (
        HEADER + "2026-01-01,1,3,1,2,1E+28\n",
        2,
        "volume",
        "1E+28",
        "a volume must be 0, or at least 1E-28 and below 1E+28 (28 digits from 1",
    ),
    "a volume of more than 28 places": (
        HEADER + "2026-01-01,1,3,1,2,1E-29\n",
        2,
        "volume",
        "1E-29",
        "a volume must be 0, or at least 1E-28 and below 1E+28",
    ),
    # Before: an InvalidOperation (DivisionImpossible) escaped the check.
    "a price too far from the tick": (
        HEADER + "2026-01-01,1E+30,1E+30,1E+30,1E+30,1\n",
        2,
        "open",
        "1E+30",
        "price 1E+30 is more than 28 digits from the price_tick 0.0001 (as many as the session",
    ),
    # Before: 1E-999999999 % 0.0001 underflowed to 0, and the run recorded a price of 0.0000.
    "a price below the tick": (
        HEADER + "2026-01-01," + ",".join(["1E-999999999"] * 4) + ",1\n",
        2,
        "open",
        "1E-999999999",
        "price 1E-999999999 is more than 28 digits below the price_tick 0.0001",
    ),
    # Before: read as 1234.5 and 1.08420 (Decimal takes "_" and any script's digits).
    "a '_' thousands separator": (
        HEADER + "2026-01-01,1_234.5,1234.5,1234.5,1234.5,1\n",
        2,
        "open",
        "1_234.5",
        "not a decimal number (a '_' digit group separator? write numbers without one",
    ),
    "a '_' among the places": (
        HEADER + "2026-01-01,1.084_20,1.0843,1.0842,1.0842,1\n",
        2,
        "open",
        "1.084_20",
        "a '_' digit group separator",
    ),
    "full-width digits": (
        HEADER + "2026-01-01,1.0842,1.0843,1.0842,1.0842,\uff11\uff10\n",
        2,
        "volume",
        "\uff11\uff10",
        "not a decimal number (digits other than 0-9, full-width or another script's",
    ),
    "a '_' in an epoch time": (
        "time,open,high,low,close,volume\n1_772_442_000,1,2,1,1,3\n",
        2,
        "time",
        "1_772_442_000",
        "nor an epoch number (a '_' digit group separator?",
    ),
    "full-width digits in a date": (
        HEADER + "\uff10\uff12.03.2026,1,2,1,1,3\n",
        2,
        "timestamp",
        "\uff10\uff12.03.2026",
        "(digits other than 0-9",
    ),
    "off the tick grid": (
        HEADER + GOOD + "2026-01-01T00:01:00Z,1.07165,1.0720,1.0710,1.0718,1\n",
        3,
        "open",
        "1.07165",
        'set price_tick = "0.00001"',
    ),
    "time not increasing": (
        HEADER + GOOD + GOOD.replace("1.0718,100", "1.0717,5"),
        3,
        "timestamp",
        "2026-01-01T00:00:00Z",
        "does not increase (line 2 has",
    ),
    "time going back": (
        HEADER + "2026-01-02,1,2,1,1,3\n2026-01-01,1,2,1,1,3\n",
        3,
        "timestamp",
        "2026-01-01",
        "does not increase",
    ),
    "not a time": (HEADER + "yesterday,1,2,1,1,3\n", 2, "timestamp", "yesterday", "ISO 8601"),
    "epoch going back": (
        "time,open,high,low,close,volume\n1704067200,1,2,1,1,3\n1704067140,1,2,1,1,3\n",
        3,
        "time",
        "1704067140",
        "does not increase",
    ),
    # Bug: rounded to the nanosecond without a word, so these two distinct times were "the
    # same time twice (a duplicated row?)" on line 3; an ISO time of 10 digits was refused.
    "epoch seconds finer than the nanosecond": (
        HEADER + "1772442000.1234567891,1,2,1,1,3\n1772442000.1234567892,1,2,1,1,3\n",
        2,
        "timestamp",
        "1772442000.1234567891",
        "a fraction of a second of 10 digits: a run records times to the nanosecond",
    ),
    "epoch milliseconds finer than the nanosecond": (
        HEADER + "1772442000000.1234567,1,2,1,1,3\n",
        2,
        "timestamp",
        "1772442000000.1234567",
        "an epoch time in milliseconds with 7 decimal places: a run records times to the",
    ),
    "high below low": (HEADER + "2026-01-01,1,1,2,1,3\n", 2, "high", "1", "below low 2"),
    "open above high": (
        HEADER + "2026-01-01,4,3,1,2,3\n",
        2,
        "open",
        "4",
        "outside [low 1, high 3]",
    ),
    "close below low": (HEADER + "2026-01-01,2,3,1,0.5,3\n", 2, "close", "0.5", "outside"),
    "negative volume": (HEADER + "2026-01-01,1,3,1,2,-3\n", 2, "volume", "-3", "negative volume"),
    # Before: passed, and the run recorded the volume "-0.0", which fails verify.
    "negative zero volume": (
        HEADER + "2026-01-01,1,3,1,2,-0.0\n",
        2,
        "volume",
        "-0.0",
        "negative zero volume: write 0",
    ),
    "negative zero volume, no places": (
        HEADER + "2026-01-01,1,3,1,2,-0\n",
        2,
        "volume",
        "-0",
        "negative zero volume: write 0",
    ),
    "negative zero price": (HEADER + "2026-01-01,1,3,-0,2,3\n", 2, "low", "-0", "must be positive"),
    "zero price": (HEADER + "2026-01-01,1,3,0,2,3\n", 2, "low", "0", "must be positive"),
    "header lacks a column": (
        "timestamp,open,high,low,close\n1,2,3,1,2\n",
        1,
        "volume",
        "timestamp,open,high,low,close",
        "lacks",
    ),
    "header repeats a column": (
        "open,high,low,close,volume,close\n1,2,1,1,1,1\n",
        1,
        "close",
        None,
        "repeats",
    ),
    "not CSV": (HEADER + '2026-01-01,"1,2,1,1,3\n', 2, None, '2026-01-01,"1,2,1,1,3', "not a CSV"),
    # Before: "not a CSV row (unexpected end of data)", of an RFC 4180 cell with a line break.
    "a quoted cell spanning lines": (
        HEADER + '2026-01-01T00:00:00Z,1,2,1,1,"3\n4"\n',
        2,
        None,
        '2026-01-01T00:00:00Z,1,2,1,1,"3',
        "a quoted cell is still open at the line's end (a stray '\"', or a cell spanning lines,",
    ),
    "not UTF-8": (
        HEADER.encode() + b"2026-01-01,1,2,1,1,\xff3\n",
        2,
        None,
        None,
        (
            "not UTF-8 text (byte 20 of the line, 0xff): a file saved as Latin-1 or Windows-1252? "
            "Convert it, iconv -f latin1 -t utf-8 "
        ),
    ),
    "a header not UTF-8": (
        "Datum;Eröffnung;Hoch\n".encode("cp1252"),
        1,
        None,
        None,
        (
            "not UTF-8 text (byte 9 of the line, 0xf6): a file saved as Latin-1 or Windows-1252? "
            "Convert it, iconv -f latin1 -t utf-8 "
        ),
    ),
    "a second symbol": (
        (
            "timestamp,symbol,open,high,low,close,volume\n"
            "2026-01-01T00:00:00Z,AAPL,190.1,190.5,189.9,190.2,100\n"
            "2026-01-01T00:00:01Z,MSFT,420.1,420.5,419.9,420.2,100\n"
        ),
        3,
        "symbol",
        "MSFT",
        "a second symbol (line 2 has AAPL): a data file holds one instrument's bars",
    ),
    # Bug: a "long" file's second symbol was refused for its time, or its prices: "time does
    # not increase ... the same time twice (a duplicated row?)". Its symbol is checked first.
    "a second symbol at the same time": (
        (
            "timestamp,symbol,open,high,low,close,volume\n"
            "1772442000,EURUSD,1.0842,1.0845,1.0840,1.0843,100\n"
            "1772442000,GBPUSD,1.2644,1.2647,1.2642,1.2645,102\n"
        ),
        3,
        "symbol",
        "GBPUSD",
        # It said "keep the rows of one symbol", leaving a desk with a basket to guess that
        # nothing here trades several: it says what to do with the others.
        (
            "a second symbol (line 2 has EURUSD): a data file holds one instrument's bars, and "
            "a session trades one symbol: write each symbol's rows, under the header, to a file "
            'of its own and run a session on each (docs/concepts.md, "One symbol a session")'
        ),
    ),
    "a second symbol starting over in time": (
        (
            "timestamp,symbol,open,high,low,close,volume\n"
            "1772442000,EURUSD,1.0842,1.0845,1.0840,1.0843,100\n"
            "1772442060,EURUSD,1.0843,1.0846,1.0841,1.0844,101\n"
            "1772442000,GBPUSD,1.2644,1.2647,1.2642,1.2645,102\n"
        ),
        4,
        "symbol",
        "GBPUSD",
        "a second symbol (line 2 has EURUSD)",
    ),
    "a second symbol's prices off the grid": (
        (
            "timestamp,symbol,open,high,low,close,volume\n"
            "1772442000,EURUSD,1.0842,1.0845,1.0840,1.0843,100\n"
            "1772442060,BTCUSD,42000.12345,42000.5,41999.5,42000,1\n"
        ),
        3,
        "symbol",
        "BTCUSD",
        "a second symbol (line 2 has EURUSD)",
    ),
    "empty symbol": ("ticker,open,high,low,close,volume\n,1,2,1,1,3\n", 2, "ticker", "", "empty"),
    "a time before 1970": (
        "date,open,high,low,close,volume\n1965-01-04,84.23,84.93,83.77,84.23,3930000\n",
        2,
        "date",
        "1965-01-04",
        "a time before 1970-01-01T00:00:00Z: a run's times (ts_sim",
    ),
    "an epoch before 1970": (
        "time,open,high,low,close,volume\n-86400,1,2,1,1,3\n",
        2,
        "time",
        "-86400",
        "a time before 1970-01-01T00:00:00Z",
    ),
    "a time after 2262": (
        HEADER + GOOD + "2600-01-01T00:00:00Z,1.0716,1.0720,1.0710,1.0718,100\n",
        3,
        "timestamp",
        "2600-01-01T00:00:00Z",
        "a time after 2262-04-11T23:47:16Z",
    ),
    # Before: Python's "new-line character seen in unquoted field - do you need to open the
    # file in universal-newline mode?"
    "CR-only line ends": (
        HEADER.replace("\n", "\r") + GOOD.replace("\n", "\r"),
        1,
        None,
        None,
        "the file's lines end with a CR alone (old Mac line ends, as Excel's \"CSV (Macintosh)\"",
    ),
    "CR-only line ends after the header": (
        "open,high,low,close,volume\r\n1,2,1,1,3\r1,2,1,1,3\n",
        2,
        None,
        "1,2,1,1,3\r1,2,1,1,3",
        "convert its line ends (tr '\\r' '\\n' < in.csv > out.csv)",
    ),
    # Before: "a time after 2262-04-11T23:47:16Z".
    "an epoch in another unit": (
        (
            "time,open,high,low,close,volume\n1772442000,1,2,1,1,3\n1772442060,1,2,1,1,3\n"
            "1772442180000,1,2,1,1,3\n"
        ),
        4,
        "time",
        "1772442180000",
        "an epoch time in milliseconds (13 digits) in a file of seconds (the first row's unit)",
    ),
    "no rows": (HEADER, 2, None, None, "no data rows"),
    "no header": ("", 1, None, None, "no header"),
    # Before: "the header lacks this column", column open, value '': a spreadsheet's empty
    # sheet saved as "CSV UTF-8" is its BOM alone.
    "a BOM alone": ("\ufeff", 1, None, None, "no header: expected open,high,low,close,volume"),
    # Before: "no header: expected open,...", of a file whose header is on line 2.
    "a blank first line": (
        "\n" + HEADER + GOOD,
        1,
        None,
        None,
        (
            "no header: the first line is blank (the header open,high,low,close,volume must "
            "be the first line; blank lines may follow it)"
        ),
    ),
    # Before: "the header lacks this column", column open, value 'sep=;'.
    "Excel's sep= line": (
        "sep=;\n" + HEADER.replace(",", ";") + GOOD.replace(",", ";"),
        1,
        None,
        None,
        (
            "a 'sep=;' line (Excel's separator hint) before the header: delete it, so that "
            "the header open,high,low,close,volume is the first line"
        ),
    ),
}


@pytest.mark.parametrize("kind", sorted(PROBLEMS))
def test_each_problem_is_named_by_file_line_column_and_value(tmp_path: Path, kind: str) -> None:
    text, line, column, value, words = PROBLEMS[kind]
    path = _file(tmp_path, text)
    with pytest.raises(DataFileError) as caught:
        check_csv(path, tick=TICK)
    err = caught.value
    message = str(err)
    assert isinstance(err, ConfigError)  # the CLI's "bad input": exit 2
    assert "\n" not in message
    assert message.startswith(f"data file {path}, line {line}")
    assert (err.path, err.line, err.column) == (path, line, column)
    if column is not None:
        assert f"column {column}" in message
    if value is not None and kind != "header repeats a column":
        assert err.value == value
        assert f"value {value!r}" in message
    assert words in message


@pytest.mark.parametrize(
    ("written", "ns"),
    [
        ("1772442000.123456789", 1772442000123456789),  # seconds: 9 places
        ("1772442000000.123456", 1772442000000123456),  # milliseconds: 6
        ("1772442000000000.123", 1772442000000000123),  # microseconds: 3
        ("1.772442E9", 1772442000000000000),  # no places
    ],
)
def test_an_epoch_fraction_to_the_nanosecond_is_read_exactly(
    tmp_path: Path, written: str, ns: int
) -> None:
    path = _file(tmp_path, HEADER + f"{written},1,2,1,1,3\n")
    assert check_csv(path, tick=TICK).first_ns == ns


def test_the_first_problem_is_the_one_named(tmp_path: Path) -> None:
    path = _file(tmp_path, HEADER + GOOD + "x,1,2,1,,3\n" + "2026-01-01T00:05:00Z,1,2,1,1,-1\n")
    with pytest.raises(DataFileError, match="line 3, column close"):
        check_csv(path, tick=TICK)


def test_a_good_file_is_hashed_in_the_same_pass(tmp_path: Path) -> None:
    """SHA-256 of every byte; blank lines, CRLF, a BOM and extra columns are fine."""
    text = (
        "\ufeffTimestamp,Open,High,Low,Close,Volume,Note\r\n"
        "2026-01-01 00:00:00,1.0716,1.0720,1.0710,1.0718,100,a\r\n"
        "\r\n"
        '2026-01-01 00:01:00+00:00,1.0718,1.0719,1.0712,1.0712,12.5,"b, c"\r\n'
    )
    path = _file(tmp_path, text)
    check = check_csv(path, tick=TICK)
    data = path.read_bytes()
    assert check == DataFileCheck(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        rows=2,
        time_column="timestamp",
        first_time="2026-01-01 00:00:00",
        last_time="2026-01-01 00:01:00+00:00",
        first_ns=1_767_225_600 * 10**9,  # 2026-01-01T00:00:00Z: naive is UTC
        last_ns=1_767_225_660 * 10**9,
        price_tick=TICK,  # the grid it was checked on
    )
    assert CsvReplayFeed.check(path, tick=TICK) == check
    assert check.record("csv:data.csv")["sha256"] == check.sha256


def test_a_file_without_a_time_column_is_checked_for_the_rest(tmp_path: Path) -> None:
    path = _file(tmp_path, "open,high,low,close,volume\n1,2,1,2,0\n2,2,1,1,0\n")
    check = check_csv(path, tick=D("1"))
    assert (check.rows, check.time_column, check.first_time) == (2, None, None)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"cannot open data file .*nope\.csv"):
        check_csv(tmp_path / "nope.csv", tick=TICK)


_NOT_A_FILE = (
    "data file {path} is not a regular file ({kind}): give the path of a CSV or Parquet file"
)


class TestNotARegularFile:
    """``--feed csv:/dev/zero`` (and ``parquet:``) read without end, and a FIFO waited for a
    writer for ever: a data file is a regular file, and anything else is refused before a
    byte is read, in one line (exit 2), nothing written."""

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
    def test_a_fifo_is_refused_at_once(self, tmp_path: Path) -> None:
        fifo = tmp_path / "bars.csv"
        os.mkfifo(fifo)
        outcome = without_waiting_on(fifo, lambda: check_csv(fifo, tick=TICK))
        assert isinstance(outcome.get("error"), DataFileError), outcome
        assert str(outcome["error"]) == _NOT_A_FILE.format(path=fifo, kind="a FIFO")

    @pytest.mark.skipif(not Path(os.devnull).exists(), reason="a character device to name")
    def test_a_device_is_refused_before_it_is_read(self) -> None:
        with pytest.raises(DataFileError) as caught:
            check_csv(os.devnull, tick=TICK)
        assert str(caught.value) == _NOT_A_FILE.format(path=os.devnull, kind="a character device")

    @pytest.mark.skipif(not Path(os.devnull).exists(), reason="a character device to name")
    @pytest.mark.parametrize("kind", ["csv", "parquet"])
    def test_dryrun_refuses_it_in_one_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
    ) -> None:
        out = tmp_path / "runs"
        feed = f"{kind}:{os.devnull}"
        assert main(["dryrun", "--feed", feed, "--out", str(out), "--steps", "5"]) == 2
        err = capsys.readouterr().err
        assert (
            err
            == "livesession: error: "
            + _NOT_A_FILE.format(path=os.devnull, kind="a character device")
            + "\n"
        )
        assert not out.exists()

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
    def test_a_data_file_swapped_for_a_fifo_is_refused_by_resume(self, tmp_path: Path) -> None:
        """The resume's check of the recorded file (``file_digest``) does not wait either."""
        data = _file(tmp_path, "open,high,low,close,volume\n1,2,1,2,0\n2,2,1,1,0\n")
        out = tmp_path / "runs"
        argv = ["dryrun", "--feed", f"csv:{data}", "--out", str(out), "--run-id", "r"]
        assert main([*argv, "--steps", "2", "-q"]) == 0
        data.unlink()
        os.mkfifo(data)
        outcome = without_waiting_on(data, lambda: check_run_data_of(out / "r"))
        assert isinstance(outcome.get("error"), DataFileError), outcome
        assert str(outcome["error"]) == (
            f"cannot read data file {data} of run {out / 'r'}: not a regular file (a FIFO)"
        )


_INFER = "or tick=None to infer the grid from the prices"
_FLOAT = "(a float is rounded when it is read)"
_STEP = "pass the price grid's step (tick=Decimal('0.01'), say)"


@pytest.mark.parametrize(
    ("tick", "said"),
    [
        (
            0.01,
            f"tick= got a float (0.01), not a Decimal {_FLOAT}: pass tick=Decimal('0.01'), {_INFER}",
        ),
        ("0.01", f"tick= got a str ('0.01'), not a Decimal: pass tick=Decimal('0.01'), {_INFER}"),
        (D("0"), f"tick=Decimal('0') is not a positive step: {_STEP}, {_INFER}"),
        (D("-0.01"), f"tick=Decimal('-0.01') is not a positive step: {_STEP}, {_INFER}"),
        (D("NaN"), f"tick=Decimal('NaN') is not a positive step: {_STEP}, {_INFER}"),
        ([D("0.01")], f"tick= got a list, not a Decimal: pass tick=Decimal('0.01'), {_INFER}"),
    ],
    ids=["float", "str", "zero", "negative", "nan", "list"],
)
def test_a_tick_that_is_not_a_positive_decimal_is_refused_naming_it(
    tmp_path: Path, tick: object, said: str
) -> None:
    """Bug: ``check_csv(path, tick=0.01)`` raised ``AttributeError: 'float' object has no
    attribute 'scaleb'`` (a str likewise), and a tick of 0 or -0.01 a ``DataFileError``
    blaming the file's valid first price."""
    path = _file(tmp_path, "open,high,low,close,volume\n1.07,1.08,1.06,1.07,100\n")
    for check in (
        lambda: check_csv(path, tick=tick),
        lambda: CsvReplayFeed(path, symbol="EURUSD", tick=tick, lot=D("1")),
    ):
        with pytest.raises(ConfigError, match=f"^{re.escape(said)}$") as info:
            check()
        assert type(info.value) is ConfigError  # the argument's fault, not the file's
        assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("rows", "line", "value", "words"),
    [
        (
            "2026-01-01,1.5,2,1,1.5,3\n2026-01-02,1E+30,1E+30,1E+30,1E+30,3\n",
            3,
            "1E+30",
            "price 1E+30 is more than 28 digits from the price_tick 0.1",
        ),
        (
            "2026-01-01,1E-29,1E-29,1E-29,1E-29,3\n",
            2,
            "1E-29",
            "price 1E-29 has 29 decimal places, more than the 28 an inferred price_tick may",
        ),
    ],
)
def test_an_inferred_grid_holds_the_prices_to_28_digits(
    tmp_path: Path, rows: str, line: int, value: str, words: str
) -> None:
    """Before: accepted, the grid inferred from them all; 1E-999999999 raised InvalidOperation."""
    path = _file(tmp_path, HEADER + rows)
    with pytest.raises(DataFileError) as caught:
        check_csv(path, tick=None)
    assert (caught.value.line, caught.value.column, caught.value.value) == (line, "open", value)
    assert words in str(caught.value)


def test_a_volume_of_26_digits_plays_at_a_fine_lot(tmp_path: Path) -> None:
    """Before: FEED_ERROR (InvalidOperation: [<class 'decimal.DivisionImpossible'>])."""
    path = _file(
        tmp_path,
        HEADER + "2026-03-02T09:00:00Z,1.08420,1.08425,1.08395,1.08400,10000000000000000000000000\n"
        "2026-03-02T09:01:00Z,1.08400,1.08415,1.08395,1.08410,12\n",
        name="eurusd.csv",
    )
    cfg = DryrunConfig(run_id="big", feed=f"csv:{path}", symbol="EUR/USD", steps=2)
    session = create_run(cfg, tmp_path / "out", alerts=False)
    session.run_to_end(2)
    session.close()
    run = tmp_path / "out" / "big"
    lines = (run / "events.jsonl").read_bytes().splitlines()
    volumes = [e["payload"]["volume"] for e in map(orjson.loads, lines) if e["event_type"] == "BAR"]
    assert volumes == ["10000000000000000000000000", "12"]
    assert verify_run(run).ok, verify_run(run).violations[:5]


def test_numbers_are_ascii_digits_a_sign_a_point_and_an_exponent(tmp_path: Path) -> None:
    rows = "2026-01-01,1.5,+2,.5,1.,1e3\n2026-01-02,1.50,2.0,0.5,1.0,8.9E-7\n"
    check = check_csv(_file(tmp_path, HEADER + rows), tick=None)
    assert (check.rows, check.price_tick) == (2, D("0.01"))


ES = (
    "Date,Time,Open,High,Low,Close,Volume\n"
    "2026-03-02,09:00,4500.25,4501.00,4499.75,4500.50,1200\n"
    "2026-03-02,09:01,4500.50,4501.25,4500.00,4501.00,900\n"
    "2026-03-02,09:03,4500.75,4501.10,4500.50,4500.75,800\n"
)


@pytest.mark.parametrize(
    ("tick", "hints"),
    [("0.25", ["0.05"]), ("5", ["0.25", "0.05"]), ("0.1", ["0.01"]), ("0.05", [])],
)
def test_the_tick_a_refusal_names_fits_every_price_before(
    tmp_path: Path, tick: str, hints: list[str]
) -> None:
    """Before: 4501.10 off 0.25 said set "0.1", which 4500.25 (line 2) is not on: the hint
    now divides the tick the prices before were on, and following it gets further."""
    path = _file(tmp_path, ES)
    named, line = [], 0
    while (refused := _refusal(path, D(tick))) is not None:
        found = re.search(r'set price_tick = "([0-9.]+)"', str(refused))
        assert found is not None, str(refused)
        assert (refused.line or 0) > line, f"{tick} named line {refused.line} after line {line}"
        line, tick = refused.line or 0, found.group(1)
        named.append(tick)
    assert named == hints


def _refusal(path: Path, tick: Decimal) -> DataFileError | None:
    try:
        check_csv(path, tick=tick)
    except DataFileError as exc:
        return exc
    return None


def test_a_separator_ending_each_line_makes_no_time_column(tmp_path: Path) -> None:
    """A file whose lines end with the separator (as some exports write) has an unnamed
    last column, empty on every row: not the unnamed first column pandas writes for its
    index, so no time column, and its bars play on the session's grid."""
    path = _file(tmp_path, "open,high,low,close,volume,\n1.5,2,1,1.5,3,\n1.6,2,1,1.5,3,\n")
    check = check_csv(path, tick=D("0.1"))
    assert (check.rows, check.time_column, check.first_time, check.first_ns) == (
        2,
        None,
        None,
        None,
    )


def test_volumes_are_not_checked_against_the_lot(tmp_path: Path) -> None:
    """A volume of 12.5 with lot 1 (or 0.0005 with lot 0.001) is market data, not an order."""
    path = _file(tmp_path, HEADER + "2026-01-01,1,2,1,2,12.5\n2026-01-02,1,2,1,2,0.0005\n")
    assert check_csv(path, tick=D("1")).rows == 2


class TestFeed:
    def _feed(self, path: Path, tick: str = "0.00001", lot: str = "0.001") -> CsvReplayFeed:
        return CsvReplayFeed(path, symbol="EUR/USD", tick=D(tick), lot=D(lot))

    def test_prices_are_never_rounded(self, tmp_path: Path) -> None:
        """1.0716 under a 0.00001 tick is 1.07160 (its value, the tick's places), as is 1.07160."""
        rows = GOOD + "2026-01-01T00:01:00Z,1.07160,1.07200,1.07155,1.07199,100\n"
        feed = self._feed(_file(tmp_path, HEADER + rows))
        bars = [feed.next_bar(0), feed.next_bar(0)]
        feed.close()
        assert [[str(p) for p in (b.open, b.high, b.low, b.close)] for b in bars if b] == [
            ["1.07160", "1.07200", "1.07100", "1.07180"],
            ["1.07160", "1.07200", "1.07155", "1.07199"],
        ]

    def test_off_grid_prices_are_refused_when_the_feed_opens(self, tmp_path: Path) -> None:
        """Before: quantised to the default tick, 1.0716 became 1.07 without a word."""
        path = _file(tmp_path, HEADER + GOOD)
        with pytest.raises(DataFileError, match=r"price 1\.0716 is off the price_tick grid 0\.01"):
            self._feed(path, tick="0.01")

    def test_volume_text(self, tmp_path: Path) -> None:
        """Never rounded to the lot; on its grid the text is what it was (1.0000 -> 1.000)."""
        rows = (
            "2026-01-01,1,2,1,2,1.5\n2026-01-02,1,2,1,2,0.0005\n2026-01-03,1,2,1,2,7\n"
            "2026-01-04,1,2,1,2,1.0000\n"
        )
        feed = self._feed(_file(tmp_path, HEADER + rows), tick="1", lot="0.001")
        volumes = [str(bar.volume) for bar in iter(lambda: feed.next_bar(0), None)]
        feed.close()
        assert volumes == ["1.5", "0.0005", "7", "1.000"]

    @pytest.mark.parametrize(
        ("lot", "written", "recorded"),
        [
            ("0.001", ["10.0000", "1e3", "12.5", "7"], ["10.000", "1000", "12.5", "7"]),
            ("1", ["10.0000", "1e3", "12.50", "1.5E+3"], ["10", "1000", "12.50", "1500"]),
            ("0.25", ["7", "2.0", "100", "0.1"], ["7.00", "2.00", "100", "0.1"]),
        ],
    )
    def test_a_volume_is_recorded_as_data_md_says(
        self, tmp_path: Path, lot: str, written: list[str], recorded: list[str]
    ) -> None:
        """Its digits, in full; a whole number of lots drops zeros past the lot's places."""
        rows = "".join(f"2026-01-0{n + 1},1,2,1,2,{v}\n" for n, v in enumerate(written))
        feed = self._feed(_file(tmp_path, HEADER + rows), tick="1", lot=lot)
        volumes = [plain(bar.volume) for bar in iter(lambda: feed.next_bar(0), None)]
        feed.close()
        assert volumes == recorded

    def test_the_feed_knows_its_files_hash_and_resumes_at_a_row(self, tmp_path: Path) -> None:
        rows = "".join(
            f"2026-01-01T00:0{n}:00Z,{n + 1},{n + 2},{n + 1},{n + 2},1\n" for n in range(5)
        )
        path = _file(tmp_path, "\ufeff" + HEADER + rows)
        feed = self._feed(path, tick="1")
        assert feed.checked.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert feed.checked.rows == 5
        first = feed.next_bar(0)
        state = feed.get_state()
        rest = [feed.next_bar(0) for _ in range(4)]
        feed.set_state(state)
        again = [feed.next_bar(0) for _ in range(4)]
        assert feed.next_bar(0) is None
        feed.close()
        assert first is not None
        assert str(first.open) == "1"
        assert [b and b.close for b in again] == [b and b.close for b in rest]


EURUSD = HEADER + "".join(
    f"2026-03-02T09:0{m}:00Z,1.08420,1.08425,1.08395,1.08400,{100 + m}\n" for m in range(5)
)
LONG = HEADER + "".join(
    f"2026-03-02T{9 + m // 60:02d}:{m % 60:02d}:00Z,1.08420,1.08425,1.08395,1.08400,{m}\n"
    for m in range(400)
)
APPENDED = (
    "2026-03-02T09:05:00Z,1.084123,1.084159,1.083951,1.084104,105\n"  # off the 0.00001 grid
    "2026-03-02T09:06:00Z,1.08410,1.08415,1.08395,1.08410,NaN\n"
)


class TestTheCheckedExtent:
    """The feed plays exactly the bytes it checked and hashed, whatever is appended after.

    Bug: the file was checked to its end when the feed opened, then read on to whatever end
    it had: rows a downloader appended while the run read were played unchecked (an
    off-grid 1.084123 rounded to 1.08412), and a NaN volume failed the run.
    """

    def _feed(self, path: Path) -> CsvReplayFeed:
        return CsvReplayFeed(path, symbol="EUR/USD", tick=None, lot=D("0.001"))

    def test_rows_appended_after_the_check_are_not_played(self, tmp_path: Path) -> None:
        path = _file(tmp_path, EURUSD)
        feed = self._feed(path)
        first = feed.next_bar(0)
        with path.open("a", encoding="utf-8") as appending:
            appending.write(APPENDED)
        rest = list(iter(lambda: feed.next_bar(0), None))
        feed.close()
        assert first is not None
        assert [str(b.volume) for b in [first, *rest]] == ["100", "101", "102", "103", "104"]

    def test_a_last_row_without_a_line_end_is_not_joined_to_an_appended_one(
        self, tmp_path: Path
    ) -> None:
        path = _file(tmp_path, EURUSD.rstrip("\n"))
        feed = self._feed(path)
        with path.open("a", encoding="utf-8") as appending:
            appending.write("\n" + APPENDED)
        volumes = [str(b.volume) for b in iter(lambda: feed.next_bar(0), None)]
        feed.close()
        assert volumes == ["100", "101", "102", "103", "104"]

    def test_a_resume_reads_the_same_extent(self, tmp_path: Path) -> None:
        path = _file(tmp_path, EURUSD)
        feed = self._feed(path)
        feed.next_bar(0)
        state = feed.get_state()
        feed.close()
        again = self._feed(path)
        with path.open("a", encoding="utf-8") as appending:
            appending.write(APPENDED)
        again.set_state(state)
        volumes = [str(b.volume) for b in iter(lambda: again.next_bar(0), None)]
        with pytest.raises(ConfigError, match=f"outside the {len(EURUSD)} bytes the check read"):
            again.set_state({"offset": path.stat().st_size, "row": 7})
        again.close()
        assert volumes == ["101", "102", "103", "104"]

    def test_a_file_cut_short_while_it_plays_is_the_feeds_error(self, tmp_path: Path) -> None:
        """Not a quiet early end: the run would have played fewer rows than it recorded."""
        path = _file(tmp_path, LONG)  # more than the reader buffers
        feed = self._feed(path)
        feed.next_bar(0)
        path.write_bytes(b"")
        with pytest.raises(ConfigError, match=f"now ends before the {len(LONG)} bytes its check"):
            list(iter(lambda: feed.next_bar(0), None))
        feed.close()

    def test_a_price_rewritten_off_the_grid_is_refused_not_rounded(self, tmp_path: Path) -> None:
        path = _file(tmp_path, LONG)
        feed = self._feed(path)
        feed.next_bar(0)
        last = LONG.rsplit("\n", 2)[1]
        path.write_text(LONG.replace(last, last.replace(",1.08425,", ",1.084253,")), "utf-8")
        with pytest.raises(
            ConfigError, match=r"high 1\.084253 is off the price_tick grid 0\.00001"
        ):
            list(iter(lambda: feed.next_bar(0), None))
        feed.close()

    def test_a_run_plays_the_rows_it_hashed_and_verifies(self, tmp_path: Path) -> None:
        path = _file(tmp_path, EURUSD, name="eurusd.csv")

        def append_once(volume: int, _bar: object, _view: object) -> tuple[()]:
            if volume == 100:  # the first bar's
                with path.open("a", encoding="utf-8") as appending:
                    appending.write(APPENDED)
            return ()

        cfg = DryrunConfig(
            run_id="append", feed=f"csv:{path}", symbol="EUR/USD", strategy_id="scripted", steps=10
        )
        out = tmp_path / "out"
        session = create_run(cfg, out, alerts=False, strategy=ScriptedStrategy(append_once))
        session.run_to_end(10)
        session.close()
        run = out / "append"
        events = [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]
        bars = [e["payload"] for e in events if e["event_type"] == "BAR"]
        stopped = [e["payload"] for e in events if e["event_type"] == "SESSION_STOPPED"]
        assert [b["volume"] for b in bars] == ["100", "101", "102", "103", "104"]
        assert stopped[-1]["reason"] == "FEED_EXHAUSTED"
        assert orjson.loads((run / "run.json").read_bytes())["data"]["rows"] == 5
        assert verify_run(run).ok, verify_run(run).violations[:5]


class TestBeforeAnythingIsWritten:
    def test_the_embedded_session_refuses_bad_data_before_preflight(self, tmp_path: Path) -> None:
        path = _file(tmp_path, HEADER + GOOD + "2026-01-01T00:01:00Z,1.07,1.08,1.06,,1\n")
        cfg = DryrunConfig(run_id="bad", feed=f"csv:{path}", price_tick=TICK)
        sinks = [MemoryLineSink(), MemoryLineSink(), MemoryLineSink()]
        metrics = MemoryMetricsSink()
        with pytest.raises(DataFileError, match="line 3, column close, value ''"):
            LiveSessionOrchestrator().run_dryrun(
                cfg, event_sink=sinks[0], state_sink=sinks[1], audit_sink=sinks[2],
                metrics_sink=metrics,
            )  # fmt: skip
        assert [s.getvalue() for s in sinks] == [b"", b"", b""]
        assert metrics.content in (b"", None)
        with pytest.raises(DataFileError):
            LiveSessionOrchestrator(cfg)

    def test_create_run_creates_nothing_and_records_the_hash(self, tmp_path: Path) -> None:
        path = _file(tmp_path, HEADER + GOOD)
        out = tmp_path / "runs"
        bad = DryrunConfig(run_id="bad", feed=f"csv:{path}", price_tick=D("0.01"))
        with pytest.raises(DataFileError, match="price_tick"):
            create_run(bad, out)
        assert not out.exists()
        good = DryrunConfig(run_id="good", feed=f"csv:{path}", price_tick=TICK, steps=1)
        session = create_run(good, out)
        session.run_to_end(1)
        meta = orjson.loads((out / "good" / "run.json").read_bytes())
        assert meta["data"] == {
            "feed": f"csv:{path}",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "bytes": path.stat().st_size,
            "rows": 1,
            "time_column": "timestamp",
            "first_time": "2026-01-01T00:00:00Z",
            "last_time": "2026-01-01T00:00:00Z",
            "path": str(path.resolve()),
        }
        config = orjson.loads((out / "good" / "config.json").read_bytes())
        assert (config["feed_sha256"], config["feed_bytes"]) == (
            meta["data"]["sha256"],
            meta["data"]["bytes"],
        )


class TestResumeCheck:
    META: ClassVar[dict[str, object]] = {"data": {"feed": "csv:data.csv", "sha256": "ab" * 32}}

    def test_a_changed_file_is_refused(self, tmp_path: Path) -> None:
        feed = CsvReplayFeed(_file(tmp_path, HEADER + GOOD), symbol="X", tick=TICK, lot=TICK)
        with pytest.raises(RunDirectoryError, match=r"changed since run .* started"):
            check_data_unchanged(tmp_path, self.META, feed)
        feed.close()

    def test_the_same_file_and_runs_without_a_data_file_pass(self, tmp_path: Path) -> None:
        feed = CsvReplayFeed(_file(tmp_path, HEADER + GOOD), symbol="X", tick=TICK, lot=TICK)
        same = {"data": {"feed": "csv:data.csv", "sha256": feed.checked.sha256}}
        check_data_unchanged(tmp_path, same, feed)
        check_data_unchanged(tmp_path, {}, feed)
        feed.close()
        with pytest.raises(RunDirectoryError, match="reads none"):
            check_data_unchanged(tmp_path, self.META, object())


class TestResumeOnAChangedFile:
    def test_a_change_that_breaks_a_row_is_named_as_a_change(self, tmp_path: Path) -> None:
        """Bug: a row appended after a crash was reported as a bad row of the data; the
        run's data passed when it started, so what happened is that the file changed."""
        rows = "".join(
            f"2026-01-01T00:{m // 60:02d}:{m % 60:02d}Z,1.0716,1.0720,1.0710,1.0718,100\n"
            for m in range(400)
        )
        data = _file(tmp_path, HEADER + rows, name="eurusd.csv")
        out = tmp_path / "runs"
        crashed = cli(
            "dryrun", "--feed", f"csv:{data}", "--symbol", "EUR/USD", "--out", out,
            "--run-id", "c", "--durability", "step", "-q", crash_at="checkpoint:2",
        )  # fmt: skip
        assert crashed.returncode == KILLED, crashed.stderr
        original = data.read_bytes()
        # Its last row's volume rewritten in place (a row appended is no change to resume:
        # it reads the bytes the run read, see TestResumeOnAGrownFile).
        data.write_bytes(original[:-4] + b"10x\n")

        refused = cli("resume", out / "c", "-q")

        assert refused.returncode == 2
        assert refused.stderr.startswith(f"livesession: error: data file {data} changed: ")
        assert refused.stderr.endswith("restore the file the run read\n")
        data.write_bytes(original)
        assert cli("resume", out / "c", "-q").returncode == 0
        assert verify_run(out / "c").ok


class TestResumeWithAFeedObject:
    def test_a_feed_on_another_file_is_refused_and_the_run_resumes_on_its_own(
        self, tmp_path: Path
    ) -> None:
        """A run made with a ``CsvReplayFeed`` object records the file it read (run.json's
        ``data``); its resume is given the feed again, and one reading another file (the
        same rows, one volume changed) is refused before anything changes, naming both
        files: it said ``data file eurusd2.csv changed since run ... started: it was
        rewritten ...: restore the file the run started on``, of a file the run never read
        and that had not changed. Given its own file, it resumes and verifies."""
        rows = "".join(
            f"2026-01-01T00:{m // 60:02d}:{m % 60:02d}Z,1.0716,1.0720,1.0710,1.0718,100\n"
            for m in range(80)
        )
        data = _file(tmp_path, HEADER + rows, name="eurusd.csv")
        other = _file(tmp_path, HEADER + rows[:-4] + "101\n", name="eurusd2.csv")

        def feed(path: Path) -> CsvReplayFeed:
            return CsvReplayFeed(path, symbol="EUR/USD", tick=TICK, lot=D("0.001"))

        out = tmp_path / "runs"
        cfg = DryrunConfig(
            run_id="obj", symbol="EUR/USD", price_tick=TICK, steps=60, checkpoint_every=10
        )
        crash_in_step(create_run(cfg, out, feed=feed(data)), 35, 60)
        run_dir = out / "obj"
        before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
        with pytest.raises(RunDirectoryError) as refused:
            resume_run(run_dir, feed=feed(other))
        sha = hashlib.sha256(data.read_bytes()).hexdigest()
        assert str(refused.value) == (
            f"the feed given reads data file {other}, but run {run_dir} started on {data} "
            f"(SHA-256 {sha[:12]}...): give it a feed of that file to resume it"
        )
        assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before
        with resume_run(run_dir, feed=feed(data)) as resumed:
            resumed.run_to_end(60)
        assert verify_run(run_dir).ok


class TestResumeOnAGrownFile:
    def test_rows_appended_after_a_crash_are_not_played(self, tmp_path: Path) -> None:
        """docs/data.md: a run plays exactly the bytes its check read and hashed, and rows
        appended while it reads the file are not played. After a crash, though, a file that
        had only grown (a downloader adding to today's file) made `status` say
        needs_operator and `resume` refuse it ("changed since run ... started"). resume now
        checks and plays the bytes the run read (`feed_bytes`), and the run ends as an
        uninterrupted one on the file as it was."""
        eurusd_csv(tmp_path / "later.csv", 260)
        lines = (tmp_path / "later.csv").read_bytes().splitlines(keepends=True)
        data = _file(tmp_path, b"".join(lines[:201]), name="eurusd.csv")  # 200 rows
        config = tmp_path / "eurusd.toml"
        config.write_text("checkpoint_every = 50\n" + EURUSD_TOML, encoding="utf-8")
        args = ("--config", config, "--run-id", "eu", "--steps", "200", "-q")
        whole = cli("dryrun", *args, "--out", "whole", cwd=tmp_path)
        assert whole.returncode == 0, whole.stderr
        killed = cli("dryrun", *args, "--out", "runs", cwd=tmp_path, crash_at="checkpoint:3")
        assert killed.returncode == KILLED, killed.stderr
        run_dir = tmp_path / "runs" / "eu"
        with data.open("ab") as appending:
            appending.write(b"".join(lines[201:]))  # 59 more rows, after the crash

        assert main(["status", str(run_dir)]) == 6  # crashed, and resumable
        resumed = cli("resume", run_dir, "-q", cwd=tmp_path)

        assert resumed.returncode == 0, resumed.stderr
        assert verify_run(run_dir).ok
        for name in ("events.jsonl", "state_snapshots.jsonl"):
            assert (run_dir / name).read_bytes() == (tmp_path / "whole" / "eu" / name).read_bytes()

    def test_a_blank_last_line_is_read_as_the_run_read_it(self, tmp_path: Path) -> None:
        """The bytes a resume reads (``size``: all the run read) hash as the check did, a
        blank line at the end (one byte, ``\\n``) with them."""
        data = _file(tmp_path, HEADER + GOOD + "\n")
        whole = check_csv(data, tick=TICK)
        feed = CsvReplayFeed(data, symbol="X", tick=TICK, lot=TICK, size=data.stat().st_size)
        try:
            assert (feed.checked.sha256, feed.checked.size) == (whole.sha256, whole.size)
            assert whole.size == data.stat().st_size
        finally:
            feed.close()

    def test_an_undated_file_resumes_past_a_time_in_a_later_row(self, tmp_path: Path) -> None:
        """docs/data.md: the first row of an undated file is what is refused for a time in a
        column of another name. A later row's text there (a note that names a day) is read by
        no one: resume checks the last row played again, not as a first row, and the run
        ends as an uninterrupted one."""
        eurusd_csv(tmp_path / "dated.csv", 200)
        rows = (tmp_path / "dated.csv").read_text(encoding="utf-8").splitlines()[1:]
        rows[0] = "first," + rows[0].split(",", 1)[1]  # the later rows' notes are their times
        _file(tmp_path, "note,open,high,low,close,volume\n" + "\n".join(rows) + "\n", "eurusd.csv")
        config = tmp_path / "eurusd.toml"
        config.write_text("checkpoint_every = 50\n" + EURUSD_TOML, encoding="utf-8")
        args = ("--config", config, "--run-id", "eu", "--steps", "200", "-q")
        whole = cli("dryrun", *args, "--out", "whole", cwd=tmp_path)
        assert whole.returncode == 0, whole.stderr
        assert verify_run(tmp_path / "whole" / "eu").ok
        killed = cli("dryrun", *args, "--out", "runs", cwd=tmp_path, crash_at="checkpoint:3")
        assert killed.returncode == KILLED, killed.stderr
        run_dir = tmp_path / "runs" / "eu"

        resumed = cli("resume", run_dir, "-q", cwd=tmp_path)

        assert resumed.returncode == 0, resumed.stderr
        assert verify_run(run_dir).ok
        for name in ("events.jsonl", "state_snapshots.jsonl"):
            assert (run_dir / name).read_bytes() == (tmp_path / "whole" / "eu" / name).read_bytes()

    def test_a_file_that_shrank_or_was_rewritten_is_refused_saying_which(
        self, tmp_path: Path
    ) -> None:
        """Any other change is still refused, and the line says what happened to the bytes
        the run read: the file shrank, or they were rewritten."""
        later = GOOD.replace("00:00:00Z", "00:01:00Z")
        data = _file(tmp_path, HEADER + GOOD + later)
        original = data.read_bytes()
        feed = CsvReplayFeed(data, symbol="X", tick=TICK, lot=TICK)
        meta = {"data": feed.checked.record("csv:data.csv")}
        feed.close()
        edits = {
            "grew": original + later.replace("00:01:00Z", "00:02:00Z").encode(),
            "shrank": (HEADER + GOOD).encode(),
            "rewritten": original.replace(b",100\n", b",101\n"),
        }
        said = {
            "grew": None,
            "shrank": f"it shrank to {len(HEADER + GOOD)} bytes, from the {len(original)} "
            "the run read",
            "rewritten": f"it was rewritten: its first {len(original)} bytes, the ones the "
            "run read, hash to",
        }
        for edit, content in edits.items():
            data.write_bytes(content)
            feed = CsvReplayFeed(data, symbol="X", tick=TICK, lot=TICK, size=len(original))
            try:
                if said[edit] is None:
                    check_data_unchanged(tmp_path, meta, feed)
                    bars = [feed.next_bar(0), feed.next_bar(0), feed.next_bar(0)]
                    assert bars[2] is None, "the row appended is not played"
                    continue
                with pytest.raises(RunDirectoryError) as refused:
                    check_data_unchanged(tmp_path, meta, feed)
            finally:
                feed.close()
            message = str(refused.value)
            assert message.startswith(
                f"data file {data} changed since run {tmp_path} started: {said[edit]}"
            ), message
            assert message.endswith("restore the file the run started on to resume it")


class TestCli:
    """`livesession dryrun` on bad data: exit 2, one line, and the out tree as it was."""

    @pytest.mark.parametrize(
        ("rows", "words"),
        [
            (GOOD + GOOD, "line 3, column timestamp, value '2026-01-01T00:00:00Z': time does"),
            (
                "2026-01-01T00:00:00Z,1.0716,1.0720,1.0710,1234567890.123456789012345678901,1\n",
                "line 2, column close, value '1234567890.123456789012345678901': 31 significant",
            ),
            (None, "cannot open data file {tmp}/data.csv"),  # resolved from the config's dir
        ],
    )
    def test_exit_2_one_line_nothing_written(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, rows: str | None, words: str
    ) -> None:
        monkeypatch.chdir(tmp_path)
        if rows is not None:
            _file(tmp_path, HEADER + rows)
        (tmp_path / "run.toml").write_text(
            'feed = "csv:data.csv"\nprice_tick = "0.0001"\n', encoding="utf-8"
        )
        code = main(["dryrun", "--config", "run.toml", "--out", "runs", "--run-id", "x"])
        captured = capsys.readouterr()
        assert code == 2
        assert captured.out == ""
        assert captured.err.count("\n") == 1
        assert captured.err.startswith("livesession: error: data file " if rows else "livesession")
        assert words.format(tmp=tmp_path.resolve()) in captured.err
        assert not (tmp_path / "runs").exists()


class TestSymbolColumn:
    """A symbol (or ticker) column must name one instrument: the session's."""

    ROWS = (
        "open_time,ticker,open,high,low,close,volume\n"
        "1796032800000,BTCUSDT,90000.1,90000.5,89999.9,90000.2,1.5\n"
        "1796032860000,btc-usdt,90000.2,90000.6,90000.0,90000.3,2\n"
    )

    def test_the_sessions_symbol_in_any_spelling_opens(self, tmp_path: Path) -> None:
        feed = CsvReplayFeed(_file(tmp_path, self.ROWS), symbol="BTC/USDT", tick=None, lot=D(1))
        bars = feed.next_bar(0), feed.next_bar(0)
        feed.close()
        assert feed.checked.symbol == "BTCUSDT"
        assert [b.symbol for b in bars if b is not None] == ["BTC/USDT", "BTC/USDT"]

    def test_another_symbol_is_refused_when_the_feed_opens(self, tmp_path: Path) -> None:
        path = _file(tmp_path, self.ROWS)
        with pytest.raises(DataFileError) as caught:
            CsvReplayFeed(path, symbol="ETH/USDT", tick=None, lot=D(1))
        assert str(caught.value) == (
            f"data file {path}, line 2, column ticker, value 'BTCUSDT': the rows are BTCUSDT's"
            ' bars, but the session\'s symbol is ETH/USDT: set symbol = "BTCUSDT" (--symbol)'
            " or use the file of ETH/USDT"
        )

    @pytest.mark.parametrize(
        ("named", "way"),
        [
            (
                "BTC/USDT:USDT",
                (
                    "BTC/USDT:USDT is not a ticker (GOOG, BRK.B) or BASE/QUOTE (BTC/USDT), in upper "
                    "case (BTC/USDT:USDT is a derivative's name, BASE/QUOTE:SETTLE as ccxt writes a "
                    "perpetual swap or a future, and a session trades spot symbols only: its spot "
                    "pair is BTC/USDT)"
                ),
            ),
            (
                "BTC-USDT-SWAP",
                (
                    "BTC-USDT-SWAP is not a ticker (GOOG, BRK.B) or BASE/QUOTE (BTC/USDT), in upper "
                    "case"
                ),
            ),
        ],
    )
    def test_a_symbol_no_session_takes_is_not_offered_as_the_one_to_set(
        self, tmp_path: Path, named: str, way: str
    ) -> None:
        """A perpetual's rows (ccxt's BTC/USDT:USDT, OKX's BTC-USDT-SWAP) were refused with
        ``set symbol = "BTC/USDT:USDT"``, and that symbol then refused in turn (``symbol must
        be a ticker ...``): advice leading nowhere."""
        path = _file(tmp_path, self.ROWS.replace("BTCUSDT", named).replace("btc-usdt", named))
        with pytest.raises(DataFileError) as caught:
            CsvReplayFeed(path, symbol="BTC/USDT", tick=None, lot=D(1))
        assert str(caught.value) == (
            f"data file {path}, line 2, column ticker, value {named!r}: the rows are {named}'s "
            f"bars, but the session's symbol is BTC/USDT: use the file of BTC/USDT: {way}"
        )

    def test_the_cli_writes_nothing_for_a_file_of_two_symbols(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = _file(tmp_path, PROBLEMS["a second symbol"][0], name="aapl.csv")
        out = tmp_path / "out"

        code = main(["dryrun", "--feed", f"csv:{path}", "--out", str(out), "-q"])

        assert code == 2
        assert "column symbol, value 'MSFT': a second symbol" in capsys.readouterr().err
        assert not out.exists() or list(out.iterdir()) == []


class TestTimeRange:
    """A run records times from 1970 to 2262 (ts_sim: int64 nanoseconds since the epoch)."""

    @pytest.mark.parametrize(
        ("rows", "words"),
        [
            ("1965-01-04,84.23,84.93,83.77,84.23,3930000\n", "line 2, column date, value '1965"),
            ("2600-01-04,84.23,84.93,83.77,84.23,3930000\n", "line 2, column date, value '2600"),
        ],
    )
    def test_the_cli_refuses_rows_out_of_range_and_writes_nothing(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: str, words: str
    ) -> None:
        path = _file(tmp_path, "date,open,high,low,close,volume\n" + rows, name="spx.csv")
        out = tmp_path / "out"

        code = main(["dryrun", "--feed", f"csv:{path}", "--out", str(out), "-q"])

        err = capsys.readouterr().err
        assert code == 2
        assert words in err
        assert len(err.strip().splitlines()) == 1
        assert not out.exists()

    def test_a_last_bar_too_late_for_the_wind_down_is_refused(self, tmp_path: Path) -> None:
        """The run ends after its last bar: the wind-down's polls and room for retries."""
        path = _file(tmp_path, "date,open,high,low,close,volume\n2262-01-04,1,2,1,1,3\n")
        out = tmp_path / "out"
        with pytest.raises(ConfigError, match=r"last bar, at 2262-01-04T00:00:00Z, leaves no "):
            create_run(DryrunConfig(feed=f"csv:{path}", run_id="late"), out)
        assert not out.exists()

    def test_a_run_near_the_bounds_verifies(self, tmp_path: Path) -> None:
        rows = "date,open,high,low,close,volume\n1970-01-01,1,2,1,1,3\n2200-01-01,1,2,1,1,3\n"
        path = _file(tmp_path, rows)
        session = create_run(DryrunConfig(feed=f"csv:{path}", run_id="wide"), tmp_path / "out")
        session.run_to_end(10)
        assert verify_run(tmp_path / "out" / "wide").ok


def check_run_data_of(run_dir: Path) -> object:
    """What ``evidence`` checks of a run's data file (``check_run_data``)."""
    cfg, meta = read_run_config(run_dir)
    return check_run_data(run_dir, cfg, meta)


def test_a_data_file_left_behind_is_named_with_the_bytes_evidence_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a run copied to another machine without its data file got, from `evidence`,
    `cannot read data file DIR/data.csv of run ...: No such file or directory` and nothing
    on which file to put there; the run records it (SHA-256 and size), and the line now
    says so, still one line, exit 2, nothing written."""
    text = "open,high,low,close,volume\n1,2,1,2,0\n2,2,1,1,0\n"
    data = _file(tmp_path, text)
    out = tmp_path / "runs"
    argv = ["dryrun", "--feed", f"csv:{data}", "--out", str(out), "--run-id", "r"]
    assert main([*argv, "--steps", "2", "-q"]) == 0
    data.unlink()
    digest = hashlib.sha256(text.encode()).hexdigest()
    said = (
        f"cannot read data file {data} of run {out / 'r'}: No such file or directory: the run "
        f"read a file of {len(text)} bytes, SHA-256 {digest}: put that file at this path"
    )
    with pytest.raises(DataFileError) as caught:
        check_run_data_of(out / "r")
    assert str(caught.value) == said
    capsys.readouterr()
    assert main(["evidence", str(out / "r")]) == 2
    advice = (
        "evidence re-runs the run, so it needs the run's code and data file here: without "
        f"them, `livesession verify {out / 'r'}` checks the run's files (and `--manifest FILE` "
        "holds them to an evidence bundle's manifest.json, if one came with the run), running "
        "nothing"
    )
    assert capsys.readouterr().err == f"livesession: error: {said}; {advice}\n"
    assert not (out / "r" / "manifest.json").exists()


class TestResumeOnSomethingElseInItsPlace:
    @pytest.mark.parametrize("kind", ["directory", "fifo"])
    def test_a_directory_or_a_fifo_is_said_as_such_not_as_a_file_that_shrank(
        self, tmp_path: Path, kind: str
    ) -> None:
        """Bug: a directory (or a FIFO) put where a resumed run's data file was refused
        as ``data file ... changed: it shrank to 4096 bytes, from the 25604 the run read``
        (its stat's size), and ``status`` said the same: the file had not shrunk, it was no
        file at all. The refusal says what it is, ``cannot open data file ...: Is a
        directory`` (``is not a regular file (a FIFO)``)."""
        rows = "".join(
            GOOD.replace("00:00:00Z", f"{m // 60:02d}:{m % 60:02d}:00Z") for m in range(200)
        )
        data = _file(tmp_path, HEADER + rows)  # larger than a directory's size (4096)
        feed = CsvReplayFeed(data, symbol="X", tick=TICK, lot=TICK)
        cfg = DryrunConfig(
            feed=f"csv:{data}",
            feed_sha256=feed.checked.sha256,
            feed_bytes=feed.checked.size,
        )
        feed.close()
        data.unlink()
        if kind == "directory":
            data.mkdir()
        else:
            os.mkfifo(data)
        with pytest.raises(DataFileError) as opened:
            CsvReplayFeed(data, symbol="X", tick=TICK, lot=TICK, size=cfg.feed_bytes)
        said = changed_or(cfg, opened.value, read=cfg.feed_bytes)  # resume
        assert said is opened.value
        assert str(said).startswith(
            f"cannot open data file {data}: Is a directory"
            if kind == "directory"
            else f"data file {data} is not a regular file (a FIFO)"
        ), said
        with pytest.raises(DataFileError) as status:  # status: resumable no, saying why
            check_resume_data(tmp_path, cfg, {})
        assert str(status.value) == (
            f"cannot read data file {data} of run {tmp_path}: "
            + ("Is a directory" if kind == "directory" else "not a regular file (a FIFO)")
        )

    def test_a_missing_file_is_said_with_the_file_to_put_back(self, tmp_path: Path) -> None:
        """Bug: ``status`` said of a resumed run's data file gone ``the run read a file of
        N bytes, SHA-256 ...: put that file at this path``, and ``resume`` only ``cannot
        open data file ...: No such file or directory``: which file, it did not say."""
        data = _file(tmp_path, HEADER + GOOD)
        feed = CsvReplayFeed(data, symbol="X", tick=TICK, lot=TICK)
        cfg = DryrunConfig(
            feed=f"csv:{data}", feed_sha256=feed.checked.sha256, feed_bytes=feed.checked.size
        )
        feed.close()
        data.unlink()
        with pytest.raises(DataFileError) as opened:
            CsvReplayFeed(data, symbol="X", tick=TICK, lot=TICK, size=cfg.feed_bytes)
        assert str(changed_or(cfg, opened.value, read=cfg.feed_bytes)) == (
            f"cannot open data file {data}: No such file or directory: the run read a file of "
            f"{cfg.feed_bytes} bytes, SHA-256 {cfg.feed_sha256}: put that file at this path"
        )
        assert changed_or(cfg, opened.value) is opened.value  # dryrun: the file it was given


def test_an_unnamed_first_column_holds_the_times(tmp_path: Path) -> None:
    """A pandas ``to_csv`` file, its index (the times) written under an empty name: read as
    the bars' times (found unpinned by tools/mutants.py over _market/datafile.py)."""
    path = tmp_path / "pandas.csv"
    path.write_text(",open,high,low,close,volume\n2024-01-01,1,2,1,2,5\n2024-01-02,1,2,1,2,5\n")
    found = check_csv(path, tick=None)
    assert (found.time_column, found.first_time, found.last_time) == (
        "#1",
        "2024-01-01",
        "2024-01-02",
    )
