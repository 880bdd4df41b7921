"""The simulated times a run can record, and the config bounds that keep a run inside them.

Every record's ``ts_sim`` is nanoseconds since the Unix epoch, and the artifact contract
holds it in a signed 64-bit integer that may not be negative: a run's time lies between
1970-01-01T00:00:00Z and 2262-04-11T23:47:16.854775807Z. A config or a data file that
would take a run outside that range is refused before anything is written, rather than
crashing the run (or sealing one ``verify`` rejects) when its time gets there:

- ``start_time`` and a data file's times must lie in the range;
- the last time a run can reach must too: ``start_time`` plus ``max_steps`` steps, then the
  wind-down's ``stop_max_polls`` polls of one step each, and ``RETRY_ROOM_NS`` for the
  waits of retries and lookups (``run_end_ns``);
- ``step_interval_ms`` is at most ``MAX_STEP_INTERVAL_MS``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Final

from .._exceptions import ConfigError
from .clock import format_utc, format_utc_ns, from_epoch_ns, parse_utc_ns
from .fields import unquoted

__all__ = [
    "EARLIEST_NS",
    "EARLIEST_TEXT",
    "LATEST_NS",
    "LATEST_TEXT",
    "MAX_STEP_INTERVAL_MS",
    "RANGE_NOTE",
    "RETRY_ROOM_NS",
    "check_data_end",
    "check_run_end",
    "check_start",
    "check_step_interval",
    "check_steps",
    "outside",
    "rfc3339_letters",
    "run_end_ns",
]

NS_PER_MS: Final = 1_000_000
_DAY_MS: Final = 86_400_000
EARLIEST_NS: Final = 0
EARLIEST_TEXT: Final = "1970-01-01T00:00:00Z"
LATEST_NS: Final = 2**63 - 1
LATEST_TEXT: Final = "2262-04-11T23:47:16Z"
"""``LATEST_NS`` to the second (it is 0.854775807 s later)."""
MAX_STEP_INTERVAL_MS: Final = 31 * _DAY_MS
"""31 days: the longest bar in use is a month (ccxt's ``1M`` timeframe is 30 days, a
calendar month at most 31). A longer step is a unit slip (seconds or microseconds written as
milliseconds), and it would spend the range of a run's time in a few thousand steps."""
RETRY_ROOM_NS: Final = 366 * _DAY_MS * NS_PER_MS
"""Room kept after a run's last step and wind-down for retries and lookups, which wait on
simulated time: a year (each call's retries end within 30 s, so about a million of them)."""
RANGE_NOTE: Final = (
    "a run's times (ts_sim: nanoseconds since the Unix epoch, a signed 64-bit integer) lie "
    f"from {EARLIEST_TEXT} to {LATEST_TEXT}"
)


def outside(ns: int) -> str | None:
    """Why ``ns`` cannot be a run's time (before or after which bound), or None."""
    if ns < EARLIEST_NS:
        return f"before {EARLIEST_TEXT}"
    if ns > LATEST_NS:
        return f"after {LATEST_TEXT}"
    return None


_OFFSET_SECONDS: Final = re.compile(r"[+-]\d\d:?\d\d:?\d\d(?:[.,]\d+)?$", re.ASCII)
"""A UTC offset written to the second (``+01:00:30``), which ``fromisoformat`` reads."""


_RFC3339: Final = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)",
    re.ASCII,
)
"""RFC 3339's date-time (its letters in upper case: ``rfc3339_letters``), with a space for
the ``T`` as its note allows. An offset to the second is matched here to be refused apart."""


_DATE: Final = len("2026-01-01")
"""Where a date-time's ``T`` stands: after the date."""


def rfc3339_letters(value: object) -> object:
    """``start_time`` with RFC 3339's ``t`` and ``z``, which it allows in lower case, upper.

    Python's reader refuses a ``z``; a data file's times are read either way (docs/data.md).
    """
    if not isinstance(value, str) or len(value) <= _DATE:
        return value
    if value[_DATE] == "t":
        value = f"{value[:_DATE]}T{value[_DATE + 1 :]}"
    return f"{value[:-1]}Z" if value.endswith("z") else value


def check_start(_inst: object, _attr: object, value: object) -> None:
    """``start_time`` is an RFC 3339 time within a run's range."""
    if isinstance(value, (dt.date, dt.time)):  # TOML reads an unquoted time as one
        error = ConfigError(_unquoted(value, _quoted(value)))
        error.as_written = functools.partial(_unquoted_as_written, value)
        raise error
    if not isinstance(value, str):
        raise ConfigError(
            f'start_time must be an RFC 3339 string such as "2026-01-01T00:00:00Z", got {value!r}'
        )
    try:
        ns = parse_utc_ns(value)
    except ValueError as exc:
        raise ConfigError(f"start_time: {exc}") from None
    if _RFC3339.fullmatch(value) is None:  # Python reads more of ISO 8601 than RFC 3339
        raise ConfigError(
            f"start_time: not an RFC 3339 time: {value!r} (yyyy-mm-ddThh:mm:ss, a fraction of "
            "a second after a point, then Z or the offset +hh:mm): write "
            f"{format_utc_ns(ns)!r}, the moment it reads as"
        )
    offset = _OFFSET_SECONDS.search(value)
    if offset is not None:  # Python reads it; RFC 3339 (and docs/config.md) has none
        raise ConfigError(
            f"start_time {value!r} writes its UTC offset to the second ({offset.group()}), "
            "which RFC 3339 does not: write the offset to the minute (+01:00), or the time "
            "in UTC (Z)"
        )
    problem = outside(ns)
    if problem is not None:
        raise ConfigError(f"start_time {value} is {problem}: {RANGE_NOTE}")


def _unquoted(value: dt.date | dt.time, write: str) -> str:
    """The refusal of the unquoted TOML date or time ``value``: ``write`` the string to write."""
    return (
        f"start_time must be a quoted string: TOML read {value.isoformat()} (unquoted) as "
        f'a {type(value).__name__}; write start_time = "{write}"'
    )


def _unquoted_as_written(value: dt.date | dt.time, written: str) -> str | None:
    """The refusal of the unquoted datetime ``value``, written ``written`` in the file.

    TOML reads a time to the microsecond: ``2026-01-01T00:00:00.123456789Z`` was told to
    write ``"2026-01-01T00:00:00.123456Z"``, another start. The string to write is the
    text as written (``Z`` added when it has no offset). None for a date or a time of day,
    whose string ``_quoted`` writes whole.
    """
    if not isinstance(value, dt.datetime):
        return None
    with_offset = rfc3339_letters(written)
    if isinstance(with_offset, str) and _RFC3339.fullmatch(with_offset) is None:
        with_offset = rfc3339_letters(f"{written}Z")
    if not isinstance(with_offset, str) or _RFC3339.fullmatch(with_offset) is None:
        return None
    return _unquoted(value, with_offset)


def _quoted(value: dt.date | dt.time) -> str:
    """The RFC 3339 UTC text of an unquoted TOML date or time (without an offset: UTC)."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(), dt.UTC)
    else:
        return "2026-01-01T00:00:00Z"  # a time of day alone: no day to write
    return format_utc(moment)


def check_step_interval(_inst: object, _attr: object, value: object) -> None:
    """``step_interval_ms`` is a positive int of at most ``MAX_STEP_INTERVAL_MS``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(
            f"step_interval_ms must be a positive integer, got {value!r}"
            f"{unquoted('step_interval_ms', value)}"
        )
    if value > MAX_STEP_INTERVAL_MS:
        raise ConfigError(
            f"step_interval_ms must be at most {MAX_STEP_INTERVAL_MS} (31 days: a month's bar), "
            f"got {value}: is it in milliseconds?"
        )


def run_end_ns(last_step_ns: int, *, stop_max_polls: int, step_interval_ms: int) -> int:
    """The latest time a run whose last step is at ``last_step_ns`` can reach.

    After the last step the wind-down polls up to ``stop_max_polls`` times, one step apart,
    and ``RETRY_ROOM_NS`` is kept for retries and lookups.
    """
    return last_step_ns + stop_max_polls * step_interval_ms * NS_PER_MS + RETRY_ROOM_NS


def check_run_end(
    start_time: str, *, max_steps: int, stop_max_polls: int, step_interval_ms: int
) -> None:
    """Refuse a config whose run could pass ``LATEST_NS`` (``start_time`` is valid)."""
    start = parse_utc_ns(start_time)
    interval_ns = step_interval_ms * NS_PER_MS
    last_step = start + max_steps * interval_ns
    end = run_end_ns(last_step, stop_max_polls=stop_max_polls, step_interval_ms=step_interval_ms)
    if end <= LATEST_NS:
        return
    room = LATEST_NS - RETRY_ROOM_NS - start - stop_max_polls * interval_ns
    fits = max(room // interval_ns, 0)
    raise ConfigError(
        f"start_time {start_time} plus max_steps ({max_steps}) steps of step_interval_ms "
        f"({step_interval_ms}), the wind-down's stop_max_polls ({stop_max_polls}) and a year "
        f"for retries would pass {LATEST_TEXT}, the latest time a run can record: "
        + (
            f"lower max_steps to {fits} or less, or step_interval_ms, or start earlier"
            if fits
            else "lower step_interval_ms or stop_max_polls, or start earlier"
        )
    )


def check_data_end(
    last_ns: int, *, source: str, stop_max_polls: int, step_interval_ms: int
) -> None:
    """Refuse data (``source``) whose last bar, at ``last_ns``, leaves a run no room to end.

    A dated feed's run ends after its last bar: the wind-down, then the room for retries.
    """
    end = run_end_ns(last_ns, stop_max_polls=stop_max_polls, step_interval_ms=step_interval_ms)
    if end <= LATEST_NS:
        return
    latest_ns = LATEST_NS - (end - last_ns)
    latest = format_utc(from_epoch_ns(latest_ns - latest_ns % 1_000_000_000))
    raise ConfigError(
        f"{source}: its last bar, at {format_utc(from_epoch_ns(last_ns))}, leaves no room for "
        f"the wind-down (stop_max_polls ({stop_max_polls}) steps of step_interval_ms "
        f"({step_interval_ms})) and a year for retries before {LATEST_TEXT}, the latest time a "
        f"run can record: drop the rows after {latest}"
    )


def check_steps(steps: int, max_steps: int, *, limit: int) -> None:
    """Refuse ``steps`` above ``max_steps``, saying what helps.

    Raising ``max_steps`` helps only below its hard ``limit``: at the limit, the way on is
    fewer steps (a longer history is run in several runs), so that is what it says.
    """
    if steps <= max_steps:
        return
    told = f"steps ({steps}) is above the bound max_steps ({max_steps}); "
    if max_steps < limit:
        raise ConfigError(told + "raise max_steps or run fewer steps")
    raise ConfigError(
        told + f"max_steps is at its hard limit ({limit}): run fewer steps, and a longer "
        "history in several runs"
    )
