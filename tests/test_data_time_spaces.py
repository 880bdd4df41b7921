"""A data file's time with spaces in a row (Interactive Brokers' ``20260302  14:30:00``).

Bug (a new user's first day, by the docs): a file exported from Interactive Brokers writes
its bars' times with two spaces between the date and the time. ``dryrun --feed csv:ib.csv``
refused it with ``value '20260302 14:30:00': not a date or time (ISO 8601, or DD.MM.YYYY)
nor an epoch number``: the CLI's one-line error shows the two spaces as one, so the value it
quoted is a time the check reads (one space), and the user saw nothing wrong in it. The
refusal now says the spaces and how to squeeze them; still exit 2, nothing written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path

_HEADER = "date,open,high,low,close,volume\n"
_ROW = ",187.25,187.32,187.20,187.26,42007\n"
_SAID = (
    ": 2 spaces in a row (this line shows them as one; Interactive Brokers' bars write two): "
    "write one space between the date and the time (tr -s ' ' < in.csv > out.csv)"
)


def _dryrun(tmp_path: Path, capsys: pytest.CaptureFixture[str], when: str) -> tuple[int, str]:
    data = tmp_path / "bars.csv"
    data.write_text(_HEADER + when + _ROW, encoding="utf-8")
    argv = ["dryrun", "--feed", f"csv:{data}", "--symbol", "AAPL", "--out", str(tmp_path / "o")]
    code = main([*argv, "--run-id", "r1", "-q"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("when", ["20260302  14:30:00", "2026-03-02  14:30:00"])
def test_spaces_in_a_row_are_said_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], when: str
) -> None:
    code, err = _dryrun(tmp_path, capsys, when)
    assert code == 2
    assert err.startswith("livesession: error: data file "), err
    assert err.endswith(f"nor an epoch number{_SAID}\n"), err
    assert not (tmp_path / "o" / "r1").exists()


def test_the_fix_it_gives_makes_a_file_that_plays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One space, as ``tr -s ' '`` leaves it, is read: the hint's way out works."""
    code, err = _dryrun(tmp_path, capsys, "20260302 14:30:00")
    assert (code, err) == (0, "")
