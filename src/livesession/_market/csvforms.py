"""The forms a spreadsheet's CSV export takes: its separator, decimal mark and dates.

Spreadsheets set to much of Europe's conventions export CSV with ``;`` between cells,
because the comma is their decimal mark, and write dates day first with dots:
``02.03.2026 09:00;1,08420;1,08440;1,08350;1,08370;100``. A data file is read in that form
as well as in the usual one, by these rules, so that nothing is ever guessed at:

- the **separator** is ``,``, ``;`` or a tab: the first of these that splits the header
  into all of ``open,high,low,close,volume``;
- a **decimal comma** is read only in a ``;`` file, and only when its first data row
  writes one (in a price or the volume); the whole file is then read so, and a number
  with a point in it is refused (``1.084,20``: a thousands separator is never dropped);
- a **date** ``DD.MM.YYYY``, alone (midnight) or with ``HH:MM`` or ``HH:MM:SS`` after a
  space, is UTC, like an ISO 8601 time without an offset.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from typing import Final

from .._domain.clock import epoch_ns

__all__ = ["DELIMITERS", "decimal_text", "dotted_ns", "split", "writes_decimal_comma"]

DELIMITERS: Final = (",", ";", "\t")
"""The separators a data file may use, tried on its header in this order."""
COMMA_FILE: Final = ";"
"""The one separator whose files may write decimal commas."""
_DOTTED: Final = re.compile(
    r"(?P<d>\d{2})\.(?P<m>\d{2})\.(?P<y>\d{4})(?: (?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
)


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


def dotted_ns(text: str) -> int | None:
    """Nanoseconds since the epoch of ``DD.MM.YYYY[ HH:MM[:SS]]`` (UTC), or None."""
    found = _DOTTED.fullmatch(text)
    if found is None:
        return None
    parts = {key: int(value or 0) for key, value in found.groupdict().items()}
    try:
        when = dt.datetime(
            parts["y"], parts["m"], parts["d"], parts["H"], parts["M"], parts["S"], tzinfo=dt.UTC
        )
    except ValueError:
        return None
    return epoch_ns(when)
