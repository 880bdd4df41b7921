"""The forms a spreadsheet's CSV export takes: its separator and its decimal mark.

Spreadsheets set to much of Europe's conventions export CSV with ``;`` between cells,
because the comma is their decimal mark, and write dates day first with dots:
``02.03.2026 09:00;1,08420;1,08440;1,08350;1,08370;100``. A data file is read in that form
as well as in the usual one, by these rules, so that nothing is ever guessed at:

- the **separator** is ``,``, ``;`` or a tab: the first of these that splits the header
  into all of ``open,high,low,close,volume`` (a header quoted for one separator,
  ``"open";"high"``, is no CSV line for the others: those are passed over);
- a **decimal comma** is read only in a ``;`` file, and only when the first data row that
  writes a decimal mark (in a price or the volume) writes a comma; the whole file is then
  read so, and a number with a point in it is refused (``1.084,20``: a thousands separator
  is never dropped);
- a **point** in a ``;`` or tab file is a decimal point once a number tells so: one with a
  point no thousands separator could be (``1.0842``, ``0.500``, ``18000.5``). A point
  before three digits (``18.000``) tells nothing, since a spreadsheet set to German writes
  18000 so: a file whose numbers never tell is refused (``DecimalMark``).

A **number** is written with the ASCII digits ``0-9``, an optional sign, at most one
decimal mark and an optional exponent (``1e5``, ``8.9E-7``): nothing else Python's
``Decimal`` would read is taken (``1_234.5``, full-width digits U+FF10-FF19: a digit group
separator is never dropped, and no other script's digits are read). The form is
``_support/numbertext``'s, a config's decimals are held to it too.

Its day-first dates (``DD.MM.YYYY``) are among the time forms of ``timeforms``.
"""

from __future__ import annotations

import csv
import re
from typing import Final

__all__ = [
    "DELIMITERS",
    "LONGEST_LINE",
    "DecimalMark",
    "Problem",
    "comma_hint",
    "compressed",
    "cr_line_ends",
    "decimal_text",
    "header_splits",
    "line_too_long",
    "no_header",
    "not_a_row",
    "split",
    "utf16",
]

DELIMITERS: Final = (",", ";", "\t")
"""The separators a data file may use, tried on its header in this order."""
COMMA_FILE: Final = ";"
"""The one separator whose files may write decimal commas."""


def split(text: str, delimiter: str) -> list[str]:
    """The cells of one CSV line (raises ``csv.Error`` when it is not one)."""
    return next(csv.reader([text], delimiter=delimiter, strict=True), [])


def header_splits(text: str) -> list[tuple[str, list[str]]]:
    """The header's cells split by each separator that can read it, in ``DELIMITERS`` order.

    A header quoted for one separator (``"open";"high"``) is no CSV line for the others:
    those are passed over. A ``csv.Error`` (the first separator's) when none can read it.
    """
    splits, errors = [], []
    for delimiter in DELIMITERS:
        try:
            splits.append((delimiter, split(text, delimiter)))
        except csv.Error as exc:
            errors.append(exc)
    if not splits:
        raise errors[0]
    return splits


def cr_line_ends(text: str) -> str | None:
    """Why ``text``, one line read up to its LF that is no CSV line, is many: or None.

    A file whose lines end with a CR alone (old Mac line ends, as Excel's "CSV (Macintosh)"
    saves) reads as one line holding them all, and Python's own message asks for a mode the
    reader has no use for: the line ends are named instead, with how to convert them.
    """
    return None if "\r" not in text.rstrip("\r\n") else _CR_LINE_ENDS


_CR_LINE_ENDS: Final = (
    "the file's lines end with a CR alone (old Mac line ends, as Excel's \"CSV "
    '(Macintosh)" saves them): save it as "CSV UTF-8", or convert its line ends '
    "(tr '\\r' '\\n' < in.csv > out.csv)"
)


def not_a_row(text: str, error: csv.Error) -> str:
    """Why ``text``, one line read up to its LF, is no CSV row (``error``: the reader's).

    Lines that end with a CR alone say so (``cr_line_ends``), and so does a quoted cell
    still open at the line's end (the reader's own words: "unexpected end of data"): a
    stray quote, or a line break inside quotes, which RFC 4180 allows and a data file may
    not hold, each line being one row.
    """
    problem = cr_line_ends(text)
    if problem is not None:
        return problem
    if "unexpected end of data" in str(error):
        return (
            "not a CSV row: a quoted cell is still open at the line's end (a stray '\"', or "
            "a cell spanning lines, which is not supported: write each row on one line)"
        )
    return f"not a CSV row ({error})"


_SEP_LINE: Final = re.compile(rb"sep=.", re.IGNORECASE)
"""Excel's separator hint (``sep=;``), a line some exports write before the header."""


def no_header(first: bytes) -> str | None:
    """Why a file whose first line is ``first`` has no header, or None (it may have one).

    An empty file (a UTF-8 BOM alone too, as a spreadsheet saves an empty sheet), a blank
    first line (blank lines are skipped between rows, but the header comes first) and
    Excel's ``sep=;`` line before the header each say so.
    """
    line = first.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n")
    if _SEP_LINE.fullmatch(line.strip(b" ")):
        shown = line.strip(b" ").decode("utf-8", "replace")
        return (
            f"a {shown!r} line (Excel's separator hint) before the header: delete it, so that "
            "the header open,high,low,close,volume is the first line"
        )
    if line.strip():
        return None
    if first.endswith(b"\n"):
        return (
            "no header: the first line is blank (the header open,high,low,close,volume must "
            "be the first line; blank lines may follow it)"
        )
    if not first:  # a download or an export that wrote nothing
        return (
            "no header: the file is empty (0 bytes): export or download the bars again, a "
            "header naming open,high,low,close,volume first"
        )
    return "no header: expected open,high,low,close,volume"


LONGEST_LINE: Final = 1 << 20
"""The most bytes a line of a data file may have, its line end included (1 MiB).

No header or bar is that long; a longer line is read no further (its bytes are never held
whole): a file whose lines end with a CR alone reads as one line, the whole file.
"""


def line_too_long(raw: bytes) -> str | None:
    """Why ``raw``, a line read ``LONGEST_LINE + 1`` bytes at most, is no line of a data file."""
    if len(raw) <= LONGEST_LINE:
        return None
    if b"\r" in raw.rstrip(b"\r\n"):
        return _CR_LINE_ENDS
    return (
        f"a line longer than {LONGEST_LINE} bytes (1 MiB) without a line end: no header or "
        "row of bars is; give a CSV file of one row a line"
    )


_GROUPED: Final = re.compile(r"[+-]?[1-9][0-9]{0,2}\.[0-9]{3}")
"""A number whose point may separate thousands as well as decimals: ``18.000``, ``1.500``."""
_UNTOLD_FILES: Final = {COMMA_FILE: "';'", "\t": "tab"}
"""The files whose points a spreadsheet may write as thousands separators."""

Problem = tuple[int, str, str, str]
"""Where a number was misread, and why: its line, column and text, and the problem."""


class DecimalMark:
    """A file's decimal mark, as its rows tell it (``comma``: None until one does).

    In a ``,`` file it is the point. In a ``;`` file the first row that writes a comma in
    a number makes it the comma, and in a ``;`` or tab file the first that writes a point
    no thousands separator could be (``1.0842``, ``0.500``, ``1234.5``) the point. A point
    that could be either (``18.000``: 18, or 18000 as a spreadsheet set to German writes
    it) tells nothing: it is read as a point until a row tells, and refused (``grouped``)
    if none does, or if one writes a decimal comma.
    """

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.comma: bool | None = None if delimiter in _UNTOLD_FILES else False
        self.grouped: tuple[int, str, str] | None = None
        """The first number read with a point before a row told the mark: line, column, text."""

    def tell(self, numbers: dict[str, str], line: int) -> Problem | None:
        """Take one row's ``numbers`` (its cells by column); a number read wrong, or None."""
        if self.comma is not None:
            return None
        if self.delimiter == COMMA_FILE and any("," in text for text in numbers.values()):
            self.comma = True
            problem = (
                f"a point in a file written with decimal commas (line {line} writes one): a "
                "thousands separator? write numbers without one"
            )
            return None if self.grouped is None else (*self.grouped, problem)
        if any("." in text and not _GROUPED.fullmatch(text) for text in numbers.values()):
            self.comma = False
        elif self.grouped is None:
            grouped = (
                (line, column, text) for column, text in numbers.items() if _GROUPED.fullmatch(text)
            )
            self.grouped = next(grouped, None)
        return None

    def untold(self) -> Problem | None:
        """Once every row is read: a point no row told the meaning of, or None."""
        if self.comma is not None or self.grouped is None:
            return None
        line, column, text = self.grouped
        problem = (
            f"a decimal point or a thousands separator ({text.replace('.', '')})? No number in "
            f"this {_UNTOLD_FILES[self.delimiter]}-separated file tells which: write numbers "
            "without thousands separators, or, if the points are decimal ones, separate the "
            "cells with ','"
        )
        return line, column, text, problem


def decimal_text(text: str) -> str:
    """A decimal-comma file's number with a point; a ``ValueError`` when it has a point."""
    if "." in text:
        raise ValueError(
            "a point in a file written with decimal commas (a thousands separator? "
            "write numbers without one)"
        )
    return text.replace(",", ".")


def comma_hint(text: str, *, decimal_comma: bool = False, delimiter: str = ",") -> str:
    """Why a number with a comma in it was not read, and what to do, for the error.

    Empty without a comma or digits grouped by a space or an apostrophe (``1 100,50``,
    ``1'100.50``: a thousands separator). ``decimal_comma``: the file writes them, so a
    comma alone is no reason (``1,5 €``). ``delimiter``: the file's separator, which says
    what to do: a tab file's decimal commas are read once its tabs are ``;`` (``tr``), any
    file's once they are points.
    """
    if _SPACE_GROUPED.search(text):  # 1 100,50 (a space, or French Excel's no-break space)
        return _THOUSANDS
    if "," not in text:
        return ""
    if "." in text or text.count(",") > 1:
        return _THOUSANDS
    if decimal_comma:
        return ""
    return (
        " (a decimal comma is read only in a ';' file whose first number with a decimal mark "
        f"writes one): {_COMMA_FIXES.get(delimiter, _POINTS)}"
    )


_THOUSANDS: Final = " (a thousands separator? write numbers without one)"
_SPACE_GROUPED: Final = re.compile("[0-9][ \u00a0\u202f\u2009'\u2019][0-9]")
"""Digits grouped by a space (a no-break one, as French and Swedish spreadsheets write
``1 100,50``; a thin one) or an apostrophe (Swiss ``1'100.50``)."""
_POINTS: Final = "write the numbers with decimal points (1.5)"
_COMMA_FIXES: Final = {
    "\t": (
        "convert the file's tabs to ';' (tr '\\t' ';' < in.csv > out.csv), or write the "
        "numbers with decimal points (1.5)"
    ),
    COMMA_FILE: "write every number with a decimal comma (1,5), or every one with a point (1.5)",
}
"""What to do with a decimal comma a file may not write, by the file's separator."""


_PACKED: Final = (
    (b"\x1f\x8b", "gzip-compressed", "gunzip -k"),
    (b"PK\x03\x04", "a zip archive", "unzip"),
    (b"BZh", "bzip2-compressed", "bunzip2 -k"),
    (b"\xfd7zXZ\x00", "xz-compressed", "unxz -k"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", "unzstd"),
)
"""What a compressed file starts with (its bytes would be "not UTF-8" at the first line)."""


_SAVE_AS_CSV: Final = (
    ', not CSV text: save its sheet of bars as "CSV UTF-8" (File > Save As) and give that file'
)


def compressed(first: bytes, name: str) -> str | None:
    """Why a file whose first line is ``first`` is no CSV text: compressed, a workbook, Parquet.

    A spreadsheet's own file is a zip archive (``.xlsx``, ``.ods``) or, from Excel 97-2003,
    an OLE2 one (``.xls``): unzipping it gives no CSV. A Parquet file is read as one.
    """
    if first.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "the file is an Excel 97-2003 workbook (.xls)" + _SAVE_AS_CSV
    if first.startswith(b"PK\x03\x04") and (
        name.lower().endswith((".xlsx", ".xlsm", ".ods"))
        or any(entry in first[:128] for entry in (b"[Content_Types].xml", b"mimetypeapplication"))
    ):
        return "the file is a spreadsheet workbook (.xlsx, .ods)" + _SAVE_AS_CSV
    if first.startswith(b"PAR1"):
        return f"the file is Parquet, not CSV text: give it as parquet:{name}"
    for magic, packed, unpack in _PACKED:
        if first.startswith(magic):
            return (
                f"the file is {packed}, not CSV text: decompress it first ({unpack} {name}) "
                "and give the CSV file"
            )
    return None


def utf16(first: bytes) -> str | None:
    """Why a file whose first line is ``first`` is no UTF-8 text, if it is UTF-16.

    A spreadsheet's "Unicode Text" export: with its byte order mark it was "not UTF-8", and
    without one, each character followed by a NUL, a header that "lacks" ``open``.
    """
    if not (first.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first):
        return None
    return (
        'UTF-16 text (a spreadsheet\'s "Unicode Text"), not UTF-8: save the file as "CSV '
        'UTF-8", or convert it (iconv -f UTF-16 -t UTF-8 in.csv > out.csv)'
    )
