"""A CSV data file's header: its separator, its column names and the required columns' places.

The header is the file's first line. It needs ``open,high,low,close,volume`` in any case,
separated by ``,``, ``;`` or a tab (the first of these that finds them all: ``csvforms``);
other columns are allowed. A file that has no header (empty, a blank first line, Excel's
``sep=;`` line), is compressed, is UTF-16 or is not UTF-8 is refused at line 1, naming why.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, Final

from .csvforms import compressed, cr_line_ends, header_splits, line_too_long, no_header, utf16
from .datafail import fail as _fail

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["PRICE_COLUMNS", "REQUIRED_COLUMNS", "column_index", "not_utf8", "read_header"]

PRICE_COLUMNS: Final = ("open", "high", "low", "close")
REQUIRED_COLUMNS: Final = (*PRICE_COLUMNS, "volume")


def not_utf8(exc: UnicodeDecodeError) -> str:
    return (
        f"not UTF-8 text (byte {exc.start + 1} of the line): save the file as UTF-8 (a "
        'spreadsheet\'s "CSV UTF-8")'
    )


def read_header(path: Path, raw: bytes) -> tuple[str, list[str], dict[str, int]]:
    """The separator, the column names (lower case) and the required columns' places."""
    packed = no_header(raw) or compressed(raw, path.name) or line_too_long(raw) or utf16(raw)
    if packed is not None:
        raise _fail(path, 1, None, None, packed)
    try:
        text = raw.decode("utf-8-sig")
        splits = [(d, [name.strip().lower() for name in cells]) for d, cells in header_splits(text)]
    except UnicodeDecodeError as exc:
        raise _fail(path, 1, None, None, not_utf8(exc)) from None
    except csv.Error as exc:
        problem = cr_line_ends(text) or f"the header is not a CSV line ({exc})"
        raise _fail(path, 1, None, None, problem) from None
    # The first separator that finds every required column (``,`` when none does).
    delimiter, names = next(
        ((d, names) for d, names in splits if set(REQUIRED_COLUMNS) <= set(names)), splits[0]
    )
    separated = ", separated by ',', ';' or a tab"
    return delimiter, names, column_index(path, names, text.strip(), separated)


def column_index(path: Path, names: list[str], shown: str, separated: str = "") -> dict[str, int]:
    """Where each required column is among ``names`` (lower case); ``shown``: the header."""
    for column in REQUIRED_COLUMNS:
        if column not in names:
            raise _fail(
                path, 1, column, shown,
                "the header lacks this column (it needs open, high, low, close and volume, in "
                f"any case{separated})",
            )  # fmt: skip
    for position, name in enumerate(names):
        if name and names.index(name) != position:
            raise _fail(path, 1, name, shown, "the header repeats this column")
    return {column: names.index(column) for column in REQUIRED_COLUMNS}
