"""Clocks: the only module that reads time.

A clock answers ``now()`` (an aware UTC ``datetime``, stamped into ``ts_utc``) and
``monotonic_ns()``. Simulated time (``ts_sim``) belongs to the session, which advances a
``SimClock`` by one step interval per step.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import time
from typing import TYPE_CHECKING, Final

from .._support.references import a_

if TYPE_CHECKING:
    from .._typing import Clock

__all__ = [
    "FixedClock",
    "SimClock",
    "SystemClock",
    "UtcText",
    "aware_now",
    "calendar_problem",
    "epoch_ns",
    "epoch_us",
    "format_utc",
    "format_utc_ns",
    "from_epoch_ns",
    "ordinal_hint",
    "parse_utc",
    "parse_utc_ns",
    "reading_problem",
]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_US_PER_DAY = 86_400_000_000
_SHOWN: Final = 60
"""How much of a bad clock reading's ``repr`` a message quotes."""


def format_utc(moment: dt.datetime) -> str:
    """RFC 3339 UTC with ``Z`` and whole seconds (microseconds only when present)."""
    if moment.tzinfo is None:
        msg = "clock returned a naive datetime: clocks must return timezone-aware UTC times"
        raise ValueError(msg)
    utc = moment if moment.tzinfo is dt.UTC else moment.astimezone(dt.UTC)
    # isoformat gives the same text as the strftime patterns, several times faster.
    return utc.replace(tzinfo=None).isoformat() + "Z"


def epoch_us(moment: dt.datetime) -> int:
    """Microseconds since the Unix epoch of an aware ``moment`` (datetimes hold no finer)."""
    if moment.tzinfo is None:
        msg = "clock returned a naive datetime: clocks must return timezone-aware UTC times"
        raise ValueError(msg)
    return (moment - _EPOCH) // _MICROSECOND


def reading_problem(moment: object) -> str:
    """What is wrong with ``moment`` as a clock's reading: "" for a timezone-aware datetime.

    The message names what the clock returned, so a host's clock that forgot its ``tzinfo``
    (or returns a string) is told apart from any other error.
    """
    must = "a clock must return a timezone-aware UTC datetime (tzinfo=datetime.UTC)"
    if not isinstance(moment, dt.datetime):
        shown = repr(moment)
        shown = shown if len(shown) <= _SHOWN else shown[: _SHOWN - 3] + "..."
        return f"the clock's now() returned {a_(type(moment).__name__)} ({shown}): {must}"
    if moment.tzinfo is None or moment.utcoffset() is None:
        return f"the clock's now() returned a naive datetime ({moment.isoformat()}): {must}"
    return ""


def aware_now(clock: Clock) -> dt.datetime:
    """``clock.now()``; ``ValueError`` saying what it returned unless an aware datetime."""
    moment = clock.now()
    problem = reading_problem(moment)
    if problem:
        raise ValueError(problem)
    return moment


class UtcText:
    """``format_utc`` of the moment ``epoch_us`` microseconds after the epoch: the same text.

    A session stamps every step, and steps mostly share a day, so the date part is
    formatted once per day, and the time of day is put together from two small tables
    (``HH:MM`` of each minute of a day, ``:SSZ`` of each second).
    """

    __slots__ = ("_day", "_prefix")

    def __init__(self) -> None:
        self._day: int | None = None
        self._prefix = ""

    def __call__(self, epoch_us: int) -> str:
        day, of_day = divmod(epoch_us, _US_PER_DAY)
        if day != self._day:
            self._prefix = (_EPOCH + dt.timedelta(days=day)).date().isoformat() + "T"
            self._day = day
        seconds, micros = divmod(of_day, 1_000_000)
        minute, second = divmod(seconds, 60)
        if micros:
            return "%s%s:%02d.%06dZ" % (self._prefix, _HH_MM[minute], second, micros)  # noqa: UP031
        return self._prefix + _HH_MM[minute] + _SECONDS_Z[second]


_HH_MM: Final = tuple(f"{minute // 60:02d}:{minute % 60:02d}" for minute in range(1440))
_SECONDS_Z: Final = tuple(f":{second:02d}Z" for second in range(60))


_ORDINAL: Final = re.compile(r"(?P<y>\d{4})-(?P<d>\d{3})(?=$|[Tt ])", re.ASCII)


def ordinal_hint(text: str) -> str:
    """Why an ISO 8601 ordinal date (``2026-060``, day 60 of 2026) is not read, and its date.

    Python's ``fromisoformat`` reads no ordinal date, so it was refused as "not a date"
    alone. "" when ``text`` is no ordinal date.
    """
    found = _ORDINAL.match(text)
    if found is None:
        return ""
    year, day = int(found["y"]), int(found["d"])
    said = f": an ordinal date (day {day} of {year}), which is not read: write it yyyy-mm-dd"
    days = 366 if calendar.isleap(year) else 365
    if not year or not 1 <= day <= days:
        return f"{said} ({year} has {days} days)" if year else said
    date = dt.date(year, 1, 1) + dt.timedelta(days=day - 1)
    return f"{said} ({date.isoformat()}{text[found.end() :]})"


_CALENDAR: Final = re.compile(
    r"(?:(?P<y>\d{4})(?P<sep>[-.])(?P<m>\d{2})(?P=sep)(?P<d>\d{2})"
    r"|(?P<d2>\d{2})\.(?P<m2>\d{2})\.(?P<y2>\d{4}))"
    r"(?:[Tt ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?",
    re.ASCII,
)
"""A date and clock time in a form a config or a data file writes, whatever its fields' values."""


def calendar_problem(text: str, *, leap_fix: str) -> str:
    """Why a time written in a form read here names no moment ("" when it is no such form).

    ``2027-02-29`` (no leap year), ``24:00``, a leap second's ``23:59:60`` (``leap_fix``
    says what to write instead): each is the form with a value no calendar or clock has,
    which is what to say, not that the form is wrong.
    """
    found = _CALENDAR.match(text)
    if found is None:
        return ""
    year, month, day = (int(found["y"] or found["y2"]), int(found["m"] or found["m2"]),
                        int(found["d"] or found["d2"]))  # fmt: skip
    hour, minute, second = (int(found[key] or 0) for key in ("H", "M", "S"))
    return _date_problem(year, month, day) or _clock_problem(hour, minute, second, leap_fix)


def _date_problem(year: int, month: int, day: int) -> str:
    if not 1 <= month <= 12:  # noqa: PLR2004 - the months of a year
        return f"no month {month} (months are 01 to 12): is the date written day first?"
    days = calendar.monthrange(year, month)[1]
    if 1 <= day <= days:
        return ""
    leap = f": {year} is no leap year" if (month, day) == (2, 29) else ""
    return f"no day {day} in {calendar.month_name[month]} {year} ({days} days){leap}"


def _clock_problem(hour: int, minute: int, second: int, leap_fix: str) -> str:
    if hour == 24:  # noqa: PLR2004 - the end of a day, as some exports write it
        return "hour 24: write the end of a day as 00:00 of the next"
    if hour > 23 or minute > 59:  # noqa: PLR2004 - a clock's hours and minutes
        return f"no clock time {hour:02d}:{minute:02d}"
    if second == 60:  # noqa: PLR2004 - a leap second
        return f"second 60, a leap second: a run's time, as every epoch time, has none; {leap_fix}"
    return f"no second {second}" if second > 59 else ""  # noqa: PLR2004


def parse_utc(text: str) -> dt.datetime:
    """Parse an RFC 3339 UTC time such as ``2026-01-01T00:00:00Z``."""
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        problem = calendar_problem(text, leap_fix="write 23:59:59 or the next minute's 00")
        if problem:  # the form is right, a field names no moment: say which
            raise ValueError(f"{text!r} is no moment of the calendar: {problem}") from None
        msg = f"not an RFC 3339 time: {text!r} (expected e.g. 2026-01-01T00:00:00Z)"
        raise ValueError(msg + ordinal_hint(text)) from None
    if parsed.tzinfo is None:
        # A date alone takes its midnight: "2026-03-29Z" is no RFC 3339 time.
        utc = f"{text}Z" if ":" in text else f"{parsed:%Y-%m-%d}T00:00:00Z"
        msg = f"time {text!r} has no timezone: write {utc!r} for UTC, or its offset (+01:00)"
        raise ValueError(msg)
    return parsed.astimezone(dt.UTC)


_FINE_FRACTION: Final = re.compile(r"(?<=\d\d)[.,](\d{7,})(?!\d)")
"""A fraction of a second finer than the microsecond, which ``datetime`` would cut off."""
_MICRO_DIGITS: Final = 6
NANO_DIGITS: Final = 9
"""The most digits of a second a run's time holds: ``ts_sim`` is in nanoseconds."""


def parse_utc_ns(text: str) -> int:
    """Nanoseconds since the epoch of the RFC 3339 time ``text`` (``parse_utc``), exactly.

    ``datetime`` holds microseconds and cut ``2026-01-01T00:00:00.123456789Z`` to ``.123456``;
    the digits after the sixth are added here, never cut off, as a data file's times are
    (docs/data.md). More than ``NANO_DIGITS`` (finer than a run's time) are refused.
    """
    nanos = 0
    fine = _FINE_FRACTION.search(text)
    if fine is not None:
        digits = fine.group(1)
        if len(digits) > NANO_DIGITS:
            msg = (
                f"time {text!r} has {len(digits)} digits of a second: a run's time is to the "
                f"nanosecond ({NANO_DIGITS} digits at most)"
            )
            raise ValueError(msg)
        nanos = int(digits[_MICRO_DIGITS:].ljust(NANO_DIGITS - _MICRO_DIGITS, "0"))
        text = text[: fine.start(1) + _MICRO_DIGITS] + text[fine.end(1) :]
    return epoch_ns(parse_utc(text)) + nanos


def format_utc_ns(ns: int) -> str:
    """``format_utc`` of the moment ``ns`` after the epoch, with its nanoseconds when it has any.

    ``2026-01-01T00:00:00.123456789Z``, which ``parse_utc_ns`` reads back to ``ns``; a
    moment on a whole microsecond is written exactly as ``format_utc`` writes it.
    """
    text = format_utc(from_epoch_ns(ns))
    nanos = ns % 1000
    if not nanos:
        return text
    seconds = text[:-1] if "." in text else text[:-1] + ".000000"
    return f"{seconds}{nanos:03d}Z"


def _refuse_naive(moment: dt.datetime, msg: str, *, other: str = "") -> None:
    """``ValueError(msg)`` for a naive ``moment``: what a clock reads must be timezone-aware.

    Anything but a ``datetime`` (nanoseconds, a config's ``start_time`` text) is a
    ``TypeError`` saying what it got and what would do (``other``: another way to build the
    clock), never ``'int' object has no attribute 'tzinfo'``.
    """
    if not isinstance(moment, dt.datetime):
        raise TypeError(
            f"{msg}, got {type(moment).__name__} ({moment!r}): pass "
            f"datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC){other}"
        )
    if moment.tzinfo is None:
        raise ValueError(msg)


class FixedClock:
    """A clock that always answers the same moment; ``monotonic_ns`` never moves."""

    def __init__(self, moment: dt.datetime) -> None:
        _refuse_naive(moment, "FixedClock needs a timezone-aware datetime (tzinfo=datetime.UTC)")
        self._moment = moment

    def now(self) -> dt.datetime:
        """The fixed moment."""
        return self._moment

    def monotonic_ns(self) -> int:
        """Nanoseconds since the epoch of the fixed moment."""
        return epoch_ns(self._moment)

    def __repr__(self) -> str:
        return f"FixedClock({format_utc(self._moment)})"


class SimClock:
    """Simulated time: starts at ``start`` and moves only when ``advance`` is called."""

    def __init__(self, start: dt.datetime) -> None:
        _refuse_naive(
            start,
            "SimClock needs a timezone-aware start (tzinfo=datetime.UTC)",
            other=", or SimClock.at_ns(ns) for nanoseconds since the epoch",
        )
        self._start_ns = epoch_ns(start)
        self._elapsed_ns = 0

    @classmethod
    def at_ns(cls, start_ns: int) -> SimClock:
        """A clock starting ``start_ns`` nanoseconds after the epoch.

        A ``datetime`` start holds microseconds; a config's ``start_time`` may be finer
        (to the nanosecond).
        """
        clock = cls(from_epoch_ns(start_ns))
        clock._start_ns = start_ns
        return clock

    def now(self) -> dt.datetime:
        """The simulated moment."""
        return _EPOCH + dt.timedelta(microseconds=(self._start_ns + self._elapsed_ns) // 1000)

    def monotonic_ns(self) -> int:
        """Simulated nanoseconds since the epoch."""
        return self._start_ns + self._elapsed_ns

    def advance(self, ns: int) -> None:
        """Move simulated time forward by ``ns`` nanoseconds (never backwards)."""
        if ns < 0:
            msg = "SimClock cannot go backwards"
            raise ValueError(msg)
        self._elapsed_ns += ns

    def set_elapsed(self, ns: int) -> None:
        """Restore the elapsed simulated time (used when resuming from a checkpoint)."""
        self._elapsed_ns = ns

    def move_to(self, elapsed_ns: int) -> int:
        """``set_elapsed(elapsed_ns)``, then ``monotonic_ns()``: a session's step in one call."""
        self._elapsed_ns = elapsed_ns
        return self._start_ns + elapsed_ns

    def __repr__(self) -> str:
        return f"SimClock({format_utc(self.now())})"


class SystemClock:
    """Wall-clock time. Not deterministic: artifacts of such runs differ in ``ts_utc``."""

    def now(self) -> dt.datetime:
        """The current UTC time."""
        return dt.datetime.now(dt.UTC)

    def monotonic_ns(self) -> int:
        """A monotonic nanosecond counter."""
        return time.monotonic_ns()

    def __repr__(self) -> str:
        return "SystemClock()"


def wall_ns() -> int:
    """Wall-clock nanoseconds for timings (never written to contract artifacts)."""
    return time.perf_counter_ns()


def from_epoch_ns(ns: int) -> dt.datetime:
    """The UTC moment ``ns`` nanoseconds after the epoch (to the microsecond, rounded down)."""
    return _EPOCH + dt.timedelta(microseconds=ns // 1000)


def epoch_ns(moment: dt.datetime) -> int:
    """Nanoseconds since the Unix epoch of an aware ``moment`` (also the leases' time base)."""
    delta = moment.astimezone(dt.UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
