"""Headers as exchanges and trading platforms write them, or the lack of one.

MetaTrader 5 exports its bars as a tab-separated file whose names are in angle brackets,
``<DATE>\\t<TIME>\\t<OPEN>\\t<HIGH>\\t<LOW>\\t<CLOSE>\\t<TICKVOL>\\t<VOL>\\t<SPREAD>``: the
header was refused for lacking ``open``. Binance's kline files (data.binance.vision) have
no header at all, and were refused for lacking ``open`` too, naming their first row of
numbers as the header.
"""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from livesession import CsvReplayFeed, DataFileError, check_csv
from test_history import _cli, _one_error_line

MT5 = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<VOLUME>\t<VOL>\t<SPREAD>"
ROWS = (
    "2026.03.02\t09:00:00\t{0}\t{1}\t{2}\t{3}\t100\t0\t2",
    "2026.03.02\t09:01:00\t{3}\t{1}\t{2}\t{3}\t120\t0\t2",
)
BINANCE = (
    "1772442000000,1.0842,1.0844,1.0835,1.0837,100,1772442059999,108.4,12,50,54.2,0\n"
    "1772442060000,1.0837,1.0845,1.0830,1.0840,120,1772442119999,130,15,60,65,0\n"
)


def _write(tmp_path: Path, text: str, name: str = "eurusd.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _mt5(tmp_path: Path, header: str, prices: tuple[str, ...]) -> Path:
    return _write(tmp_path, header + "\n" + "".join(row.format(*prices) + "\n" for row in ROWS))


def _bars(path: Path) -> list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]]:
    feed = CsvReplayFeed(path, symbol="EUR/USD", tick=None, lot=Decimal(1))
    bars = []
    while (bar := feed.next_bar(0)) is not None:
        bars.append((bar.ts_ns, bar.open, bar.high, bar.low, bar.close, bar.volume))
    feed.close()
    return bars


class TestMetaTrader:
    def test_its_names_in_angle_brackets_read_as_the_names(self, tmp_path: Path) -> None:
        prices = ("1.08420", "1.08440", "1.08350", "1.08370")
        brackets = _bars(_mt5(tmp_path, MT5, prices))
        plain = _bars(_mt5(tmp_path, MT5.replace("<", "").replace(">", "").lower(), prices))
        assert brackets == plain
        assert [bar[1] for bar in brackets] == [Decimal("1.08420"), Decimal("1.08370")]
        assert check_csv(tmp_path / "eurusd.csv", tick=None).time_column == "date time"

    def test_its_points_are_decimal_points(self, tmp_path: Path) -> None:
        """A JPY pair at 3 digits: each price could be a thousands group, but MetaTrader
        writes decimal points whatever its locale."""
        bars = _bars(_mt5(tmp_path, MT5, ("150.123", "150.130", "150.100", "150.120")))
        assert [str(bar[1]) for bar in bars] == ["150.123", "150.120"]

    def test_its_two_volumes_are_named_when_none_is_volume(self, tmp_path: Path) -> None:
        header = MT5.replace("<VOLUME>", "<TICKVOL>")
        with pytest.raises(DataFileError) as caught:
            check_csv(_mt5(tmp_path, header, ("1.1", "1.2", "1.0", "1.1")), tick=None)
        assert caught.value.column == "volume"  # not "open": the tabs split the header
        assert str(caught.value).endswith(
            "separated by ',', ';' or a tab): MetaTrader writes <TICKVOL> (ticks) and <VOL> "
            "(the exchange's, 0 on most FX): rename the one to play <VOLUME>"
        )


class TestNoHeader:
    @pytest.mark.parametrize(
        "rows",
        [
            BINANCE,
            "1772442000,1.0842,1.0844,1.0835,1.0837,100,5\n",  # Kraken's OHLCVT
            "20260302 090000;1.0842;1.0844;1.0835;1.0837;100\n",  # NinjaTrader's
        ],
    )
    def test_a_first_line_of_numbers_is_no_header(self, tmp_path: Path, rows: str) -> None:
        with pytest.raises(DataFileError) as caught:
            check_csv(_write(tmp_path, rows), tick=None)
        assert (caught.value.line, caught.value.column) == (1, None)
        assert ": no header: the first line is a row of numbers, not the column names" in str(
            caught.value
        )

    def test_the_cli_says_so_in_one_line_and_the_named_file_plays(self, tmp_path: Path) -> None:
        _write(tmp_path, BINANCE, "btcusdt.csv")
        args = ("dryrun", "--feed", "csv:btcusdt.csv", "--out", "runs", "--steps", "2", "-q")
        line = _one_error_line(_cli(*args, cwd=tmp_path))
        assert line.endswith(
            "(Binance's: open_time,open,high,low,close,volume,close_time,quote_volume,count,"
            "taker_buy_volume,taker_buy_quote_volume,ignore)"
        )
        assert not (tmp_path / "runs").exists()
        named = line.rsplit("(Binance's: ", 1)[1].rstrip(")")
        _write(tmp_path, named + "\n" + BINANCE, "btcusdt.csv")
        assert _cli(*args, cwd=tmp_path).returncode == 0

    def test_a_header_of_numbers_is_still_a_header(self, tmp_path: Path) -> None:
        """pandas writes a frame without column names with the names 0, 1, 2, ..."""
        with pytest.raises(DataFileError) as caught:
            check_csv(_write(tmp_path, ",0,1,2,3,4\n2026-03-02,1.5,1.6,1.4,1.5,3\n"), tick=None)
        assert "the header lacks this column" in str(caught.value)


def _xlsx(data: bytes) -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as workbook:
        workbook.writestr("[Content_Types].xml", "<Types/>")
        workbook.writestr("xl/worksheets/sheet1.xml", data)
    return packed.getvalue()


def _parquet(data: bytes) -> bytes:
    pq = pytest.importorskip("pyarrow.parquet")
    csv = pytest.importorskip("pyarrow.csv")
    packed = io.BytesIO()
    pq.write_table(csv.read_csv(io.BytesIO(data)), packed)
    return packed.getvalue()


SAVE = ', not CSV text: save its sheet of bars as "CSV UTF-8" (File > Save As) and give that file'


class TestNoCsvText:
    """Bug: a workbook was told to be unzipped (.xlsx) or converted from UTF-16 (.xls), and
    a Parquet file given as csv: was "UTF-16 text" too."""

    @pytest.mark.parametrize(
        ("name", "pack", "said"),
        [
            ("bars.xlsx", _xlsx, "a spreadsheet workbook (.xlsx, .ods)" + SAVE),
            ("bars.csv", _xlsx, "a spreadsheet workbook (.xlsx, .ods)" + SAVE),
            ("bars.xls", lambda data: bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504) + data,
             "an Excel 97-2003 workbook (.xls)" + SAVE),
            ("bars.csv", _parquet, "Parquet, not CSV text: give it as parquet:bars.csv"),
        ],
        ids=["xlsx", "xlsx-named-csv", "xls", "parquet"],
    )  # fmt: skip
    def test_it_is_named_so(self, tmp_path: Path, name: str, pack: Any, said: str) -> None:
        data = b"timestamp,open,high,low,close,volume\n2026-03-02T09:00:00Z,1.5,1.6,1.4,1.5,3\n"
        path = tmp_path / name
        path.write_bytes(pack(data))
        with pytest.raises(DataFileError) as caught:
            check_csv(path, tick=None)
        assert str(caught.value) == f"data file {path}, line 1: the file is {said}"

    def test_a_workbook_whose_zip_header_holds_a_line_end_is_named_so(self, tmp_path: Path) -> None:
        """Bug (found by CI, about one run in a few hundred): a workbook named .csv was told
        to be unzipped when its first entry's time (or CRC) held a 0x0A byte, as the zip
        module's current time sometimes does: its first line ended before the entry's name,
        which says workbook. 00:00:20 is DOS time 0x000A."""
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w") as workbook:
            workbook.writestr(
                zipfile.ZipInfo("[Content_Types].xml", (2026, 3, 2, 0, 0, 20)), "<T/>"
            )
            workbook.writestr("xl/worksheets/sheet1.xml", b"timestamp,open\n")
        assert b"\n" in packed.getvalue()[:30]  # the first line ends inside the header
        path = tmp_path / "bars.csv"
        path.write_bytes(packed.getvalue())
        with pytest.raises(DataFileError) as caught:
            check_csv(path, tick=None)
        said = "a spreadsheet workbook (.xlsx, .ods)" + SAVE
        assert str(caught.value) == f"data file {path}, line 1: the file is {said}"


MT4 = (
    "2026.03.02,09:00,1.08420,1.08440,1.08350,1.08370,100\n"
    "2026.03.02,09:01,1.08370,1.08450,1.08300,1.08400,120\n"
)
KRAKEN = (
    "1772442000,1.0842,1.0844,1.0835,1.0837,100,5\n1772442060,1.0837,1.0845,1.0830,1.0840,120,7\n"
)
HEADER = "timestamp,open,high,low,close,volume\n"
BEFORE_HEADER = (
    "the first line is no header (a comment, a title or an address before the header, as "
    "CryptoDataDownload's files open with theirs): the header open,high,low,close,volume must "
    "be the first line: delete the lines before it (`tail -n +2 in.csv > out.csv` deletes one)"
)
TWO_TICKS = "2026-03-02T09:00:00Z,1.5,1.6,1.4,1.5,3\n2026-03-02T09:01:00Z,1.5,1.6,1.4,1.5,3\n"


def _refusal(tmp_path: Path, text: str) -> DataFileError:
    with pytest.raises(DataFileError) as caught:
        check_csv(_write(tmp_path, text), tick=None)
    return caught.value


class TestWhatToWrite:
    """Bugs: a file as a desk's export writes it was refused in words that did not say what
    to do: MetaTrader 4's and Kraken's headless exports were given Binance's twelve names; a comment or
    CryptoDataDownload's address before the header "lacked" open; a comment between rows
    was a row "missing" values; two volumes of other names (CryptoDataDownload's) went
    unnamed; yfinance's two-level header was a price 'EURUSD' that is "not a decimal number"."""

    @pytest.mark.parametrize(
        ("rows", "names", "time_column"),
        [
            (MT4, "(MetaTrader 4's: date,time,open,high,low,close,volume)", "date time"),
            # Kraken's OHLCVT: seven values, an epoch time first
            (KRAKEN, "(Kraken's: timestamp,open,high,low,close,volume,trades)", "timestamp"),
        ],
    )
    def test_a_headless_export_is_given_its_own_names(
        self, tmp_path: Path, rows: str, names: str, time_column: str
    ) -> None:
        caught = _refusal(tmp_path, rows)
        assert (caught.line, caught.column) == (1, None)
        said = str(caught)
        assert ": no header: the first line is a row of numbers, not the column names" in said
        assert said.endswith(names)
        named = said.rsplit(": ", 1)[1].rstrip(")")
        checked = check_csv(_write(tmp_path, named + "\n" + rows), tick=None)
        assert (checked.time_column, checked.rows) == (time_column, 2)

    @pytest.mark.parametrize(
        ("text", "at", "ending"),
        [
            (  # a comment, or CryptoDataDownload's address, before the header
                "# exported 2026-03-02 by the desk's tool\n" + HEADER + TWO_TICKS,
                (1, None),
                BEFORE_HEADER,
            ),
            ("https://www.CryptoDataDownload.com\n" + HEADER + TWO_TICKS, (1, None), BEFORE_HEADER),
            (
                HEADER + TWO_TICKS.replace("\n", "\n# gap\n", 1),
                (3, None),
                (
                    "value '# gap': a comment line ('#'), which a data file may not hold: delete "
                    "such lines (`grep -v '^#' in.csv > out.csv`)"
                ),
            ),
            (
                (
                    "unix,date,open,high,low,close,Volume BTC,Volume USDT\n"
                    "1772442000000,2026-03-02 09:00:00,1.5,1.6,1.4,1.5,3,4.5\n"
                ),
                (1, "volume"),
                "or a tab): it has Volume BTC, Volume USDT: rename the one to play volume",
            ),
            (  # yfinance's columns in two levels
                (
                    "Price,Close,High,Low,Open,Volume\nTicker,EURUSD,EURUSD,EURUSD,EURUSD,EURUSD\n"
                    "Date,,,,,\n2026-03-02 00:00:00+00:00,1.5,1.6,1.4,1.5,3\n"
                ),
                (2, None),
                (
                    "a second header line (yfinance writes its columns in two levels, Price and "
                    "Ticker, and a Date line after them): write one header line, with "
                    "`yf.download(..., multi_level_index=False)`, or `df.columns = "
                    "df.columns.droplevel('Ticker')` before `df.to_csv(...)`"
                ),
            ),
        ],
        ids=["comment", "address", "comment-between-rows", "two-volumes", "yfinance"],
    )
    def test_refused_saying_what_to_do(
        self, tmp_path: Path, text: str, at: tuple[int, str | None], ending: str
    ) -> None:
        caught = _refusal(tmp_path, text)
        assert (caught.line, caught.column) == at
        assert str(caught).endswith(ending)
