"""A data file's time column: its times read in one form, in a run's range, increasing.

The first row decides the form (ISO 8601 text, or an epoch number of the unit its magnitude
tells: ``timeforms``); every time must lie where a run's time can (``timerange``: from
1970-01-01T00:00:00Z to 2262-04-11T23:47:16Z) and increase strictly.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import IO, TYPE_CHECKING, Final

from .._domain.clock import format_utc, from_epoch_ns
from .._domain.timerange import RANGE_NOTE, outside
from .._support.numbertext import digits_hint
from .datafail import fail
from .joins import same_time_twice
from .summerzone import offsets_example
from .timeforms import (
    NANO_DIGITS,
    calendar_problem,
    dotted_ns,
    epoch_unit,
    finite_number,
    form_hint,
    fraction_digits,
    spaces_hint,
    text_ns,
    utc_offset,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from decimal import Decimal
    from pathlib import Path

__all__ = ["UNNAMED_TIME", "TimeColumn", "last_line"]

_FIRST_DAYS: Final = 1_000_000
"""A first epoch time below this (1970-01-12T13:46:40Z) is no market's: what else it is."""
_NO_MOMENT: Final = (
    "an epoch time in seconds in 1970's first days (below 1000000): a spreadsheet's date "
    "serial (45292 is 2024-01-01), a time of day written HHMMSS (093000) or a row number? "
    "Write the column as dates and times (yyyy-mm-dd hh:mm:ss), or the bars' epoch times"
)

UNNAMED_TIME: Final = "#1"
"""How an unnamed first column (the dates of a pandas export) is named in messages."""
_ROW_INDEX: Final = (
    "a number in an unnamed first column: pandas writes its row index so (to_csv or "
    "to_parquet without index=False), and a time index as dates and times; drop the column "
    "(index=False) to play the bars on the session's grid, or name it timestamp if it holds "
    "epoch times"
)


class TimeColumn:
    """Strictly increasing times in one column: ISO 8601 dates and times, or epoch numbers."""

    def __init__(self, path: Path, column: str) -> None:
        self.path = path
        self.column = column
        self.scale: int | None = None  # ns per epoch unit; 0: ISO text (the first row decides)
        self.unit = ""  # the epoch unit's name ("seconds"), when the first row is a number
        self.last: int | None = None
        self.last_text = ""
        self.last_line = 0
        self.first_text: str | None = None
        self.first_ns: int | None = None
        self.last_row: Callable[[], int | None] | None = None
        """The time of the file's last row, when the file can tell it (for the hint)."""
        self.last_cells: Sequence[str] = ()  # the row before's cells (for the hint)
        self.offset_at: tuple[int, str] | None = None  # the first time at an offset not UTC's
        self.naive_at: int | None = None  # the line of the first text time without an offset
        self.out_of_order = _OUT_OF_ORDER  # what to do; none as a run plays the file again

    def replaying(self) -> TimeColumn:
        """This column with no time seen yet, in the form its first row fixed.

        A feed plays the rows this column passed and checks them again.
        """
        again = TimeColumn(self.path, self.column)
        again.scale, again.unit, again.out_of_order = self.scale, self.unit, ""
        return again

    def parse(self, text: str, line: int) -> int:
        """``text`` in nanoseconds since the epoch, in the form of the file's first time."""
        first = self.scale is None
        if self.scale is None:
            number = finite_number(text) if text_ns(text) is None else None
            if number is not None and self.column == UNNAMED_TIME:  # 0, 1, 2: not 1970
                raise fail(self.path, line, self.column, text, _ROW_INDEX)
            if number is not None and 0 <= number < _FIRST_DAYS:  # 45292, 093000: not 1970
                raise fail(self.path, line, self.column, text, _NO_MOMENT)
            self.scale, self.unit = (0, "") if number is None else epoch_unit(number)
        if self.scale:
            number = finite_number(text)
            if number is not None:
                self._same_unit(number, text, line)
                return self._epoch_ns(number, text, line)
            form = "an epoch number like the first row's"
        else:
            when = text_ns(text)
            if when is not None:
                self._one_zone(text, line, when)
                return when
            digits = fraction_digits(text)
            if digits > NANO_DIGITS:
                raise fail(
                    self.path, line, self.column, text,
                    f"a fraction of a second of {digits} digits: a run records times to the "
                    f"nanosecond ({NANO_DIGITS} digits at most); write the times to it",
                )  # fmt: skip
            form = (
                "a date or time (ISO 8601, or DD.MM.YYYY) nor an epoch number"
                if first
                else "a date or time like the first row's"
            )
        impossible = "" if self.scale else calendar_problem(text)
        hint = digits_hint(text) or spaces_hint(text) or form_hint(text)
        why = f": {impossible}" if impossible else hint
        raise fail(self.path, line, self.column, text, f"not {form}{why}")

    def _one_zone(self, text: str, line: int, when: int) -> None:
        """Refuse a file that writes some times at a UTC offset (not UTC's) and some without.

        A time without an offset is UTC; beside times at ``+01:00`` it is more likely that
        zone's clock with the offset left off (two exports joined, a writer that drops it),
        and read as UTC it would play an hour off without a word.
        """
        found = _OFFSET.search(text)
        if found is None:
            if self.naive_at is None:
                self.naive_at = line
            if self.offset_at is None:
                return
            where, offset = self.offset_at
            why = (
                f"a time without a UTC offset, in a file whose line {where} writes its time at "
                f"{offset}: read as UTC it is {_utc(when)}, but it may be that offset's clock"
            )
        else:
            offset = found.group(1)
            if offset.strip("Zz+-:0") == "":
                return  # UTC's own offset: the same time as without one
            if self.offset_at is None:
                self.offset_at = (line, offset)
            if self.naive_at is None:
                return
            why = (
                f"a time at UTC offset {offset}, in a file whose line {self.naive_at} writes "
                "its time without one (read as UTC)"
            )
        raise fail(
            self.path, line, self.column, text,
            f"{why}: write every time with its offset, or every time in UTC",
        )  # fmt: skip

    def _epoch_ns(self, number: Decimal, text: str, line: int) -> int:
        """An epoch number in nanoseconds; one written finer than the nanosecond is refused.

        As an ISO time's fraction is (9 digits of a second at most): 6 decimal places in
        milliseconds, 3 in microseconds, none in nanoseconds. Rounded, two times a file
        tells apart would be one (``.1234567891`` and ``.1234567892``), or a time it never
        had.
        """
        scale = self.scale or 1
        exponent = number.as_tuple().exponent
        written = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        most = len(str(scale)) - 1  # the places of a nanosecond in this unit
        if written > most:
            raise fail(self.path, line, self.column, text, _too_fine(written, most, self.unit))
        return int(number * scale)

    def _same_unit(self, number: Decimal, text: str, line: int) -> None:
        """Refuse an epoch number whose magnitude tells another unit than the first row's.

        Read in the first row's unit it would lie outside a run's times, or before the rows
        before it (``1772442180000``, milliseconds, read as seconds is some 56,000 years
        on): the unit that changed is what to say, not "a time after 2262".
        """
        scale, unit = epoch_unit(number)
        if scale != self.scale:
            raise fail(
                self.path, line, self.column, text,
                f"an epoch time in {unit} ({len(str(abs(int(number))))} digits) in a file of "
                f"{self.unit} (the first row's unit): write every time in one unit",
            )  # fmt: skip

    def add(self, text: str, line: int, cells: Sequence[str] = ()) -> int:
        """``parse``, checked: within a run's range, and later than the row before.

        ``cells``: the whole row, told apart from the row before when the time repeats.
        """
        when = self._common(text)
        if when is None:
            when = self.parse(text, line)
        problem = outside(when)
        if problem is not None:
            raise fail(
                self.path, line, self.column, text,
                f"a time {problem}: {RANGE_NOTE}; drop the rows outside that range",
            )  # fmt: skip
        if self.last is not None and not when > self.last:
            why = f"time does not increase (line {self.last_line} has {self.last_text})"
            hint = self._going_back(text, when, cells)
            raise fail(self.path, line, self.column, text, why + hint)
        if self.first_text is None:
            self.first_text, self.first_ns = text, when
        self.last, self.last_text, self.last_line, self.last_cells = when, text, line, cells
        return when

    def _common(self, text: str) -> int | None:
        """``parse`` of a time in the form most files write every one, or None (read it so).

        After the first row: an epoch number of digits alone in the first row's unit, or
        ISO 8601 to the second (a fraction of 6 digits at most) in UTC (``Z``), or without
        an offset once the file writes none (``_one_zone`` has nothing to say of either):
        ``iso_ns``'s own reading, without what it does to other forms first.
        """
        if self.scale:
            return _epoch_digits(text, self.scale)
        if (
            self.scale is None
            or self.offset_at is not None
            or not _ISO_SHORTEST <= len(text) <= _ISO_LONGEST - (text[-1:] != "Z")
            or text[10] not in "T "
            or text[13] != ":"
            or text[16] != ":"
            or "t" in text
            or "z" in text
        ):
            return None
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        if when.tzinfo is None:
            return None if self.naive_at is None else (when - _NAIVE_EPOCH) // _MICRO * 1_000
        return (when - _EPOCH) // _MICRO * 1_000 if text[-1] == "Z" else None

    def _going_back(self, text: str, when: int, cells: Sequence[str]) -> str:
        """Why a time may not increase, when the file tells: the hint after the refusal.

        A repeated time is a duplicated row; but on a row that differs, in local clock times
        without an offset, it may be the hour repeated as summer time ends (hourly bars:
        ``01:00`` EDT, then ``01:00`` EST). Times written at different UTC offsets
        (``09:00:00Z``, then ``09:01:00+01:00``: 08:01 UTC; or ``10:00:00+01:00``, the same
        moment, which is no duplicated row) say so, and so do times at one offset going back
        as an hour repeats (``_offset_kept``). The second row going
        back is a file newest first only when its last row is earlier than its first.
        Times without an offset going back half an hour to an hour are local times at the
        end of summer time, maybe (``_clock_set_back``).
        """
        offsets = utc_offset(self.last_text), utc_offset(text)
        local = offsets == (None, None) and self.scale == 0
        said = self._offsets_said(offsets, when) or self._offset_kept(text, when, cells)
        if said:
            return said
        if when == self.last:
            if not (local and cells != self.last_cells and _CLOCK_TIME.search(text)):
                same = list(cells) == list(self.last_cells)
                return same_time_twice(same, self.last_line, fix=bool(self.out_of_order))
            return (
                ": the same time twice, on rows that differ: a bar written twice, or "
                + _summer_time(text, self.last, when)
            )
        if self._newest_first():
            return ": the file runs newest first; sort it oldest first"
        if local and _clock_set_back(self.last or 0, when, self.scale):
            return f": {_summer_time(text, self.last or 0, when)}"
        return self.out_of_order

    def _offsets_said(self, offsets: tuple[str | None, str | None], when: int) -> str:
        """The hint for two times at different UTC offsets (``_going_back``), else ""."""
        if None in offsets or offsets[0] == offsets[1]:
            return ""
        at = f"different UTC offsets ({offsets[0]} on line {self.last_line}, {offsets[1]} here"
        said = (
            f"the same moment written at {at}: both are {_utc(when)})"
            if when == self.last
            else f"the times are written at {at}), so this one is {_utc(when)}, before "
            f"{_utc(self.last or 0)}"
        )
        return f": {said}; write every time at one offset (UTC, say)"

    def _offset_kept(self, text: str, when: int, cells: Sequence[str]) -> str:
        """The summer time hint for times at one UTC offset (not UTC's), else "".

        The second ``02:00:00+02:00`` of hourly bars (rows that differ), or a time going back
        half an hour to an hour, at the offset of the row before it (``_going_back``).
        """
        offset, last = utc_offset(text), self.last or 0
        if offset in (None, "+00:00") or offset != utc_offset(self.last_text) or self.scale:
            return ""
        repeated = when == last and cells != self.last_cells and _CLOCK_TIME.search(text)
        if not (repeated or _clock_set_back(last, when, self.scale)):
            return ""
        return f": {_offset_kept(text, offset or '', last, when)}"

    def _newest_first(self) -> bool:
        """At the second row, going back: whether the file's last row is before its first."""
        first = self.first_ns
        if first is None or self.last != first or self.last_row is None:
            return False  # not the second row (a row out of place later), or no last row to read
        last_row = self.last_row()
        return last_row is not None and last_row < first


def _epoch_digits(text: str, scale: int) -> int | None:
    """An epoch number of ASCII digits alone, in nanoseconds, when it is in the unit ``scale``."""
    if not (text.isascii() and text.isdigit()) or len(text) > _EPOCH_DIGITS:
        return None
    number = int(text)
    unit = next((ns for bound, ns in _EPOCH_BOUNDS if number < bound), 1)
    return number * scale if unit == scale else None


_ISO_SHORTEST: Final = len("2026-03-02T09:00:00")
_ISO_LONGEST: Final = len("2026-03-02T09:00:00.123456Z")
"""The common ISO times' lengths (a naive one a character shorter): none has room for a
fraction finer than the microsecond, which ``iso_ns`` reads apart."""
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NAIVE_EPOCH: Final = dt.datetime(1970, 1, 1)  # noqa: DTZ001 - a naive time is UTC's
_MICRO: Final = dt.timedelta(microseconds=1)
_EPOCH_DIGITS: Final = 19
_EPOCH_BOUNDS: Final = ((10**11, 1_000_000_000), (10**14, 1_000_000), (10**17, 1_000))
"""``timeforms.epoch_unit``'s bounds, on integers."""


_OFFSET: Final = re.compile(r"\d:\d\d(?::\d\d(?:[.,]\d+)?)? ?([Zz]|[+-]\d\d(?::?\d\d)?)$", re.ASCII)
"""The UTC offset a text time writes after its clock time (``Z``, ``z``, ``+01:00``, ``-0500``)."""
_HOUR_NS: Final = 3_600 * 1_000_000_000
_CLOCK_TIME: Final = re.compile(r"\d:\d\d", re.ASCII)
"""A clock time within a text time (a date alone has none: its day cannot repeat so)."""
_OUT_OF_ORDER: Final = (
    ": a row out of place, or a time mistyped? Sort the rows by time, oldest first, or "
    "correct the row"
)
_SUMMER_TIME: Final = (
    "local times written without a UTC offset, as summer time ends and an hour repeats? A "
    "time without an offset is UTC: write the times in UTC, or with their offsets "
)


def _summer_time(text: str, last: int, when: int) -> str:
    """The summer time hint for a time ``text`` (at ``when``) going back from ``last``.

    A dotted date takes no UTC offset (``timeforms.form_hint``), so its file is told to
    write its dates ``yyyy-mm-dd`` to write the offsets, with its own two times as the
    example, at Central European time's (a dotted date is a European spreadsheet's). Other
    times are given offsets that fit the day and hour that repeats (``offsets_example``).
    """
    if dotted_ns(text) is None:
        return f"{_SUMMER_TIME}({offsets_example(from_epoch_ns(when))})"
    return (
        "local times written without a UTC offset, as summer time ends and an hour repeats? "
        "A time without an offset is UTC, and a dotted date takes no offset: write the times "
        "in UTC, or write the dates yyyy-mm-dd and the times with their offsets "
        f"({_local(last)}+02:00, then {_local(when)}+01:00 in Central European time, say)"
    )


def _offset_kept(text: str, offset: str, last: int, when: int) -> str:
    """The hint for times at one UTC offset going back as summer time ends (``_going_back``).

    ``02:59:00+02:00``, then ``02:00:00+02:00``: the hour that repeats written at the summer
    offset still, as a tool that adds one fixed offset to local clock times writes it. Its
    rows are an hour off, and told what the repeated hour's offset is, an hour less.
    """
    minutes = int(offset[1:3]) * 60 + int(offset[4:6])
    minutes = (minutes if offset[0] == "+" else -minutes) - 60
    sign = "-" if minutes < 0 else "+"
    after = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    found = _OFFSET.search(text)
    fixed = text[: found.start(1)] + after if found else f"{_local(when)}{after}"
    said = "the same moment as" if when == last else "before"
    return (
        f"the summer offset kept as summer time ends and an hour repeats? Both rows write "
        f"{offset}, so this one is {_utc(when)}, {said} {_utc(last)}: write the repeated "
        f"hour at the offset after the change ({fixed}, say), or every time in UTC"
    )


def _local(ns: int) -> str:
    """``ns``'s date and clock time, ``2026-10-25 02:30`` (its seconds only when not 0)."""
    text = _utc(ns)[: len("2026-10-25T02:30:00")].replace("T", " ")
    return text.removesuffix(":00")


def _clock_set_back(last: int, when: int, scale: int | None) -> bool:
    """Whether ``when`` goes back from ``last`` by half an hour to an hour, in text times.

    As a local clock's times do when summer time ends (``01:55``, then ``01:00`` again); a
    row a minute out of place is no such thing.
    """
    return scale == 0 and _HOUR_NS // 2 <= last - when <= _HOUR_NS


def _too_fine(written: int, most: int, unit: str) -> str:
    """Why an epoch time of ``written`` decimal places in ``unit`` is finer than a run's."""
    if most == NANO_DIGITS:  # seconds: as an ISO time's fraction is told
        what = f"a fraction of a second of {written} digits"
    else:
        what = f"an epoch time in {unit} with {written} decimal place{'s' * (written != 1)}"
    return (
        f"{what}: a run records times to the nanosecond ({most} places at most in {unit}); "
        "write the times to it"
    )


def _utc(ns: int) -> str:
    return format_utc(from_epoch_ns(ns))


_TAIL: Final = 1 << 16  # bytes read from the end of a file for its last line


def last_line(stream: IO[bytes], end: int | None = None) -> bytes | None:
    """The last non-blank line of the file ``stream`` reads, or None (it cannot seek).

    Read from the file's end, or from ``end`` (the bytes a check reads of a file that may
    have grown since); ``stream`` is left where it was.
    """
    if not stream.seekable():
        return None
    here = stream.tell()
    try:
        stop = stream.seek(0, os.SEEK_END) if end is None else end
        stream.seek(max(0, stop - _TAIL))
        lines = [line for line in stream.read(stop - stream.tell()).splitlines() if line.strip()]
    finally:
        stream.seek(here)
    return lines[-1] if lines else None
