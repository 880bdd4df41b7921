"""A point in a `;` or tab file that a spreadsheet may have written as a thousands separator.

A spreadsheet set to German writes the DAX at 18000 as ``18.000`` when its cells show
thousands separators, and saves CSV with ``;`` between cells (or tabs, as "Text"). Read with
a decimal point, that bar played at 18.000 (a thousandth of its price) and its volume
``1.500`` at 1.5, with no word. Such a point is read only when the file tells what its
points are: a number written with a point no thousands separator could be (``1.0842``,
``0.500``, ``18000.5``) makes them decimal points; a decimal comma, thousands separators
(refused). A file whose numbers never tell is refused, naming the first such number.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from livesession import CsvReplayFeed, DataFileError, check_csv
from test_history import _cli, _one_error_line

HEADER = "timestamp;open;high;low;close;volume\n"


def _file(tmp_path: Path, rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "dax.csv"
    path.write_text(header + rows, encoding="utf-8")
    return path


def _refusal(path: Path) -> DataFileError:
    with pytest.raises(DataFileError) as caught:
        check_csv(path, tick=None)
    return caught.value


def _bars(path: Path) -> list[tuple[Decimal, ...]]:
    feed = CsvReplayFeed(path, symbol="DAX", tick=None, lot=Decimal(1))
    bars = []
    while (bar := feed.next_bar(0)) is not None:
        bars.append((bar.open, bar.high, bar.low, bar.close, bar.volume))
    feed.close()
    return bars


class TestUntold:
    """Points no row tells the meaning of: refused, never read as decimals."""

    @pytest.mark.parametrize(
        ("sep", "rows", "at", "separated"),
        [
            # The DAX, its cells formatted "#.##0": every price and volume a thousands group.
            (";", ("02.03.2026;18.000;18.110;17.990;18.005;523",
                   "03.03.2026;18.005;18.120;17.950;18.100;1.500"), ("open", "18.000"), "';'"),
            # Whole prices tell nothing; the volume's point does not either.
            (";", ("02.03.2026;18000;18110;17990;18005;1.500",), ("volume", "1.500"), "';'"),
            ("\t", ("02.03.2026\t18.000\t18.110\t17.990\t18.005\t523",), ("open", "18.000"),
             "tab"),
        ],
    )  # fmt: skip
    def test_a_file_whose_points_may_group_thousands_is_refused(
        self, tmp_path: Path, sep: str, rows: tuple[str, ...], at: tuple[str, str], separated: str
    ) -> None:
        path = _file(tmp_path, "".join(f"{row}\n" for row in rows), HEADER.replace(";", sep))
        error = _refusal(path)
        column, value = at
        assert (error.line, error.column, error.value) == (2, column, value)
        assert str(error).endswith(
            f"a decimal point or a thousands separator ({value.replace('.', '')})? No number in "
            f"this {separated}-separated file tells which: write numbers without thousands "
            "separators, or, if the points are decimal ones, separate the cells with ','"
        )

    def test_a_later_decimal_comma_names_the_point_read_before_it(self, tmp_path: Path) -> None:
        path = _file(
            tmp_path,
            "02.03.2026;18.000;18.110;17.990;18.005;523\n"
            "03.03.2026;18005;18120;17950;18100,5;1500\n",
        )
        error = _refusal(path)
        assert (error.line, error.column, error.value) == (2, "open", "18.000")
        assert str(error).endswith(
            "a point in a file written with decimal commas (line 3 writes one): a thousands "
            "separator? write numbers without one"
        )

    def test_the_cli_refuses_it_in_one_line_and_makes_no_run(self, tmp_path: Path) -> None:
        _file(tmp_path, "02.03.2026;18.000;18.110;17.990;18.005;523\n")
        done = _cli(
            "dryrun", "--feed", "csv:dax.csv", "--symbol", "DAX", "--out", "runs", "--steps",
            "3", "-q", cwd=tmp_path,
        )  # fmt: skip
        line = _one_error_line(done)
        assert "dax.csv, line 2, column open, value '18.000': a decimal point or a" in line
        assert not (tmp_path / "runs").exists()


class TestTold:
    """A row that tells the mark: the file reads, the undecided rows before it too."""

    @pytest.mark.parametrize(
        ("rows", "first"),
        [
            # A later row's point is no thousands separator: the points are decimal ones.
            (("02.03.2026;18.000;18.110;17.990;18.005;523",
              "03.03.2026;18.005;18.120;17.950;18.1;1500"), "18.000"),
            # In the same row: 0.500 is no thousands group (none starts with 0).
            (("02.03.2026;18.000;18.110;0.500;18.005;523",), "18.000"),
            # A first row of whole numbers tells nothing; a decimal comma after it does.
            (("02.03.2026;18000;18110;17990;18005;523",
              "03.03.2026;18005;18120;17950;18100,5;1500"), "18000.0"),
        ],
    )  # fmt: skip
    def test_a_row_that_tells_decides(
        self, tmp_path: Path, rows: tuple[str, ...], first: str
    ) -> None:
        bars = _bars(_file(tmp_path, "".join(f"{row}\n" for row in rows)))
        assert str(bars[0][0]) == first

    def test_a_comma_file_reads_its_points_as_ever(self, tmp_path: Path) -> None:
        path = _file(
            tmp_path,
            "2026-03-02,18.000,18.110,17.990,18.005,523\n",
            header=HEADER.replace(";", ","),
        )
        assert _bars(path) == [tuple(map(Decimal, ("18.000", "18.110", "17.990", "18.005", "523")))]
