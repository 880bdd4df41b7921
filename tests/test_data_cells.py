"""What a data file's check says of the bytes and cells exports write that are no bar's.

A file saved as Latin-1 or Windows-1252 (an older spreadsheet's "CSV", a European Windows
export) was told it is "not UTF-8 text" and to save it as UTF-8, with no word of how to
convert the file one has: the line now names the byte and gives the ``iconv`` command.

A price or volume cell a spreadsheet wrote that is no number (an error value, a placeholder
dash, a currency sign or code, a percent sign, a zero-width space) was told only "not a
decimal number": the line now names what the cell looks like and what to do.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from livesession import DataFileError, check_csv
from livesession._market.datafile import scan_csv
from livesession.cli import main

HEADER = "timestamp,open,high,low,close,volume,note\n"
ROW = "2026-03-02T09:00:00Z,1.0842,1.0844,1.0835,1.0837,100,{note}\n"


def _one_bar(tmp_path: Path, column: str, cell: str) -> Path:
    """A file of one bar of good values but ``cell`` in ``column``."""
    values = {
        "open": "1.5",
        "high": "1.6",
        "low": "1.4",
        "close": "1.5",
        "volume": "10",
        column: cell,
    }
    path = tmp_path / "bars.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n2026-03-02T09:00:00Z,"
        + ",".join(values[c] for c in ("open", "high", "low", "close", "volume"))
        + "\n",
        encoding="utf-8",
    )
    return path


def _refused(path: Path) -> str:
    with pytest.raises(DataFileError) as caught:
        check_csv(path, tick=None)
    return str(caught.value)


class TestNotUtf8:
    @pytest.mark.parametrize(
        ("note", "codec", "byte", "source"),
        [("café", "latin1", "0xe9", "latin1"), ("5 €", "cp1252", "0x80", "cp1252")],
    )
    def test_names_the_byte_and_gives_the_iconv_line(
        self, tmp_path: Path, note: str, codec: str, byte: str, source: str
    ) -> None:
        """Bug: ``not UTF-8 text (byte 44 of the line): save the file as UTF-8``, and no
        word of how to convert the file; a Windows-1252 byte (``€``) is converted from it."""
        path = tmp_path / "eur usd.csv"
        path.write_bytes((HEADER + ROW.format(note=note)).encode(codec))
        at = ROW.index("{note}") + note.encode(codec).index(int(byte, 16).to_bytes(1, "big")) + 1
        assert _refused(path) == (
            f"data file {path}, line 2: not UTF-8 text (byte {at} of the line, {byte}): a file "
            f"saved as Latin-1 or Windows-1252? Convert it, iconv -f {source} -t utf-8 "
            f"'{path}' > '{tmp_path / 'eur usd-utf8.csv'}', or save it as UTF-8 (a "
            'spreadsheet\'s "CSV UTF-8")'
        )

    def test_the_command_given_converts_the_file(self, tmp_path: Path) -> None:
        """The line's command, run as given, makes a file the check reads, the note kept."""
        if shutil.which("iconv") is None:
            pytest.skip("the line's command is iconv's")
        path = tmp_path / "bars.csv"
        path.write_bytes(("timestamp,open,high,low,close,volume,Währung\n" + ROW).encode("latin1"))
        said = _refused(path)
        assert "line 1: not UTF-8 text (byte 39 of the line, 0xe4)" in said
        command = said.split("Convert it, ")[1].split(", or save it")[0]
        subprocess.run(command, shell=True, check=True, timeout=30)  # noqa: S602 - the line's
        converted = tmp_path / "bars-utf8.csv"
        assert converted.read_text(encoding="utf-8").startswith("timestamp,open,high,low,close")
        assert "Währung" in converted.read_text(encoding="utf-8")
        assert check_csv(converted, tick=None).rows == 1

    def test_the_cli_says_it_in_one_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "bars.csv"
        path.write_bytes((HEADER + ROW.format(note="café")).encode("latin1"))
        args = ["dryrun", "--feed", f"csv:{path}", "--symbol", "EUR/USD", "--out", str(tmp_path)]
        assert main([*args, "--steps", "1"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert f"iconv -f latin1 -t utf-8 {path} > {tmp_path / 'bars-utf8.csv'}" in err
        assert [p.name for p in tmp_path.iterdir()] == ["bars.csv"]  # nothing written

    def test_a_row_changed_while_a_run_plays_is_told_as_before(self, tmp_path: Path) -> None:
        """As a run plays the file, a row is the check's no longer: restore it, as before
        (its FEED_ERROR's words unchanged), not convert it."""
        path = tmp_path / "bars.csv"
        path.write_text(HEADER + ROW.format(note="n"), encoding="utf-8")
        with path.open("rb") as stream:
            layout = scan_csv(stream, path, tick=None)
        with pytest.raises(DataFileError) as caught:
            layout.checker.replaying().cells(ROW.format(note="caf\xe9").encode("latin1"), 3)
        assert str(caught.value) == (
            f"data file {path}, line 3: not UTF-8 text (byte 57 of the line): save the file as "
            'UTF-8 (a spreadsheet\'s "CSV UTF-8")'
        )


_MONEY = "write the number alone (format the cells as numbers, not currency, before saving)"
_SHEET = (
    "a spreadsheet's error value (a formula that failed): correct the formula in the sheet "
    "and export again, or drop the row"
)
CELLS = {
    "#VALUE!": _SHEET,
    "#DIV/0!": _SHEET,
    "#REF!": _SHEET,
    "#NAME?": _SHEET,
    "-": "a placeholder dash, no value: drop the row, or fill in its {column}",
    "--": "a placeholder dash, no value: drop the row, or fill in its {column}",
    "\u2014": "a placeholder dash, no value: drop the row, or fill in its {column}",
    "$1.50": f"a currency sign ($) beside the number: {_MONEY}",
    "\u20ac1.50": f"a currency sign (\u20ac) beside the number: {_MONEY}",
    "1.50 USD": f"a currency code (USD) beside the number: {_MONEY}",
    "CHF 1.50": f"a currency code (CHF) beside the number: {_MONEY}",
    "1.5%": (
        "a percent sign: write the number alone (format the cells as numbers, not "
        "percentages, before saving)"
    ),
    "\u200b": (
        "an invisible character (U+200B ZERO WIDTH SPACE), no value: drop the row, or fill in "
        "its {column}"
    ),
    "1.5\u200b": "an invisible character (U+200B ZERO WIDTH SPACE) in it: write the number alone",
}


class TestCellsNoNumber:
    @pytest.mark.parametrize("column", ["open", "volume"])
    @pytest.mark.parametrize("cell", sorted(CELLS))
    def test_names_what_the_cell_looks_like(self, tmp_path: Path, cell: str, column: str) -> None:
        """Bug: each was ``value '$1.50': not a decimal number``, and no word of why."""
        values = {"open": "1.5", "high": "1.6", "low": "1.4", "close": "1.5", "volume": "10"}
        values[column] = cell
        path = tmp_path / "bars.csv"
        first = "2026-03-02T09:00:00Z,1.5,1.6,1.4,1.5,10\n"
        path.write_text(
            "timestamp,open,high,low,close,volume\n"
            + first
            + "2026-03-02T09:01:00Z,"
            + ",".join(values[c] for c in ("open", "high", "low", "close", "volume"))
            + "\n",
            encoding="utf-8",
        )
        assert _refused(path) == (
            f"data file {path}, line 3, column {column}, value {cell!r}: "
            + CELLS[cell].format(column=column)
        )

    @pytest.mark.parametrize(
        ("cell", "said"),
        [
            ("1,5 \u20ac", f"a currency sign (\u20ac) beside the number: {_MONEY}"),
            ("1,50 EUR", f"a currency code (EUR) beside the number: {_MONEY}"),
            ("-", "a placeholder dash, no value: drop the row, or fill in its open"),
        ],
    )
    def test_in_a_file_of_decimal_commas(self, tmp_path: Path, cell: str, said: str) -> None:
        """As a spreadsheet set to German or French saves its money cells."""
        path = tmp_path / "bars.csv"
        path.write_text(
            "timestamp;open;high;low;close;volume\n2026-03-02T09:00:00Z;1,5;1,6;1,4;1,5;10\n"
            f"2026-03-02T09:01:00Z;{cell};1,6;1,4;1,5;10\n",
            encoding="utf-8",
        )
        assert _refused(path) == f"data file {path}, line 3, column open, value {cell!r}: {said}"

    @pytest.mark.parametrize("cell", ["x", "1.5e", "EUR", "1.2.3", "0x1F"])
    def test_another_cell_keeps_the_general_words(self, tmp_path: Path, cell: str) -> None:
        """With what to write instead: it said ``not a decimal number`` and no more."""
        path = tmp_path / "bars.csv"
        path.write_text(HEADER + ROW.format(note="n").replace("1.0842", cell), encoding="utf-8")
        assert _refused(path).endswith(
            f"value {cell!r}: not a decimal number (write the digits 0-9, a point, an "
            "exponent: 1.0842, 1e-05, 2.5E+3)"
        )

    @pytest.mark.parametrize("cell", ["inf", "-inf", "Infinity", "-Infinity", "+inf"])
    @pytest.mark.parametrize("column", ["open", "volume"])
    def test_an_infinite_float_says_what_to_do(
        self, tmp_path: Path, cell: str, column: str
    ) -> None:
        """Bug: ``value 'inf': not a finite number``, and no word of what to do."""
        path = _one_bar(tmp_path, column, cell)
        assert _refused(path) == (
            f"data file {path}, line 2, column {column}, value {cell!r}: not a finite number "
            "(a division by zero or an overflow, where the export computed it?): correct the "
            "row, or drop it"
        )

    @pytest.mark.parametrize(
        ("cell", "char", "column", "never"),
        [
            ("\u221237.63", "U+2212 MINUS SIGN", "open", "a price is above 0"),
            ("\u20135", "U+2013 EN DASH", "volume", "a volume is never below 0"),
        ],
    )
    def test_a_typeset_minus_sign_is_named(
        self, tmp_path: Path, cell: str, char: str, column: str, never: str
    ) -> None:
        """Bug: ``value '\u221237.63': not a decimal number``: the '-' looked the same."""
        path = _one_bar(tmp_path, column, cell)
        assert _refused(path) == (
            f"data file {path}, line 2, column {column}, value {cell!r}: a minus sign written "
            f"as {char} (typeset text's), not '-'; and {never}: correct the row, or drop it"
        )

    @pytest.mark.parametrize("cell", ["", "N/A"])
    def test_a_volume_left_empty_is_told_it_may_be_0(self, tmp_path: Path, cell: str) -> None:
        """Bug: an FX pair's export with its volume column empty on every row was told
        ``drop the row, or fill in its volume``: dropping every row, or a volume it has not."""
        path = _one_bar(tmp_path, "volume", cell)
        what = "empty value" if not cell else "a missing value"
        assert _refused(path) == (
            f"data file {path}, line 2, column volume, value {cell!r}: {what}: drop the row, "
            "or fill in its volume (0 where the market reports none, as an FX pair's or an "
            "index's bars)"
        )

    @pytest.mark.parametrize("price", ["-37.63", "0"])
    def test_a_price_at_or_below_zero_says_why_it_cannot_play(
        self, tmp_path: Path, price: str
    ) -> None:
        """Bug: ``a price must be positive: correct the row``, of a market's real close
        (WTI crude oil futures at -37.63 on 2020-04-20): the row was right, the session is
        what takes no such price, and the line said nothing of it."""
        path = tmp_path / "cl.csv"
        path.write_text(
            f"timestamp,open,high,low,close,volume\n2020-04-20,18.27,18.27,{price},{price},100\n",
            encoding="utf-8",
        )
        assert _refused(path) == (
            f"data file {path}, line 2, column low, value {price!r}: a price must be positive "
            "(a position, its PnL and the rails' notionals are valued at prices above 0: a "
            "market quoted at or below 0, as WTI crude oil futures were on 2020-04-20, cannot "
            "be played there): correct the row, or drop it"
        )

    def test_a_row_changed_while_a_run_plays_is_told_as_before(self, tmp_path: Path) -> None:
        """A run's FEED_ERROR keeps its words: the file changed, restore it."""
        path = tmp_path / "bars.csv"
        path.write_text(HEADER + ROW.format(note="n"), encoding="utf-8")
        with path.open("rb") as stream:
            layout = scan_csv(stream, path, tick=None)
        again = layout.checker.replaying()
        raw = ROW.format(note="n").replace("1.0842", "$1.08").replace("09:00", "09:01")
        with pytest.raises(DataFileError) as caught:
            again.row(raw.encode(), layout.index, 3)
        assert str(caught.value) == (
            f"data file {path}, line 3, column open, value '$1.08': not a decimal number"
        )
