"""Data files as market-data vendors export them: their time columns, read or refused.

A file's bars play at the file's own times, or the file is refused up front with one line
naming the file, the line, the column and the value, and no run directory is made. A time
in a column the check does not read as the bars' time (Dukascopy's ``Gmt time``, an
``Open time`` of epoch milliseconds) would have played on the session's grid, at times the
data never had.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shlex
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from livesession import CsvReplayFeed, DataFileError, check_csv
from livesession._domain.clock import epoch_ns
from livesession._market.csvforms import LONGEST_LINE
from livesession._market.datafile import scan_csv
from livesession.verify import verify_run
from test_history import _cli

EXIT_OK, EXIT_BAD_INPUT = 0, 2
PRICES = (
    ("1.08000", "1.08030", "1.07970", "1.08000"),
    ("1.08000", "1.08257", "1.07970", "1.08227"),
    ("1.08227", "1.08300", "1.08100", "1.08200"),
)


def _rows(times: list[str], sep: str = ",") -> str:
    return "".join(
        sep.join((t, *prices, str(100 + n))) + "\n"
        for n, (t, prices) in enumerate(zip(times, PRICES * len(times), strict=False))
    )


def _file(tmp_path: Path, header: str, times: list[str], name: str = "eurusd.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + _rows(times), encoding="utf-8")
    return path


def _ns(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return epoch_ns(dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC))


DUKASCOPY = ["02.03.2026 09:00:00.000", "02.03.2026 09:01:00.000", "02.03.2026 09:02:00.000"]


class TestDottedTimesWithAFraction:
    @pytest.mark.parametrize(
        ("times", "first", "second"),
        [
            (DUKASCOPY[:2], _ns(2026, 3, 2, 9, 0), _ns(2026, 3, 2, 9, 1)),
            (  # year first, as MetaTrader writes, to the nanosecond
                ["2026.03.02 09:00:00.5", "2026.03.02 09:00:00.623456789"],
                _ns(2026, 3, 2, 9, 0) + 500_000_000,
                _ns(2026, 3, 2, 9, 0) + 623_456_789,
            ),
        ],
    )
    def test_a_dotted_time_keeps_its_fraction_of_a_second(
        self, tmp_path: Path, times: list[str], first: int, second: int
    ) -> None:
        path = _file(tmp_path, "timestamp,Open,High,Low,Close,Volume", times)
        checked = check_csv(path, tick=None)
        assert (checked.first_ns, checked.last_ns) == (first, second)

    def test_nine_digits_at_most(self, tmp_path: Path) -> None:
        path = _file(tmp_path, "timestamp,Open,High,Low,Close,Volume", ["02.03.2026 09:00:00.5"])
        assert check_csv(path, tick=None).first_ns == _ns(2026, 3, 2, 9, 0) + 500_000_000
        path = _file(
            tmp_path, "timestamp,Open,High,Low,Close,Volume", ["02.03.2026 09:00:00.1234567891"]
        )
        with pytest.raises(DataFileError, match="a fraction of a second of 10 digits"):
            check_csv(path, tick=None)

    def test_a_split_date_and_time_with_milliseconds_is_one_time(self, tmp_path: Path) -> None:
        path = tmp_path / "mt.csv"
        path.write_text(
            "Date;Time;Open;High;Low;Close;Volume\n"
            "02.03.2026;09:00:00.250;1,08000;1,08030;1,07970;1,08000;100\n",
            encoding="utf-8",
        )
        assert check_csv(path, tick=None).first_ns == _ns(2026, 3, 2, 9, 0) + 250_000_000


class TestTimesUnderAnotherName:
    @pytest.mark.parametrize(
        ("header", "value"),
        [
            ("Gmt time", DUKASCOPY[0]),  # Dukascopy's export, with milliseconds
            ("Local time", "02.03.2026 10:00:00.000 GMT+0100"),  # its other export
            ("Open time", "1772442000000"),  # epoch milliseconds under a name that says so
            ("OpenTime", "1772442000"),
            ("when", "3/2/2026 9:00 AM"),  # a US spreadsheet's time, in no form read here
            ("stamp", "2026-03-02 09:00:00 UTC"),
            # epoch numbers under names that say times but end in neither word: Polygon's
            # flat files (nanoseconds), CryptoDataDownload's, and the like
            ("window_start", "1772442000000000000"),
            ("unix", "1772442000000"),
            ("Unix Timestamp", "1772442000"),
            ("timestamp_ms", "1772442000000"),
            ("epoch", "1772442000"),
            ("ts_event", "1772442000000000000"),
        ],
    )
    def test_refused_naming_the_column_and_the_value(
        self, tmp_path: Path, header: str, value: str
    ) -> None:
        text = f"{header},Open,High,Low,Close,Volume\n{value},1.08,1.09,1.07,1.08,3\n"
        _refused_as_an_unread_time(tmp_path, text, header, value)

    def test_refused_after_the_columns_read_too(self, tmp_path: Path) -> None:
        """The time column last, after the columns read (as a spreadsheet's edit leaves it):
        still refused, whichever column comes first."""
        text = f"Open,High,Low,Close,Volume,Gmt time\n1.08,1.09,1.07,1.08,3,{DUKASCOPY[0]}\n"
        _refused_as_an_unread_time(tmp_path, text, "Gmt time", DUKASCOPY[0])

    @pytest.mark.parametrize(
        ("header", "value"),
        [
            ("id", "1772442000000"),  # a number under another name: an id, a count
            ("trades", "1234"),
            ("note", "rolled 1.2.3"),
            ("host", "10.0.0.1"),
        ],
    )
    def test_other_columns_stay_allowed(self, tmp_path: Path, header: str, value: str) -> None:
        path = tmp_path / "x.csv"
        path.write_text(
            f"{header},Open,High,Low,Close,Volume\n{value},1.08,1.09,1.07,1.08,3\n",
            encoding="utf-8",
        )
        assert check_csv(path, tick=None).time_column is None

    def test_a_dukascopy_export_is_refused_then_plays_at_its_times_once_named(
        self, tmp_path: Path
    ) -> None:
        out = tmp_path / "runs"
        data = _file(tmp_path, "Gmt time,Open,High,Low,Close,Volume", DUKASCOPY)
        args = ("--feed", f"csv:{data}", "--symbol", "EUR/USD", "--out", out, "-q")
        done = _cli("dryrun", *args, "--run-id", "duka", cwd=tmp_path)
        assert done.returncode == EXIT_BAD_INPUT, done.stderr
        said = (
            f"livesession: error: data file {data}, line 2, column Gmt time, value "
            "'02.03.2026 09:00:00.000': a time in a column not read as the bars' time: name it "
            "timestamp (or time, datetime, date, open_time, ts) to replay the bars at the "
            "file's times, or drop the column to play them on the session's grid"
        )
        assert done.stderr.splitlines() == [said]
        assert not out.exists()

        data = _file(tmp_path, "timestamp,Open,High,Low,Close,Volume", DUKASCOPY)
        done = _cli("dryrun", *args, "--run-id", "duka", cwd=tmp_path)
        assert done.returncode == EXIT_OK, done.stderr
        assert verify_run(out / "duka").ok
        events = [
            json.loads(line)
            for line in (out / "duka" / "events.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        bars = [e for e in events if e["event_type"] == "BAR"]
        assert [e["ts_utc"] for e in bars] == [
            "2026-03-02T09:00:00Z",
            "2026-03-02T09:01:00Z",
            "2026-03-02T09:02:00Z",
        ]
        assert [e["payload"]["close"] for e in bars] == [p[3] for p in PRICES]
        assert events[-1]["payload"]["reason"] == "FEED_EXHAUSTED"
        assert Decimal(bars[0]["payload"]["volume"]) == 100


class _Downloader(io.BufferedReader):
    """A data file read while its writer appends: the last line is read half written.

    When the check reads a line without its line end (the writer's half row), the writer
    finishes that row and appends one more before the check looks again.
    """

    rest = b""

    def readline(self, size: int | None = -1, /) -> bytes:
        line = super().readline(-1 if size is None else size)
        if line and not line.endswith(b"\n") and self.rest:
            with Path(self.name).open("ab") as writer:
                writer.write(self.rest)
            self.rest = b""
        return line

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class TestAFileThatGrowsWhileItIsChecked:
    def test_a_row_still_being_written_is_neither_checked_nor_played(self, tmp_path: Path) -> None:
        times = ["2026-03-02T09:00:00Z", "2026-03-02T09:01:00Z", "2026-03-02T09:02:00Z"]
        whole = "timestamp,open,high,low,close,volume\n" + _rows(times)
        done, half = whole[: whole.rindex("\n", 0, -1) + 1], whole[whole.rindex("\n", 0, -1) + 1 :]
        cut = half.rindex(",") + 2  # the third row's volume, '102', written as far as '1'
        path = tmp_path / "today.csv"
        path.write_text(done + half[:cut], encoding="utf-8")
        stream = _Downloader(io.FileIO(path, "rb"))
        stream.rest = (half[cut:] + _rows(["2026-03-02T09:03:00Z"])).encode()
        with stream:
            layout = scan_csv(stream, path, tick=None)
        checked = layout.check
        assert (checked.rows, checked.size) == (2, len(done))  # the half row is not read
        assert checked.sha256 == hashlib.sha256(done.encode()).hexdigest()
        assert checked.last_time == times[1]
        # The run plays the bytes the check read: two bars, then the end (FEED_EXHAUSTED).
        feed = CsvReplayFeed(path, symbol="EUR/USD", tick=None, lot=Decimal(1), size=checked.size)
        bars = [feed.next_bar(0) for _ in range(3)]
        feed.close()
        assert [bar and bar.volume for bar in bars] == [Decimal(100), Decimal(101), None]

    def test_a_last_row_without_a_line_end_in_a_file_that_stays_is_a_row(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "eurusd.csv"
        path.write_text(
            "timestamp,open,high,low,close,volume\n" + _rows(["2026-03-02T09:00:00Z"]).rstrip(),
            encoding="utf-8",
        )
        checked = check_csv(path, tick=None)
        assert (checked.rows, checked.size) == (1, path.stat().st_size)

    @pytest.mark.parametrize(
        ("then", "volumes"),
        [
            ("2\n" + _rows(["2026-03-02T09:03:00Z"]), None),  # the row went on: '12' for '1'
            ("\n" + _rows(["2026-03-02T09:03:00Z"]), ["100", "101", "1"]),  # it was whole
            ("", ["100", "101", "1"]),  # the file stays as it was
        ],
        ids=["went-on", "whole", "stays"],
    )
    def test_a_half_row_the_check_took_whole_is_not_played_once_the_file_goes_on(
        self, tmp_path: Path, then: str, volumes: list[str] | None
    ) -> None:
        """Bug: the writer paused mid-row, in the last column (a volume of '1' for '12'), so
        the file had not grown when the check read it: the half row passed every check and
        was played, volume 1, and the run ended FEED_EXHAUSTED. Before its bar, the feed
        now looks past the checked end: a file that goes on within that row is refused."""
        times = ["2026-03-02T09:00:00Z", "2026-03-02T09:01:00Z", "2026-03-02T09:02:00Z"]
        whole = "timestamp,open,high,low,close,volume\n" + _rows(times)
        path = tmp_path / "today.csv"
        path.write_text(whole.removesuffix("02\n"), encoding="utf-8")  # '102' written '1'
        feed = CsvReplayFeed(path, symbol="EUR/USD", tick=None, lot=Decimal(1))
        assert feed.checked.rows == len(times)  # a row, as far as the check could tell
        with path.open("a", encoding="utf-8") as writer:
            writer.write(then)
        played = [feed.next_bar(0), feed.next_bar(0)]
        try:
            if volumes is None:
                with pytest.raises(DataFileError) as caught:
                    feed.next_bar(0)
                assert caught.value.line == 4
                assert str(caught.value).endswith(
                    "line 4: the last row the check read had no line end, and the file has "
                    "grown on from it since: its writer had not finished the row (a volume of "
                    "10 for 100), which is not played; run again once the file's last row is "
                    "whole"
                )
                return
            played += [feed.next_bar(0), feed.next_bar(0)]
        finally:
            feed.close()
        assert played[-1] is None
        assert [str(bar.volume) for bar in played[:-1] if bar is not None] == volumes

    def test_a_half_written_last_row_says_it_may_be_unfinished(self, tmp_path: Path) -> None:
        """The writer paused mid-row, the file has not grown: refused, saying why it may be."""
        times = ["2026-03-02T09:00:00Z", "2026-03-02T09:01:00Z"]
        path = tmp_path / "today.csv"
        path.write_text(
            "timestamp,open,high,low,close,volume\n" + _rows(times) + "2026-03-02T09:02:00Z,1.0",
            encoding="utf-8",
        )
        with pytest.raises(DataFileError) as caught:
            check_csv(path, tick=None)
        assert (caught.value.line, caught.value.column) == (4, "high")
        assert str(caught.value).endswith(
            "missing value (the row has 2 values, the header 6); this last line has no line "
            "end: if the file is still being written, run again once the row is whole"
        )
        path.write_text(  # a row of another line with the same problem says nothing more
            "timestamp,open,high,low,close,volume\n2026-03-02T09:02:00Z,1.0\n" + _rows(times),
            encoding="utf-8",
        )
        with pytest.raises(DataFileError, match=r"header 6\)$"):
            check_csv(path, tick=None)


class _Counting(io.BufferedReader):
    """A data file that keeps the longest line it gave its reader."""

    longest = 0

    def readline(self, size: int | None = -1, /) -> bytes:
        line = super().readline(-1 if size is None else size)
        self.longest = max(self.longest, len(line))
        return line

    def __next__(self) -> bytes:
        line = super().__next__()
        self.longest = max(self.longest, len(line))
        return line


class TestLinesTooLongToBeRows:
    """The file is streamed, never loaded whole: no line is read past 1 MiB."""

    def _scan(self, path: Path) -> tuple[DataFileError, int]:
        stream = _Counting(io.FileIO(path, "rb"))
        with stream, pytest.raises(DataFileError) as caught:
            scan_csv(stream, path, tick=None)
        return caught.value, stream.longest

    def test_a_file_of_cr_line_ends_is_refused_without_being_read_whole(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "mac.csv"
        rows = _rows([f"2026-03-02T09:{n // 60:02d}:{n % 60:02d}Z" for n in range(3600)])
        path.write_bytes(("timestamp,open,high,low,close,volume\n" + rows * 8).encode())
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
        assert path.stat().st_size > LONGEST_LINE + 1
        error, longest = self._scan(path)
        assert longest <= LONGEST_LINE + 1
        assert error.line == 1
        assert "the file's lines end with a CR alone" in str(error)

    def test_a_row_longer_than_a_mebibyte_is_refused_at_its_line(self, tmp_path: Path) -> None:
        path = tmp_path / "notes.csv"
        path.write_text(
            "timestamp,open,high,low,close,volume,note\n"
            "2026-03-02T09:00:00Z,1.08,1.09,1.07,1.08,3,a\n"
            f"2026-03-02T09:01:00Z,1.08,1.09,1.07,1.08,3,{'x' * (2 * LONGEST_LINE)}\n",
            encoding="utf-8",
        )
        error, longest = self._scan(path)
        assert longest <= LONGEST_LINE + 1
        assert str(error) == (
            f"data file {path}, line 3: a line longer than 1048576 bytes (1 MiB) without a "
            "line end: no header or row of bars is; give a CSV file of one row a line"
        )
        with pytest.raises(DataFileError, match="line 1: a line longer than"):
            check_csv(_file(tmp_path, "timestamp," + "x" * LONGEST_LINE, []), tick=None)

    def test_a_row_longer_than_a_mebibyte_is_refused_at_its_line_on_resume_too(
        self, tmp_path: Path
    ) -> None:
        """A resumed run reads the bytes its run read (``size``): the same refusal, at the
        same line, not a row cut in two and its rest refused for missing values."""
        path = tmp_path / "notes.csv"
        path.write_text(
            "timestamp,open,high,low,close,volume,note\n"
            "2026-03-02T09:00:00Z,1.08,1.09,1.07,1.08,3,a\n"
            f"2026-03-02T09:01:00Z,1.08,1.09,1.07,1.08,3,{'x' * LONGEST_LINE}\n",
            encoding="utf-8",
        )
        size = path.stat().st_size
        with pytest.raises(DataFileError) as caught:
            CsvReplayFeed(path, symbol="EUR/USD", tick=Decimal("0.01"), lot=Decimal(1), size=size)
        assert caught.value.line == 3
        assert "a line longer than 1048576 bytes (1 MiB)" in str(caught.value)


_SAME_ROW = (
    ": the same row twice (a bar written twice, as files joined that overlap write it): delete "
    'one of the two lines (to join files: docs/data.md, "A period in several files")'
)
_OTHER_BAR = (
    ": the same time twice, on rows that differ (line 2 is another bar of it): keep the right "
    "one, delete the other"
)


_AT_0 = (
    " (a position, its PnL and the rails' notionals are valued at prices above 0: a market "
    "quoted at or below 0, as WTI crude oil futures were on 2020-04-20, cannot be played there)"
)


class TestWhatARefusalSays:
    """The one line a refused file gets says what its exporter did, not something else."""

    def _refusal(self, tmp_path: Path, text: str | bytes) -> DataFileError:
        path = tmp_path / "x.csv"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        with pytest.raises(DataFileError) as caught:
            check_csv(path, tick=None)
        return caught.value

    def test_a_decimal_comma_file_s_number_is_not_told_of_decimal_commas(
        self, tmp_path: Path
    ) -> None:
        """Its first row writes decimal commas: that is no reason ``1,5 €`` is no number;
        its currency sign is (it was a bare ``not a decimal number``)."""
        error = self._refusal(
            tmp_path, "date;open;high;low;close;volume\n02.03.2026;1,5 €;1,6;1,4;1,5;3\n"
        )
        assert str(error).endswith(
            "value '1,5 €': a currency sign (€) beside the number: write the number alone "
            "(format the cells as numbers, not currency, before saving)"
        )
        assert "comma" not in str(error).split(": ", 1)[1]

    def test_local_times_across_the_end_of_summer_time(self, tmp_path: Path) -> None:
        times = ["2026-11-01 00:55:00", "2026-11-01 01:30:00", "2026-11-01 01:55:00"]
        times += ["2026-11-01 01:00:00"]  # New York's clock set back: 01:00 again, EST
        error = self._refusal(tmp_path, "timestamp,open,high,low,close,volume\n" + _rows(times))
        assert error.line == 5
        assert str(error).endswith(
            "time does not increase (line 4 has 2026-11-01 01:55:00): local times written "
            "without a UTC offset, as summer time ends and an hour repeats? A time without an "
            "offset is UTC: write the times in UTC, or with their offsets (01:30:00-04:00, "
            "then 01:00:00-05:00)"
        )

    def test_hourly_local_times_across_the_end_of_summer_time(self, tmp_path: Path) -> None:
        """Bug: hourly bars repeat 01:00 as the clock is set back (EDT, then EST): the second
        01:00 does not go back, it repeats, and was said to be "a duplicated row?" alone,
        though its prices and volume differ; docs/data.md promises the summer time hint."""
        times = ["2026-11-01 00:00:00", "2026-11-01 01:00:00", "2026-11-01 01:00:00"]
        error = self._refusal(tmp_path, "timestamp,open,high,low,close,volume\n" + _rows(times))
        assert error.line == 4
        assert str(error).endswith(
            "time does not increase (line 3 has 2026-11-01 01:00:00): the same time twice, on "
            "rows that differ: a bar written twice, or local times written without a UTC "
            "offset, as summer time ends and an hour repeats? A time without an offset is UTC: "
            "write the times in UTC, or with their offsets (01:30:00-04:00, then 01:00:00-05:00)"
        )

    @pytest.mark.parametrize(
        ("text", "said"),
        [
            (
                "2026-11-01 01:00:00,1.1,1.2,1.0,1.1,5\n2026-11-01 01:00:00,1.1,1.2,1.0,1.1,5\n",
                _SAME_ROW,
            ),
            (
                "2026-11-01T01:00:00Z,1.1,1.2,1.0,1.1,5\n2026-11-01T01:00:00Z,1.1,1.2,1.0,1.1,6\n",
                _OTHER_BAR,
            ),
            ("2026-11-01,1.1,1.2,1.0,1.1,5\n2026-11-01,1.1,1.2,1.0,1.1,6\n", _OTHER_BAR),
        ],
        ids=["the same row twice", "times in UTC", "dates alone"],
    )
    def test_a_repeated_time_that_is_no_clock_set_back_is_a_duplicated_row(
        self, tmp_path: Path, text: str, said: str
    ) -> None:
        """It was "the same time twice (a duplicated row?)" whether or not the rows were
        the same, and said nothing to do: the same row is told to be deleted once, two bars
        of one time to keep the right one."""
        error = self._refusal(tmp_path, "timestamp,open,high,low,close,volume\n" + text)
        assert str(error).endswith(said)

    @pytest.mark.parametrize(
        "times",
        [
            ["2026-11-01 01:00:00", "2026-11-01 01:05:00", "2026-11-01 01:04:00"],  # a row swapped
            ["2026-11-01T01:00:00Z", "2026-11-01T01:55:00Z", "2026-11-01T01:00:00Z"],  # UTC
        ],
    )
    def test_other_rows_going_back_are_not_said_to_be_summer_time(
        self, tmp_path: Path, times: list[str]
    ) -> None:
        error = self._refusal(tmp_path, "timestamp,open,high,low,close,volume\n" + _rows(times))
        assert "summer time" not in str(error)
        assert str(error).endswith(
            f"time does not increase (line 3 has {times[1]}): a row out of place, or a time "
            "mistyped? Sort the rows by time, oldest first, or correct the row"
        )

    def test_dotted_local_times_are_told_a_form_that_takes_offsets(self, tmp_path: Path) -> None:
        """Bug: a German spreadsheet's dotted times across the end of summer time were told
        to write "their offsets (01:30:00-04:00, ...)", and a dotted date with an offset is
        refused (``a dotted date with a UTC offset, which is not read``): the advice led to
        another refusal. Now the line says to write the dates yyyy-mm-dd with the offsets,
        with the file's own two times, and that form reads."""
        times = ["25.10.2026 01:30", "25.10.2026 02:00", "25.10.2026 02:30", "25.10.2026 02:00"]
        error = self._refusal(tmp_path, "date;open;high;low;close;volume\n" + _rows(times, ";"))
        assert error.line == 5
        assert str(error).endswith(
            "time does not increase (line 4 has 25.10.2026 02:30): local times written "
            "without a UTC offset, as summer time ends and an hour repeats? A time without an "
            "offset is UTC, and a dotted date takes no offset: write the times in UTC, or write "
            "the dates yyyy-mm-dd and the times with their offsets (2026-10-25 02:30+02:00, "
            "then 2026-10-25 02:00+01:00 in Central European time, say)"
        )
        offsets = ["+02:00", "+02:00", "+02:00", "+01:00"]
        written = [f"2026-10-25 {t[-5:]}{o}" for t, o in zip(times, offsets, strict=True)]
        path = tmp_path / "y.csv"
        path.write_text("date;open;high;low;close;volume\n" + _rows(written, ";"))
        assert check_csv(path, tick=None).rows == 4

    def test_a_file_newest_first_is_still_told_to_sort(self, tmp_path: Path) -> None:
        times = ["2026-11-01 03:00:00", "2026-11-01 02:00:00", "2026-11-01 01:00:00"]
        error = self._refusal(tmp_path, "timestamp,open,high,low,close,volume\n" + _rows(times))
        assert str(error).endswith(": the file runs newest first; sort it oldest first")

    def test_thousands_separators_in_a_comma_file(self, tmp_path: Path) -> None:
        error = self._refusal(
            tmp_path,
            'date,open,high,low,close,volume\n2026-03-02,1.08,1.09,1.07,1.08,"1,234,100"\n',
        )
        assert str(error).endswith(
            "column volume, value '1,234,100': not a decimal number (a thousands separator? "
            "write numbers without one)"
        )

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("date;open;high;low;close;volume\n02.03.2026;1 100,50;1;1;1;3\n", "'1 100,50'"),
            (
                "date;open;high;low;close;volume\n02.03.2026;1\u00a0100,50;1;1;1;3\n",
                "'1\\xa0100,50'",
            ),
            (
                "date;open;high;low;close;volume\n02.03.2026;1\u202f100,50;1;1;1;3\n",
                "'1\\u202f100,50'",
            ),
            ("date,open,high,low,close,volume\n2026-03-02,1'100.50,1,1,1,3\n", '"1\'100.50"'),
        ],
        ids=["a space", "a no-break space", "a narrow no-break space", "an apostrophe"],
    )
    def test_thousands_separated_by_a_space_or_an_apostrophe(
        self, tmp_path: Path, text: str, value: str
    ) -> None:
        """Bug: a French or Swedish spreadsheet's ``1 100,50`` (its separator a no-break
        space) or a Swiss one's ``1'100.50`` was "not a decimal number", no word of why or
        what to do; a comma or point separator was told. Now it is told alike."""
        error = self._refusal(tmp_path, text)
        assert str(error).endswith(
            f"column open, value {value}: not a decimal number (a thousands separator? "
            "write numbers without one)"
        )

    def test_an_empty_file_is_said_to_be_empty(self, tmp_path: Path) -> None:
        """Bug: a file of 0 bytes (a download or an export that wrote nothing) was told
        "no header: expected open,high,low,close,volume", as if its first line were wrong."""
        error = self._refusal(tmp_path, "")
        assert error.line == 1
        assert str(error).endswith(
            "line 1: no header: the file is empty (0 bytes): export or download the bars "
            "again, a header naming open,high,low,close,volume first"
        )

    @pytest.mark.parametrize("blank", [";;;;;", ";;;;; ", '"";"";"";"";"";""'])
    def test_a_spreadsheet_s_blank_row_is_said_to_be_one(self, tmp_path: Path, blank: str) -> None:
        """Bug: Excel saves a blank row it once used as its separators alone (``;;;;;``),
        and such a row was told "empty value: drop the row, or fill in its open", sending
        the user to look for a missing price. Now it is told to be a blank row."""
        times = ["02.03.2026 09:00", "02.03.2026 09:01"]
        text = "date;open;high;low;close;volume\r\n" + _rows(times, ";").replace("\n", "\r\n")
        error = self._refusal(tmp_path, text + blank + "\r\n" + blank + "\r\n")
        assert error.line == 4
        assert str(error).endswith(
            "line 4, column open, value '': a row of empty cells (a spreadsheet's blank row, "
            "its separators alone): delete it"
        )

    def test_a_row_with_a_value_is_told_of_the_empty_cell(self, tmp_path: Path) -> None:
        error = self._refusal(tmp_path, "date;open;high;low;close;volume\n02.03.2026;;;;;\n")
        assert str(error).endswith("value '': empty value: drop the row, or fill in its open")

    @pytest.mark.parametrize("sep", [",", ";"])
    def test_a_file_of_prices_alone_is_told_how_to_add_a_volume(
        self, tmp_path: Path, sep: str
    ) -> None:
        """Bug: a charting tool's FX or index export (``time,open,high,low,close``, no
        volume) was told "the header lacks this column" and nothing of what to do. Now the
        line says to add a volume column and how, and the command it gives makes a file that
        reads (a spreadsheet's CRLF line ends too)."""
        header = sep.join(("date", "open", "high", "low", "close"))
        rows = [
            sep.join((d, "1.5" if sep == "," else "1,5", "2", "1", "1"))
            for d in ("2026-03-02", "2026-03-03")
        ]
        text = "\r\n".join([header, *rows]) + "\r\n"
        error = self._refusal(tmp_path, text)
        assert error.column == "volume"
        said = str(error)
        assert said.endswith(
            ": a file of prices alone (an FX or index export) needs one: add a volume column, 0 "
            "on every row if the market reports none (awk -F, -v OFS=, "
            "'{sub(/\\r$/, \"\"); print $0, NR == 1 ? \"volume\" : 0}' in.csv > out.csv; -F';' "
            "-v OFS=';' for a ';' file)"
        )
        awk = shutil.which("awk")
        if awk is None:
            pytest.skip("no awk here to run the command the line gives")
        program = shlex.split(said[said.index("(awk ") + 1 : said.index(" in.csv")])[1:]
        if sep == ";":
            program = ["-F;", "-v", "OFS=;", program[-1]]
        made = subprocess.run(
            [awk, *program, str(tmp_path / "x.csv")], capture_output=True, check=True, timeout=30
        ).stdout
        (tmp_path / "out.csv").write_bytes(made)
        assert check_csv(tmp_path / "out.csv", tick=None).rows == 2

    @pytest.mark.parametrize(
        ("row", "told"),
        [
            ("1.08,1.07,1.09,1.08,3", "column high, value '1.07': high is below low 1.09"),
            (
                "1.10,1.09,1.07,1.08,3",
                "column open, value '1.10': open is outside [low 1.07, high 1.09]",
            ),
            (
                "1.08,1.09,1.07,1.06,3",
                "column close, value '1.06': close is outside [low 1.07, high 1.09]",
            ),
            ("0,1.09,1.07,1.08,3", f"column open, value '0': a price must be positive{_AT_0}"),
            (
                "1.08,1.09,-1.07,1.08,3",
                f"column low, value '-1.07': a price must be positive{_AT_0}",
            ),
            ("1.08,1.09,1.07,1.08,-3", "column volume, value '-3': negative volume"),
        ],
        ids=["high below low", "open above high", "close below low", "zero", "negative", "volume"],
    )
    def test_a_bad_bar_is_told_what_to_do(self, tmp_path: Path, row: str, told: str) -> None:
        """Bug: a bar no market makes (high below low, a price of 0 or less, a negative
        volume) was named with its line, column and value, but not what to do."""
        error = self._refusal(tmp_path, f"date,open,high,low,close,volume\n2026-03-02,{row}\n")
        assert str(error).endswith(f"line 2, {told}: correct the row, or drop it")

    def test_a_price_off_the_grid_is_told_its_own_fix_alone(self, tmp_path: Path) -> None:
        path = tmp_path / "x.csv"
        path.write_text("date,open,high,low,close,volume\n2026-03-02,1.085,1.09,1.07,1.08,3\n")
        with pytest.raises(DataFileError) as caught:
            check_csv(path, tick=Decimal("0.01"))
        assert "correct the row" not in str(caught.value)
        assert str(caught.value).endswith('set price_tick = "0.001" or finer')

    @pytest.mark.parametrize("after", ["", "\r\n", "\n\n"])
    def test_a_header_alone_is_told_what_to_do(self, tmp_path: Path, after: str) -> None:
        """Bug: a file of its header alone was told "no data rows after the header", and not
        what to do."""
        error = self._refusal(tmp_path, "date,open,high,low,close,volume" + after)
        assert str(error).endswith(
            "line 2: no data rows after the header (an export of a range with no bars?): "
            "export the bars again"
        )

    def test_a_time_zone_s_name_is_no_digit_group_separator(self, tmp_path: Path) -> None:
        error = self._refusal(
            tmp_path,
            "timestamp,open,high,low,close,volume\n"
            "2026-03-02 04:00:00 America/New_York,1.08,1.09,1.07,1.08,3\n",
        )
        assert str(error).endswith(
            "value '2026-03-02 04:00:00 America/New_York': not a date or time (ISO 8601, or "
            "DD.MM.YYYY) nor an epoch number"
        )
        error = self._refusal(  # a number written with '_' is still told so
            tmp_path, "timestamp,open,high,low,close,volume\n1_772_442_000,1,1,1,1,3\n"
        )
        assert "a '_' digit group separator?" in str(error)

    @pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
    def test_a_utf16_export_is_named_so(self, tmp_path: Path, encoding: str) -> None:
        text = "timestamp\topen\thigh\tlow\tclose\tvolume\n2026-03-02\t1.08\t1.09\t1.07\t1.08\t3\n"
        error = self._refusal(tmp_path, text.encode(encoding))
        assert (error.line, error.column) == (1, None)
        assert str(error).endswith(
            ': UTF-16 text (a spreadsheet\'s "Unicode Text"), not UTF-8: save the file as '
            '"CSV UTF-8", or convert it (iconv -f UTF-16 -t UTF-8 in.csv > out.csv)'
        )


class TestASpreadsheetSetToGerman:
    """Its own forms of a day-first time: one-digit days, months and hours, and a fraction of
    a second after a comma. Each was refused as "not a date or time"."""

    @pytest.mark.parametrize(
        ("header", "rows", "first"),
        [
            ("timestamp;open;high;low;close;volume", ["2.3.2026 9:00;1,5;1,6;1,4;1,5;3"], 0),
            ("timestamp;open;high;low;close;volume",
             ["02.03.2026 09:00:00,500;1,5;1,6;1,4;1,5;3"], 500_000_000),
            ("Date;Time;Open;High;Low;Close;Volume",
             ["02.03.2026;09:00:00,250;1,5;1,6;1,4;1,5;3"], 250_000_000),
            ("Date,Time,Open,High,Low,Close,Volume", ["2026-03-02,9:00,1.5,1.6,1.4,1.5,3"], 0),
        ],
        ids=["one-digit", "comma-fraction", "split-comma-fraction", "split-one-digit-hour"],
    )  # fmt: skip
    def test_read_as_the_time_it_writes(
        self, tmp_path: Path, header: str, rows: list[str], first: int
    ) -> None:
        path = tmp_path / "de.csv"
        path.write_text(header + "\n" + "".join(f"{row}\n" for row in rows), encoding="utf-8")
        assert check_csv(path, tick=None).first_ns == _ns(2026, 3, 2, 9, 0) + first


def _refused_as_an_unread_time(tmp_path: Path, text: str, column: str, value: str) -> None:
    """A file of ``text`` is refused at line 2 for a time in ``column`` (``value``) not read."""
    path = tmp_path / "x.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError, match="a time in a column not read") as caught:
        check_csv(path, tick=None)
    assert (caught.value.line, caught.value.column, caught.value.value) == (2, column, value)
