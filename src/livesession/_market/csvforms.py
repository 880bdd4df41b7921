"""The forms a spreadsheet's CSV export takes: its separator and its decimal mark.

Spreadsheets set to much of Europe's conventions export CSV with ``;`` between cells,
because the comma is their decimal mark, and write dates day first with dots:
``02.03.2026 09:00;1,08420;1,08440;1,08350;1,08370;100``. A data file is read in that form
as well as in the usual one, by these rules, so that nothing is ever guessed at:

- the **separator** is ``,``, ``;`` or a tab: the first of these that splits the header
  into all of ``open,high,low,close,volume`` (a header quoted for one separator,
  ``"open";"high"``, is no CSV line for the others: those are passed over);
- a **decimal comma** is read only in a ``;`` file, and only when its first data row
  writes one (in a price or the volume); the whole file is then read so, and a number
  with a point in it is refused (``1.084,20``: a thousands separator is never dropped).

Its day-first dates (``DD.MM.YYYY``) are among the time forms of ``timeforms``.
"""

from __future__ import annotations

import csv
from typing import Final

__all__ = ["DELIMITERS", "comma_hint", "decimal_text", "split", "writes_decimal_comma"]

DELIMITERS: Final = (",", ";", "\t")
"""The separators a data file may use, tried on its header in this order."""
COMMA_FILE: Final = ";"
"""The one separator whose files may write decimal commas."""


def split(text: str, delimiter: str) -> list[str]:
    """The cells of one CSV line (raises ``csv.Error`` when it is not one)."""
    return next(csv.reader([text], delimiter=delimiter, strict=True), [])


def writes_decimal_comma(delimiter: str, numbers: list[str]) -> bool:
    """Whether a file writes decimal commas, told by its first data row's ``numbers``."""
    return delimiter == COMMA_FILE and any("," in text for text in numbers)


def decimal_text(text: str) -> str:
    """A decimal-comma file's number with a point; a ``ValueError`` when it has a point."""
    if "." in text:
        raise ValueError(
            "a point in a file written with decimal commas (a thousands separator? "
            "write numbers without one)"
        )
    return text.replace(",", ".")


def comma_hint(text: str) -> str:
    """Why a number with a comma in it was not read, for the error (empty without one)."""
    if "," not in text:
        return ""
    if "." in text:
        return " (a thousands separator? write numbers without one)"
    return " (a decimal comma is read only in a ';' file whose first data row writes one)"
