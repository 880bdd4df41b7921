"""Clocks and the RFC 3339 formatting of ts_utc."""

from __future__ import annotations

import datetime as dt

import pytest

from livesession import FixedClock, SimClock
from livesession._clock import format_utc, parse_utc


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
