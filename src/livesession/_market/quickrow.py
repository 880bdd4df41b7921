"""The common row of a data file, checked fast: the values and state ``RowChecker.check`` gives.

A desk's file is mostly one shape of row, hundreds of thousands of times over:
``2026-03-02T09:00:00Z,1.08420,1.08440,1.08350,1.08370,100``. Read the general way, each
cell passes through ``csv``, the missing-value words, the number form's regex, the decimal
mark and the grid's messages before anything is known to be wrong; a year of one-minute bars
took half a minute to open. ``quick_row`` checks such a row with the cells and the values
it returns, nothing else: a line without quotes, split on the separator, whose five values
are plain numbers (ASCII digits and at most one point, 28 characters at most) on the grid,
with a volume a run can take and the prices a bar.

Any other row (a quote, a sign, an exponent, an empty cell, a missing-value word, a price
off the grid, ``high < low``, another symbol) gets None, having changed nothing, and is
checked the general way, which names what is wrong in its own words: the quick path never
refuses a row, so every message stays the general path's. Its time is the general path's
too (``RowChecker.time_of``, which reads the common forms fast: ``TimeColumn.add``).
"""

from __future__ import annotations

import csv
import functools
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from .._domain.decimal import DIGITS
from .csvheader import PRICE_COLUMNS, REQUIRED_COLUMNS

if TYPE_CHECKING:
    from .datafile import RowChecker

__all__ = ["quick_row"]

_PLAIN: Final = rf"(?=[0-9.]{{1,{DIGITS}}}(?:,|\Z))[0-9]+(?:\.[0-9]+)?"
"""A number as most files write every one: digits, and a point with digits after it; no
more than ``DIGITS`` characters (none can then have more digits than a run keeps)."""


def quick_row(
    rows: RowChecker, raw: bytes, index: dict[str, int], line: int
) -> tuple[dict[str, Decimal], int | None] | None:
    """``rows.check`` of the line ``raw`` when it is a common row; else None, nothing changed.

    Only after the first row (which decides the time column's form, the split time and the
    symbol) and in a file whose decimal mark is the point and told (``DecimalMark``).
    """
    if rows.first_row or rows.mark.comma is not False:
        return None
    cells = _cells(rows, raw)
    symbol = rows.symbol_column
    if cells is None or (symbol is not None and cells[rows.names.index(symbol)] != rows.symbol):
        return None
    grid = rows.grid
    texts = [cells[index[column]] for column in REQUIRED_COLUMNS]
    values = _bar(texts, _bar_form(grid.plain_places))
    if values is None or not grid.fits(values, texts, line):
        return None
    return values, rows.time_of(cells, line)


def _bar(texts: list[str], form: re.Pattern[str]) -> dict[str, Decimal] | None:
    """The row's plain numbers by column, when they make a bar a run takes; or None."""
    if form.fullmatch(",".join(texts)) is None:
        return None  # a cell with a ',' of its own makes a sixth part: no match either
    values = dict(zip(REQUIRED_COLUMNS, map(Decimal, texts), strict=True))
    low, high = values["low"], values["high"]
    if not (low <= values["open"] <= high and low <= values["close"] <= high):
        return None  # high < low too
    # A plain volume of 28 characters at most is 0, or from 1E-26 to below 1E+28: one a
    # run takes (``volume_problem`` has nothing to say of it).
    return values


@functools.lru_cache(maxsize=32)
def _bar_form(places: int | None) -> re.Pattern[str]:
    """A bar's five values joined by commas, each plain; its prices of ``places`` at most."""
    price = _PLAIN
    if places is not None:
        fraction = rf"(?:\.[0-9]{{1,{places}}})?" if places else ""
        price = rf"(?=[0-9.]{{1,{DIGITS}}}(?:,|\Z))[0-9]+{fraction}"
    return re.compile(",".join([price] * len(PRICE_COLUMNS) + [_PLAIN]))


def _cells(rows: RowChecker, raw: bytes) -> list[str] | None:
    """The stripped cells of ``raw`` as ``csv`` splits them, when a split tells them; or None."""
    if len(raw) > csv.field_size_limit():  # a longer cell is csv's error
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.removesuffix("\n").removesuffix("\r")
    if '"' in text or "\r" in text or "\x00" in text:
        return None  # what csv reads otherwise than a split: a quote, a CR in the line, NUL
    cells = text.split(rows.delimiter)
    if len(cells) != len(rows.names):
        return None
    return cells if len(text.split()) == 1 else [cell.strip() for cell in cells]  # no space
