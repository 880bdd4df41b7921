"""The timekeeper's own interface: the step grid, waits, clock regressions, its checkpoint."""

from __future__ import annotations

import datetime as dt

import orjson

from livesession._artifacts.recorder import Recorder
from livesession._domain.clock import SimClock, epoch_ns
from livesession._session.timekeeper import Timekeeper

from _helpers import START, Sinks

SECOND = 1_000_000_000
START_NS = epoch_ns(START)


class SettableClock:
    """A clock that reads whatever the test set last (it may go back)."""

    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def now(self) -> dt.datetime:
        return self.moment

    def monotonic_ns(self) -> int:
        return epoch_ns(self.moment)


def _recorder(sinks: Sinks) -> Recorder:
    return Recorder(
        run_id="t",
        strategy_id="s",
        events=sinks.events,
        states=sinks.states,
        audit=sinks.audit,
        metrics=sinks.metrics,
    )


def _keeper(clock=None, *, interval_ns: int = SECOND) -> tuple[Timekeeper, SimClock, Recorder]:
    clock = clock if clock is not None else SimClock(START)
    recorder = _recorder(Sinks())
    keeper = Timekeeper(clock, recorder, start_ns=START_NS, interval_ns=interval_ns)
    return keeper, clock, recorder


class TestDatedBars:
    """A dated feed's bar sets the step's time; the session's time never goes back."""

    def test_a_bar_takes_its_own_time_and_time_never_goes_back(self):
        keeper, clock, _ = _keeper(interval_ns=60)
        assert keeper.next_tick(START_NS + 1_000) is None
        assert keeper.ts_sim == START_NS + 1_000  # the bar's own time, not the grid's
        assert clock.monotonic_ns() == START_NS + 1_000
        keeper.wait(5_000)  # retries moved time past the next bar
        assert keeper.next_tick(START_NS + 2_000) is None
        assert keeper.ts_sim == START_NS + 6_000  # the late bar is taken now: time stays
        assert keeper.next_tick(START_NS + 9_000) is None
        assert keeper.ts_sim == START_NS + 9_000  # and the next bar's time is its own again
        assert keeper.next_tick() is None  # no bar (a wind-down poll): one interval on
        assert keeper.ts_sim == START_NS + 9_060
        assert keeper.proposed_tick() == START_NS + 9_120


class TestGrid:
    def test_a_new_keeper_starts_at_the_start(self):
        keeper, _, _ = _keeper()
        assert (keeper.ts_sim, keeper.steps, keeper.start_ns) == (START_NS, 0, START_NS)
        assert keeper.get_state()["last_utc"] is None

    def test_next_tick_advances_one_interval_and_moves_the_sim_clock(self):
        keeper, clock, recorder = _keeper()
        assert keeper.next_tick() is None
        assert keeper.ts_sim == START_NS + SECOND
        assert clock.monotonic_ns() == START_NS + SECOND
        assert (recorder.ts_sim, recorder.ts_utc) == (START_NS + SECOND, "2026-01-01T00:00:01Z")
        assert keeper.next_tick() is None
        assert keeper.ts_sim == START_NS + 2 * SECOND
        assert recorder.ts_utc == "2026-01-01T00:00:02Z"

    def test_the_grid_does_not_drift_with_waits(self):
        keeper, _, _ = _keeper()
        keeper.wait(SECOND // 4)
        keeper.next_tick()
        assert keeper.ts_sim == START_NS + SECOND  # the grid point, not wait + interval

    def test_a_wait_past_the_grid_point_is_kept(self):
        keeper, clock, _ = _keeper()
        keeper.wait(3 * SECOND // 2)
        keeper.next_tick()  # the grid point (1 s) lies behind: time stays at 1.5 s
        assert keeper.ts_sim == START_NS + 3 * SECOND // 2
        assert clock.monotonic_ns() == START_NS + 3 * SECOND // 2
        keeper.next_tick()
        assert keeper.ts_sim == START_NS + 2 * SECOND

    def test_records_carry_the_keepers_time(self):
        sinks = Sinks()
        recorder = _recorder(sinks)
        keeper = Timekeeper(SimClock(START), recorder, start_ns=START_NS, interval_ns=SECOND)
        keeper.next_tick()
        recorder.emit("BAR", {"n": 1})
        (line,) = sinks.events.lines
        record = orjson.loads(line)
        assert (record["ts_sim"], record["ts_utc"]) == (START_NS + SECOND, "2026-01-01T00:00:01Z")


class TestSetTimeAndWait:
    def test_set_time_moves_the_recorder_and_reads_the_clock(self):
        keeper, clock, recorder = _keeper()
        clock.set_elapsed(5 * SECOND)
        keeper.set_time(START_NS + 5 * SECOND)
        assert keeper.ts_sim == START_NS + 5 * SECOND
        assert recorder.ts_utc == "2026-01-01T00:00:05Z"

    def test_set_time_with_an_explicit_reading(self):
        keeper, _, recorder = _keeper()
        reading_us = (START_NS + 7 * SECOND) // 1000
        keeper.set_time(START_NS + 2 * SECOND, now_us=reading_us)
        assert (recorder.ts_sim, recorder.ts_utc) == (START_NS + 2 * SECOND, "2026-01-01T00:00:07Z")

    def test_wait_moves_the_sim_clock_and_simulated_time(self):
        keeper, clock, recorder = _keeper()
        keeper.wait(250_000_000)
        assert keeper.ts_sim == START_NS + 250_000_000
        assert clock.monotonic_ns() == START_NS + 250_000_000
        assert recorder.ts_utc == "2026-01-01T00:00:00.250000Z"
        keeper.wait(250_000_000)
        assert clock.monotonic_ns() == START_NS + 500_000_000

    def test_a_clock_the_keeper_does_not_own_is_only_read(self):
        clock = SettableClock(START + dt.timedelta(hours=1))
        keeper, _, recorder = _keeper(clock)
        keeper.wait(SECOND)
        assert keeper.ts_sim == START_NS + SECOND
        assert clock.moment == START + dt.timedelta(hours=1)
        assert recorder.ts_utc == "2026-01-01T01:00:00Z"


class TestClockRegression:
    def test_a_clock_that_goes_back_returns_previous_and_now(self):
        clock = SettableClock(START + dt.timedelta(seconds=10))
        keeper, _, _ = _keeper(clock)
        assert keeper.next_tick() is None
        clock.moment = START + dt.timedelta(seconds=4)
        assert keeper.next_tick() == ("2026-01-01T00:00:10Z", "2026-01-01T00:00:04Z")

    def test_a_regression_does_not_move_time_backwards(self):
        clock = SettableClock(START + dt.timedelta(seconds=10))
        keeper, _, recorder = _keeper(clock)
        keeper.next_tick()
        clock.moment = START + dt.timedelta(seconds=4)
        keeper.next_tick()
        assert recorder.ts_utc == "2026-01-01T00:00:10Z"  # the reading before, not the earlier one
        assert keeper.ts_sim == START_NS + 2 * SECOND  # simulated time still moves forward
        assert keeper.get_state()["last_utc"] == "2026-01-01T00:00:10Z"

    def test_the_regression_is_measured_against_the_last_good_reading(self):
        clock = SettableClock(START + dt.timedelta(seconds=10))
        keeper, _, _ = _keeper(clock)
        keeper.next_tick()
        clock.moment = START + dt.timedelta(seconds=4)
        keeper.next_tick()
        clock.moment = START + dt.timedelta(seconds=9)
        assert keeper.next_tick() == ("2026-01-01T00:00:10Z", "2026-01-01T00:00:09Z")
        clock.moment = START + dt.timedelta(seconds=11)
        assert keeper.next_tick() is None

    def test_a_clock_standing_still_is_no_regression(self):
        clock = SettableClock(START)
        keeper, _, _ = _keeper(clock)
        assert keeper.next_tick() is None
        assert keeper.next_tick() is None


class TestCheckpoint:
    def test_state_round_trips_into_a_fresh_keeper(self):
        keeper, _, _ = _keeper()
        keeper.next_tick()
        keeper.next_tick()
        keeper.wait(SECOND // 2)
        keeper.steps = 2
        state = keeper.get_state()
        assert state == {
            "steps": 2,
            "ts_sim": START_NS + 5 * SECOND // 2,
            "grid_ns": START_NS + 2 * SECOND,
            "last_utc": "2026-01-01T00:00:02.500000Z",
        }
        fresh, clock, _ = _keeper()
        fresh.set_state(orjson.loads(orjson.dumps(state)))
        assert fresh.get_state() == state
        assert clock.monotonic_ns() == START_NS + 5 * SECOND // 2  # the sim clock follows
        assert (fresh.steps, fresh.ts_sim) == (2, START_NS + 5 * SECOND // 2)

    def test_a_restored_keeper_continues_on_the_same_grid(self):
        keeper, _, _ = _keeper()
        keeper.next_tick()
        keeper.wait(SECOND // 2)
        fresh, _, _ = _keeper()
        fresh.set_state(keeper.get_state())
        keeper.next_tick()
        fresh.next_tick()
        assert fresh.ts_sim == keeper.ts_sim == START_NS + 2 * SECOND

    def test_a_restored_reading_still_catches_a_regression(self):
        clock = SettableClock(START + dt.timedelta(seconds=10))
        keeper, _, _ = _keeper(clock)
        keeper.next_tick()
        back = SettableClock(START + dt.timedelta(seconds=3))
        fresh, _, _ = _keeper(back)
        fresh.set_state(keeper.get_state())
        assert fresh.next_tick() == ("2026-01-01T00:00:10Z", "2026-01-01T00:00:03Z")


class TestRegressionInAWait:
    """A clock read going back in a wait (a retry's, a lookup's, a poll's) is not ridden out."""

    def test_the_records_keep_the_reading_before_and_the_next_tick_reports_it(self):
        clock = SettableClock(START + dt.timedelta(seconds=10))
        keeper, _, recorder = _keeper(clock)
        keeper.next_tick()
        clock.moment = START + dt.timedelta(seconds=8)
        keeper.wait(SECOND // 4)
        assert recorder.ts_utc == "2026-01-01T00:00:10Z"  # not 00:00:08: records never go back
        assert keeper.ts_sim == START_NS + SECOND + SECOND // 4  # simulated time still moves
        clock.moment = START + dt.timedelta(seconds=12)  # the clock is past it again
        assert keeper.next_tick() == ("2026-01-01T00:00:10Z", "2026-01-01T00:00:08Z")
        assert keeper.ts_sim == START_NS + 2 * SECOND
        assert recorder.ts_utc == "2026-01-01T00:00:10Z"
        assert keeper.next_tick() is None  # reported once

    def test_the_first_regression_is_kept_and_taken_once(self):
        clock = SettableClock(START + dt.timedelta(seconds=10))
        keeper, _, _ = _keeper(clock)
        keeper.next_tick()
        clock.moment = START + dt.timedelta(seconds=8)
        keeper.wait(1)
        clock.moment = START + dt.timedelta(seconds=5)
        keeper.wait(1)
        assert keeper.take_regression() == ("2026-01-01T00:00:10Z", "2026-01-01T00:00:08Z")
        assert keeper.take_regression() is None
        assert keeper.get_state()["last_utc"] == "2026-01-01T00:00:10Z"
