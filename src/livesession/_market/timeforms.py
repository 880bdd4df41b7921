"""The times a data file may write in its time column, each read as nanoseconds (UTC).

- an **ISO 8601** date or time (``2026-03-02``, ``2026-03-02T09:00:00+01:00``; without an
  offset it is UTC), or eight digits, a compact date (``20260302``);
- a **day-first date** ``DD.MM.YYYY``, alone (midnight) or with ``HH:MM`` or ``HH:MM:SS``
  after a space, as spreadsheets set to much of Europe's conventions write it: UTC;
- an **epoch number**, its unit told by its magnitude (``epoch_unit``).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Final

from .._domain.clock import epoch_ns

__all__ = ["dotted_ns", "epoch_unit", "finite_number", "iso_ns", "text_ns"]

_DOTTED: Final = re.compile(
    r"(?P<d>\d{2})\.(?P<m>\d{2})\.(?P<y>\d{4})(?: (?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
)


# Epoch numbers are told apart by magnitude: below 1e11 seconds (up to the year 5138),
# below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds.
_EPOCH_UNITS: Final = (
    (Decimal("1e11"), 1_000_000_000, "seconds"),
    (Decimal("1e14"), 1_000_000, "milliseconds"),
    (Decimal("1e17"), 1_000, "microseconds"),
)


def epoch_unit(number: Decimal) -> tuple[int, str]:
    """Nanoseconds per unit, and the unit's name, of an epoch number (by its magnitude)."""
    for bound, scale, name in _EPOCH_UNITS:
        if abs(number) < bound:
            return scale, name
    return 1, "nanoseconds"


_COMPACT_DATE_DIGITS: Final = 8


def iso_ns(text: str) -> int | None:
    """Nanoseconds since the epoch of an ISO 8601 date or time (naive: UTC), or None.

    A value of digits alone is an epoch number, not ISO 8601's basic form (which Python
    would read ``1772834340000``, epoch milliseconds, as a day in 1772), except eight digits:
    ``20261127``, a compact date.
    """
    if text.isdigit() and len(text) != _COMPACT_DATE_DIGITS:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return epoch_ns(when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC))


def text_ns(text: str) -> int | None:
    """An ISO 8601 date or time, or a day-first ``DD.MM.YYYY`` one, in nanoseconds."""
    when = iso_ns(text)
    return dotted_ns(text) if when is None else when


def finite_number(text: str) -> Decimal | None:
    """``text`` as a finite decimal number, or None."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


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
