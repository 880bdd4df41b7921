"""Clocks and the RFC 3339 formatting of ts_utc."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livesession import ConfigError, DryrunConfig, FixedClock, SimClock
from livesession._domain import clock as _clock
from livesession._domain.clock import UtcText, epoch_us, format_utc, parse_utc, parse_utc_ns

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# From 1900 to 2200, in microseconds since the epoch.
_MICROS = st.integers(min_value=-2_208_988_800_000_000, max_value=7_258_118_400_000_000)


class TestFormatUtc:
    @pytest.mark.parametrize(
        "moment",
        [
            dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            dt.datetime(2026, 1, 1, 0, 0, 0, 94179, tzinfo=dt.UTC),
            dt.datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=dt.UTC),
            dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            dt.datetime(2027, 12, 31, 23, 59, 59, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        ],
    )
    def test_same_text_as_the_strftime_patterns(self, moment):
        """UTC with Z; microseconds only when present; other zones converted to UTC."""
        utc = moment.astimezone(dt.UTC)
        pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ"
        assert format_utc(moment) == utc.strftime(pattern)
        assert parse_utc(format_utc(moment)) == utc

    def test_naive_times_are_refused(self):
        """A clock must return timezone-aware times."""
        with pytest.raises(ValueError, match="naive"):
            format_utc(dt.datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize("given", [1_767_225_600_000_000_000, "2026-01-01T00:00:00Z"])
def test_a_clock_given_no_datetime_says_what_would_do(given: object) -> None:
    """Bug: ``SimClock(1767225600000000000)`` (nanoseconds, as ``ts_sim`` records them) or
    ``FixedClock("2026-01-01T00:00:00Z")`` raised ``AttributeError: 'int' object has no
    attribute 'tzinfo'``; each now says what it got and what to pass."""
    with pytest.raises(TypeError, match=r"SimClock needs a timezone-aware start .*, got ") as sim:
        SimClock(given)  # type: ignore[arg-type]
    assert "SimClock.at_ns(ns) for nanoseconds since the epoch" in str(sim.value)
    with pytest.raises(TypeError, match=r"FixedClock needs a timezone-aware datetime .*, got "):
        FixedClock(given)  # type: ignore[arg-type]


class TestUtcText:
    @given(_MICROS)
    def test_same_text_as_format_utc(self, micros):
        """The per-step formatter gives format_utc's text for any moment."""
        moment = _EPOCH + dt.timedelta(microseconds=micros)
        assert UtcText()(micros) == format_utc(moment)
        assert epoch_us(moment) == micros

    @given(_MICROS.map(lambda micros: micros // 1_000_000 * 1_000_000))
    def test_whole_seconds_as_format_utc(self, micros):
        """Whole seconds (a step grid's usual times) have no fraction, as format_utc has none."""
        assert UtcText()(micros) == format_utc(_EPOCH + dt.timedelta(microseconds=micros))

    @given(st.lists(_MICROS, min_size=2, max_size=30))
    def test_one_formatter_across_days_in_any_order(self, moments):
        """The cached date part follows the day, whichever way time moves."""
        text = UtcText()
        for micros in moments:
            assert text(micros) == format_utc(_EPOCH + dt.timedelta(microseconds=micros))

    def test_day_boundaries(self):
        """The last microsecond of a day and the first of the next."""
        text = UtcText()
        midnight = epoch_us(dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
        assert text(midnight - 1) == "2026-01-01T23:59:59.999999Z"
        assert text(midnight) == "2026-01-02T00:00:00Z"
        assert text(midnight + 1_000_000) == "2026-01-02T00:00:01Z"

    def test_epoch_us_refuses_naive_times(self):
        """A clock returning a naive datetime gets the same clear error as format_utc."""
        with pytest.raises(ValueError, match="naive"):
            epoch_us(dt.datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test

    def test_other_zones_count_from_the_same_epoch(self):
        """An aware time in another zone is the same instant."""
        zone = dt.timezone(dt.timedelta(hours=2))
        here = dt.datetime(2026, 3, 4, 7, 6, 7, tzinfo=zone)
        assert epoch_us(here) == epoch_us(here.astimezone(dt.UTC))


class TestClocks:
    def test_sim_clock_moves_only_forward(self):
        """SimClock advances by what it is told and refuses to go back."""
        clock = SimClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        clock.advance(60_000_000_000)
        assert format_utc(clock.now()) == "2026-01-01T00:01:00Z"
        with pytest.raises(ValueError, match="backwards"):
            clock.advance(-1)

    def test_fixed_clock_is_fixed(self):
        """FixedClock always answers the same moment."""
        moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        clock = FixedClock(moment)
        assert clock.now() == clock.now() == moment


class TestReadings:
    def test_aware_now_says_what_the_clock_returned(self):
        class Returns:
            def __init__(self, value):
                self.value = value

            def now(self):
                return self.value

        aware = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        assert _clock.aware_now(Returns(aware)) is aware
        for value, said in [
            (dt.datetime(2026, 1, 1, 9), "a naive datetime (2026-01-01T09:00:00)"),  # noqa: DTZ001
            ("2026-01-01", "a str ('2026-01-01')"),
            (dt.date(2026, 1, 1), "a date (datetime.date(2026, 1, 1))"),
            (None, "a NoneType (None)"),
            ("x" * 100, f"a str ('{'x' * 56}...)"),
        ]:
            with pytest.raises(
                ValueError, match=f"^the clock's now\\(\\) returned {re.escape(said)}: "
            ):
                _clock.aware_now(Returns(value))


@pytest.mark.parametrize(
    ("written", "advised"),
    [("2026-03-29", "2026-03-29T00:00:00Z"), ("2026-03-29T01:00:00", "2026-03-29T01:00:00Z")],
)
def test_a_time_without_a_timezone_is_told_a_time_that_reads(written: str, advised: str) -> None:
    """Bug: ``start_time = "2026-03-29"`` was told "add Z for UTC", and "2026-03-29Z", as
    told, was refused in turn (not an RFC 3339 time). The advice is a time that reads."""
    with pytest.raises(ValueError, match=f"time '{written}' has no timezone: write '{advised}'"):
        parse_utc(written)
    assert parse_utc(advised) == parse_utc(advised.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (
            "2026-060T09:00:00Z",
            (
                "start_time: not an RFC 3339 time: '2026-060T09:00:00Z' (expected e.g. "
                "2026-01-01T00:00:00Z): an ordinal date (day 60 of 2026), which is not read: "
                "write it yyyy-mm-dd (2026-03-01T09:00:00Z)"
            ),
        ),
        (
            "2026-366T00:00:00Z",
            (
                "start_time: not an RFC 3339 time: '2026-366T00:00:00Z' (expected e.g. "
                "2026-01-01T00:00:00Z): an ordinal date (day 366 of 2026), which is not read: "
                "write it yyyy-mm-dd (2026 has 365 days)"
            ),
        ),
        (
            "2026-03-01T00:00:00+01:00:30",
            (
                "start_time '2026-03-01T00:00:00+01:00:30' writes its UTC offset to the second "
                "(+01:00:30), which RFC 3339 does not: write the offset to the minute (+01:00), or "
                "the time in UTC (Z)"
            ),
        ),
    ],
    ids=["ordinal", "ordinal-past-the-year", "offset-seconds"],
)
def test_a_start_time_in_a_form_rfc_3339_has_not_is_told_what_to_write(
    written: str, said: str
) -> None:
    """Bug: an ISO ordinal date (``2026-060``, as some desks' schedulers write a day) was
    refused as "not an RFC 3339 time" alone, and an offset to the second (``+01:00:30``,
    which Python reads and RFC 3339 has not) was taken. Each is refused saying what to write;
    an offset to the minute, with a fraction of a second before it, is still read."""
    with pytest.raises(ConfigError, match=f"^{re.escape(said)}$"):
        DryrunConfig(run_id="r", start_time=written)
    assert DryrunConfig(run_id="r", start_time="2026-03-01T00:00:00.5-01:30").start_ns == (
        parse_utc_ns("2026-03-01T01:30:00.5Z")
    )


@pytest.mark.parametrize(
    ("written", "reads_as"),
    [
        ("20260101T000000Z", "2026-01-01T00:00:00Z"),  # ISO 8601's basic form
        ("2026-W01-4T00:00:00Z", "2026-01-01T00:00:00Z"),  # a week date
        ("2026-01-01T09:30Z", "2026-01-01T09:30:00Z"),  # no seconds
        ("2026-01-01T09Z", "2026-01-01T09:00:00Z"),  # the hour alone
        ("2026-01-01_09:30:00Z", "2026-01-01T09:30:00Z"),  # another separator
        ("2026-01-01T09:30:00,5Z", "2026-01-01T09:30:00.500000Z"),  # a decimal comma
        ("2026-01-01T09:30:00.Z", "2026-01-01T09:30:00Z"),  # a point and no digits
        ("2026-01-01T10:30:00+0100", "2026-01-01T09:30:00Z"),  # an offset without its colon
        ("2026-01-01T10:30:00+01", "2026-01-01T09:30:00Z"),  # an offset of hours alone
    ],
)
def test_a_start_time_python_reads_but_rfc_3339_has_not_is_refused(
    written: str, reads_as: str
) -> None:
    """docs/config.md: ``start_time`` is RFC 3339. ``fromisoformat`` reads more of ISO 8601
    than that, and each of these ran, recorded as written, where an ordinal date (the same
    standard's) is refused: each is refused saying what to write."""
    with pytest.raises(ConfigError) as info:
        DryrunConfig(run_id="r", start_time=written)
    assert str(info.value) == (
        f"start_time: not an RFC 3339 time: {written!r} (yyyy-mm-ddThh:mm:ss, a fraction of a "
        f"second after a point, then Z or the offset +hh:mm): write {reads_as!r}, the "
        "moment it reads as"
    )


@pytest.mark.parametrize(
    ("written", "recorded"),
    [
        ("2026-01-01t09:30:00z", "2026-01-01T09:30:00Z"),
        ("2026-01-01T09:30:00z", "2026-01-01T09:30:00Z"),
        ("2026-01-01 09:30:00.25z", "2026-01-01 09:30:00.25Z"),
    ],
)
def test_a_start_time_in_lower_case_is_read_as_rfc_3339_allows(written: str, recorded: str) -> None:
    """RFC 3339 allows ``t`` and ``z`` in lower case, and a data file's times are read so
    (docs/data.md); ``start_time = "2026-01-01t09:30:00z"`` was refused as no RFC 3339 time.
    It is read, and recorded with the letters in upper case."""
    cfg = DryrunConfig(run_id="r", start_time=written)
    assert cfg.start_time == recorded
    assert cfg.start_ns == parse_utc_ns(recorded)


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (
            "2025-02-29T00:00:00Z",
            "no day 29 in February 2025 (28 days): 2025 is no leap year",
        ),
        ("2026-13-01T00:00:00Z", "no month 13 (months are 01 to 12)"),
        ("2026-04-31T12:00:00+02:00", "no day 31 in April 2026 (30 days)"),
        ("2026-01-01T24:00:00Z", "hour 24: write the end of a day as 00:00 of the next"),
        ("2026-01-01T09:60:00Z", "no clock time 09:60"),
        (
            "2026-12-31T23:59:60Z",
            (
                "second 60, a leap second: a run's time, as every epoch time, has none; "
                "write 23:59:59 or the next minute's 00"
            ),
        ),
    ],
    ids=["feb-29-no-leap-year", "month-13", "april-31", "hour-24", "minute-60", "leap-second"],
)
def test_a_start_time_of_the_right_form_that_names_no_moment_says_which_field(
    written: str, said: str
) -> None:
    """Bug: ``start_time = "2025-02-29T00:00:00Z"`` (a leap day in a year without one), a
    month 13, an hour 24 or a leap second (which RFC 3339 allows) was refused as "not an RFC
    3339 time ... (expected e.g. 2026-01-01T00:00:00Z)", the form it was written in: the
    refusal now says which field names no moment, as a data file's time is told."""
    with pytest.raises(ConfigError) as caught:
        DryrunConfig(run_id="r", start_time=written)
    message = str(caught.value)
    assert message.startswith(f"start_time: {written!r} is no moment of the calendar: {said}")
    assert "not an RFC 3339 time" not in message
