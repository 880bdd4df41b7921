"""What a data file's check says of the bytes and cells exports write that are no bar's.

A file saved as Latin-1 or Windows-1252 (an older spreadsheet's "CSV", a European Windows
export) was told it is "not UTF-8 text" and to save it as UTF-8, with no word of how to
convert the file one has: the line now names the byte and gives the ``iconv`` command.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from livesession import DataFileError, check_csv
from livesession._market.datafile import scan_csv
from livesession.cli import main

HEADER = "timestamp,open,high,low,close,volume,note\n"
ROW = "2026-03-02T09:00:00Z,1.0842,1.0844,1.0835,1.0837,100,{note}\n"


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
