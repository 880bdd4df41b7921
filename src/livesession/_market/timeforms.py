"""The times a data file may write in its time column, each read as nanoseconds (UTC).

- an **ISO 8601** date or time (``2026-03-02``, ``2026-03-02T09:00:00+01:00``; without an
  offset it is UTC; a fraction of a second to the nanosecond, 9 digits at most; the ``T``
  and ``Z`` in lower case too, as RFC 3339 allows: ``2026-03-02t09:00:00z``), or eight
  digits, a compact date (``20260302``);
- a **day-first date** ``DD.MM.YYYY``, alone (midnight) or with ``HH:MM`` or ``HH:MM:SS``
  after a space, as spreadsheets set to much of Europe's conventions write it: UTC; and
  the year-first ``YYYY.MM.DD`` MetaTrader writes, likewise;
- an **epoch number**, its unit told by its magnitude (``epoch_unit``), with a fraction
  to the nanosecond at most (9 places in seconds, 6 in milliseconds: ``timecolumn``).

A time split in a date and a time-of-day column (``2026-03-02,09:00``, as MetaTrader and
many FX exports write it) is read as the two joined by a space (``time_text``).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Final

from .._domain import clock as _clock
from .._domain.clock import epoch_ns, ordinal_hint
from .._domain.decimal import finite_decimal
from .._support.numbertext import is_number_text

__all__ = [
    "NANO_DIGITS",
    "calendar_problem",
    "dotted_ns",
    "epoch_unit",
    "finite_number",
    "form_hint",
    "fraction_digits",
    "is_time_of_day",
    "iso_ns",
    "spaces_hint",
    "text_ns",
    "time_text",
    "unread_time",
    "utc_offset",
]

# ASCII digits only (re.ASCII): full-width digits make no date, as they make no number.
# A spreadsheet set to German may write the day, the month and the hour with one digit
# (``2.3.2026 9:00``) and a fraction of a second after a comma (``09:00:00,500``).
_CLOCK: Final = r"(?: (?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
_DOTTED: Final = re.compile(r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})" + _CLOCK, re.ASCII)
_YEAR_DOTTED: Final = re.compile(r"(?P<y>\d{4})\.(?P<m>\d{2})\.(?P<d>\d{2})" + _CLOCK, re.ASCII)


_TIME_OF_DAY: Final = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?", re.ASCII
)


def is_time_of_day(text: str) -> bool:
    """Whether ``text`` is a time of day alone (``09:00``, ``09:00:30.5``).

    With its UTC offset, if it writes one (``09:00:00+01:00``, ``09:00Z``): the date and the
    time joined are then that moment, as one column writing ``2026-03-02 09:00:00+01:00``.
    """
    return _TIME_OF_DAY.fullmatch(text) is not None


def time_text(cells: list[str], time_index: int, day_index: int | None) -> str:
    """A row's time as one text: a time split in a date and a time column is joined.

    A time of day written with a one-digit hour (``9:00``) is joined as ``09:00``.
    """
    text = cells[time_index].strip()
    if day_index is None:
        return text
    return f"{cells[day_index].strip()} {'0' if text[1:2] == ':' else ''}{text}"


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
NANO_DIGITS: Final = 9
"""The most digits a time's fraction of a second may have: a run's times are nanoseconds."""
_MICRO_DIGITS: Final = 6
_FINE_FRACTION: Final = re.compile(r"(?<=\d\d)[.,](\d{7,})(?!\d)", re.ASCII)
"""A fraction of a second finer than the microsecond, which ``datetime`` would cut off."""


def fraction_digits(text: str) -> int:
    """The digits of the finest fraction of a second ``text`` writes beyond 6 (0: none)."""
    found = _FINE_FRACTION.search(text)
    return 0 if found is None else len(found.group(1))


_LOWER_T: Final = re.compile(r"(?<=\d)t(?=\d)", re.ASCII)
_LOWER_Z: Final = re.compile(r"(?<=\d)z$", re.ASCII)


def _upper_tz(text: str) -> str:
    """``text`` with a lower-case ``t`` between date and time, and ``z`` ending it, upper case.

    RFC 3339 allows ``2026-03-02t09:00:00z``; ``datetime.fromisoformat`` refuses the ``z``.
    Nothing else is changed: another letter is no more read than before.
    """
    if "t" not in text and "z" not in text:
        return text
    return _LOWER_Z.sub("Z", _LOWER_T.sub("T", text))


def iso_ns(text: str) -> int | None:
    """Nanoseconds since the epoch of an ISO 8601 date or time (naive: UTC), or None.

    A value of digits alone is an epoch number, not ISO 8601's basic form (which Python
    would read ``1772834340000``, epoch milliseconds, as a day in 1772), except eight digits:
    ``20261127``, a compact date. A fraction of a second is read to the nanosecond
    (``datetime`` holds microseconds: the digits after the sixth are added here, never cut
    off, so ``.123456789`` and ``.123456790`` are two times); more than 9 digits: None.
    """
    if text.isdigit() and len(text) != _COMPACT_DATE_DIGITS:
        return None
    text = _upper_tz(text)
    nanos = 0
    fine = _FINE_FRACTION.search(text)
    if fine is not None:
        digits = fine.group(1)
        if len(digits) > NANO_DIGITS:
            return None
        nanos = int(digits[_MICRO_DIGITS:].ljust(NANO_DIGITS - _MICRO_DIGITS, "0"))
        text = text[: fine.start(1) + _MICRO_DIGITS] + text[fine.end(1) :]
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return epoch_ns(when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)) + nanos


def utc_offset(text: str) -> str | None:
    """The UTC offset an ISO 8601 time writes (``+01:00``; ``Z``, ``z`` are ``+00:00``), or None.

    None for a time without one (UTC by the rules above) and for text of any other form.
    """
    try:
        when = dt.datetime.fromisoformat(
            _FINE_FRACTION.sub(lambda m: m.group()[:7], _upper_tz(text))
        )
    except ValueError:
        return None
    offset = when.utcoffset()
    if offset is None:
        return None
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def text_ns(text: str) -> int | None:
    """An ISO 8601 date or time, or a day-first ``DD.MM.YYYY`` one, in nanoseconds."""
    when = iso_ns(text)
    return dotted_ns(text) if when is None else when


_LOOKS_DATED: Final = re.compile(
    r"\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|(?<![\d.:])\d{1,2}:\d{2}(?!\d)",
    re.ASCII,
)
"""A date (``2026-03-02``, ``3/2/2026``, ``02.03.2026``) or a clock time (``9:00``) within a
text, in a form this module may not read (``3/2/2026 9:00 AM``)."""


_TIME_WORDS: Final = ("ts", "unix", "epoch")
"""Names of epoch times that end in no word below (CryptoDataDownload's ``unix``)."""


def _names_a_time(name: str) -> bool:
    """Whether a column's name says it holds times (``Gmt time``, ``Open time``, ``TradeDate``).

    A word ending in ``time``, ``date``, ``stamp`` (``timestamp_ms``) or ``start`` (Polygon's
    ``window_start``), or one of ``_TIME_WORDS`` (Databento's ``ts_event``).
    """
    return any(
        word.endswith(("time", "date", "stamp", "start")) or word in _TIME_WORDS
        for word in re.findall(r"[a-z]+", name.lower())
    )


def unread_time(name: str, text: str) -> bool:
    """Whether the cell ``text`` of a column ``name``, not the bars' time, holds a time.

    A time in any form read here, or a date or clock time in another (Dukascopy's
    ``02.03.2026 09:00:00.000 GMT+0100``, a US ``3/2/2026 9:00``), or any value under a
    name that says it holds times (``Open time``'s epoch milliseconds): a number under
    another name is no time (an id, a count).
    """
    if not text:
        return False
    if finite_number(text) is not None:
        return _names_a_time(name)
    return text_ns(text) is not None or _LOOKS_DATED.search(text) is not None or _names_a_time(name)


def finite_number(text: str) -> Decimal | None:
    """``text`` as a finite decimal number written as a data file may (``csvforms``), or None."""
    # 1_772_442_000, full-width digits: Decimal reads them; is_number_text refuses them.
    return finite_decimal(text) if is_number_text(text) else None


def calendar_problem(text: str) -> str:
    """Why a time written in a form read here names no moment ("" when it is no such form).

    ``2027-02-29`` (no leap year), ``24:00``, a leap second's ``23:59:60``: each is the
    file's form with a value no calendar or clock has, which is what to say, not "not a
    date or time like the first row's" (``clock.calendar_problem``).
    """
    return _clock.calendar_problem(text, leap_fix="write 23:59:59 or drop the row")


def dotted_ns(text: str) -> int | None:
    """Nanoseconds since the epoch of a dotted date and optional time (UTC), or None.

    ``DD.MM.YYYY[ HH:MM[:SS[.fff]]]``, or the year-first ``YYYY.MM.DD[ HH:MM[:SS[.fff]]]``
    MetaTrader writes; a fraction of a second (``09:00:00.000``, as Dukascopy's exports
    write it, or ``09:00:00,000``) to the nanosecond, 9 digits at most. The day, the month
    and the hour may have one digit (``2.3.2026 9:00``).
    """
    found = _DOTTED.fullmatch(text) or _YEAR_DOTTED.fullmatch(text)
    if found is None:
        return None
    fraction = found.group("f") or ""
    parts = {key: int(value or 0) for key, value in found.groupdict().items() if key != "f"}
    try:
        when = dt.datetime(
            parts["y"], parts["m"], parts["d"], parts["H"], parts["M"], parts["S"], tzinfo=dt.UTC
        )
    except ValueError:
        return None
    return epoch_ns(when) + int(fraction.ljust(NANO_DIGITS, "0"))


_DOTTED_AT_OFFSET: Final = re.compile(
    r"\d{1,4}\.\d{1,2}\.\d{1,4} \d{1,2}:\d\d(?::\d\d(?:[.,]\d+)?)? ?(?:[Zz]|[+-]\d\d(?::?\d\d)?)",
    re.ASCII,
)
_SLASHED: Final = re.compile(r"\d{1,4}/\d{1,2}/\d{1,4}\b", re.ASCII)
_TWELVE_HOUR: Final = re.compile(r"\d:\d\d(?::\d\d(?:[.,]\d+)?)? ?[AaPp]\.?[Mm]\.?$", re.ASCII)
_ZONE_NAME: Final = re.compile(r"\d:\d\d(?::\d\d(?:[.,]\d+)?)? ?([A-Z]{2,5})$", re.ASCII)


_SPACE_RUN: Final = re.compile(r" {2,}")
"""Spaces in a row in a time, which the CLI's one-line error shows as one."""


def spaces_hint(text: str) -> str:
    """Spaces in a row in a time, said with the fix; or "".

    ``20260302  14:30:00``, as Interactive Brokers writes its bars' times. The error's one
    line shows them as one space, so the value it quoted read as a time a file may write
    (``20260302 14:30:00`` is read), and the user saw nothing wrong with it.
    """
    spaces = _SPACE_RUN.search(text)
    if spaces is None:
        return ""
    return (
        f": {len(spaces.group())} spaces in a row (this line shows them as one; Interactive "
        "Brokers' bars write two): write one space between the date and the time "
        "(tr -s ' ' < in.csv > out.csv)"
    )


def form_hint(text: str) -> str:
    """Why a date or time a desk's tools write is not read, and how to write it; or "".

    A dotted date with an offset (``02.03.2026 09:00+01:00``: dotted times are UTC), a
    date with slashes (``03/02/2026``: March 2 in a US export, 2 March in a European
    one, so neither is guessed), a 12-hour clock (``9:00 AM``) and a zone's name in
    place of its offset (``09:00:00 EST``, ``UTC``: a name says nothing of summer time),
    and an ordinal date (``2026-060``: ``ordinal_hint``).
    """
    if _DOTTED_AT_OFFSET.fullmatch(text):
        return (
            ": a dotted date with a UTC offset, which is not read (dotted times are UTC): "
            "write the date yyyy-mm-dd to keep the offset (2026-03-02 09:00+01:00)"
        )
    if _TWELVE_HOUR.search(text):
        return ": a 12-hour clock (AM/PM): write the time on the 24-hour clock (13:00:00)"
    zone = _ZONE_NAME.search(text)
    if zone is not None:
        name = zone.group(1)
        if name.upper() in {"UTC", "GMT", "Z"}:
            return f": a zone's name ({name}) is not read: write UTC as Z or +00:00, or drop it"
        return (
            f": a zone's name ({name}) is not read: write its UTC offset (-05:00), which "
            "tells summer time from winter time"
        )
    if _SLASHED.match(text):
        return (
            ": a date written with slashes, which US and European exports order differently "
            "(month or day first), so it is not guessed: write it yyyy-mm-dd"
        )
    return ordinal_hint(text)
