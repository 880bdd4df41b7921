"""Which UTC offsets a local time's repeated hour is told to write, as summer time ends.

A file of local times written without an offset repeats an hour as the clock is set back.
The example offsets fit the file where its repeated hour tells its zone: Europe sets its
clocks back on the last Sunday of October, at 01:00 UTC, so the hour that repeats says
which of its zones (01:00 the UK's, 02:00 Central Europe's, 03:00 Eastern Europe's); the
United States on the first Sunday of November (since 2007), repeating 01:00 in each of its
zones, of which Eastern time is the example. Any other day (a southern spring, a US file
before 2007, whose last Sunday of October is Europe's too) is given no zone's offsets.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

__all__ = ["offsets_example"]

_EUROPE: Final = {
    1: ("+01:00", "+00:00", "the UK's time"),
    2: ("+02:00", "+01:00", "Central European time"),
    3: ("+03:00", "+02:00", "Eastern European time"),
}
_US: Final = "01:30:00-04:00, then 01:00:00-05:00"
_NEUTRAL: Final = "the summer offset until the clock is set back, then the offset an hour less"
_US_SINCE: Final = 2007  # the first Sunday of November: the Energy Policy Act of 2005
_US_HOUR: Final = 1
_SUNDAY: Final = 6  # ``weekday()``'s
_US_DAYS: Final = frozenset((11, day) for day in range(1, 8))  # the first Sunday of November
_EUROPE_DAYS: Final = frozenset((10, day) for day in range(25, 32))  # the last of October


def offsets_example(repeated: dt.datetime) -> str:
    """What the hint gives as the offsets to write, for the local time ``repeated``.

    ``repeated`` is the first time of the hour that repeats, as written (no offset).
    """
    if repeated.weekday() != _SUNDAY:  # clocks are set back on a Sunday night
        return _NEUTRAL
    hour, day = repeated.hour, (repeated.month, repeated.day)
    if day in _US_DAYS and repeated.year >= _US_SINCE and hour == _US_HOUR:
        return _US
    if day in _EUROPE_DAYS and hour in _EUROPE:
        if hour == _US_HOUR and repeated.year < _US_SINCE:  # the US's day too, and its hour
            return _NEUTRAL
        summer, winter, zone = _EUROPE[hour]
        return f"{hour:02d}:30:00{summer}, then {hour:02d}:00:00{winter} in {zone}"
    return _NEUTRAL
