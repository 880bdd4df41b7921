"""Simulated time for one session: the step grid, the clock reading and waits.

The session's time (``ts_sim``) moves on a grid of ``step_interval_ms``, or, with a dated
feed (a data file with its own times), to each bar's own time; retries, lookups and the
wind-down wait on it too, never on the wall. It never decreases. A session that owns a ``SimClock``
moves that clock with it, so the clock's reading (``ts_utc`` of every record) follows. A
clock that reads earlier than before is a fault (``CLOCK_REGRESSION``), reported to the
caller: at a step's tick, or, read in a wait (a retry's, a lookup's, a wind-down's
poll), held (the records keep the reading before, so their ``ts_utc`` never goes back)
and reported by the next tick or the wind-down (``take_regression``). A reading that is
no timezone-aware ``datetime`` raises ``ValueError`` saying what it was, except the first
(``open``), which preflight turns into a rejection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._domain import clock as _clock
from .._exceptions import INTERRUPTS
from .._support.secrets import redact_text

if TYPE_CHECKING:
    from .._artifacts.recorder import Recorder
    from .._typing import Clock

__all__ = ["Timekeeper"]

_MESSAGE_MAX = 300
"""How much of a clock's failure the rejection's detail keeps."""


class Timekeeper:
    """Owns the step count, ``ts_sim``, the step grid and the clock's last reading."""

    def __init__(
        self, clock: Clock, recorder: Recorder, *, start_ns: int, interval_ns: int
    ) -> None:
        self._clock = clock
        self._recorder = recorder
        self._owns_sim_clock = isinstance(clock, _clock.SimClock)
        # A plain SimClock's time is its nanosecond counter: no datetime needed per step.
        self._plain_sim = clock if type(clock) is _clock.SimClock else None
        self._utc_text = _clock.UtcText()
        self.start_ns = start_ns
        self.interval_ns = interval_ns
        self.ts_sim = start_ns
        self.steps = 0
        self._grid_ns = start_ns
        self._last_us: int | None = None  # the clock's last reading, epoch microseconds
        self._regressed: tuple[str, str] | None = None  # a wait's, not reported yet
        self._behind = False  # the clock reads earlier than the records' time: said once

    @property
    def last_step_ns(self) -> int | None:
        """The grid point of the last step (a dated feed's: its bar's own time); None before."""
        return self._grid_ns if self.steps else None

    def proposed_tick(self) -> int:
        """The time ``next_tick()`` would move to: the next grid point, or now if later."""
        grid, now = self._grid_ns + self.interval_ns, self.ts_sim
        return grid if grid >= now else now  # noqa: FURB136 - max()'s call costs a step more

    def next_tick(self, bar_ns: int | None = None) -> tuple[str, str] | None:
        """Advance to the next grid point; the regression (previous, now) if the clock went back.

        ``bar_ns`` is the own time of a dated feed's bar: the grid then follows the data (gaps
        such as weekends included), but time never goes back. A bar whose time retries or a
        wind-down have already passed is taken now, late, as a live session would.
        """
        grid = self._grid_ns + self.interval_ns if bar_ns is None else bar_ns
        self._grid_ns = grid
        ts_ns = grid if grid >= self.ts_sim else self.ts_sim  # noqa: FURB136 - as above
        if self._regressed is not None:  # a wait read the clock going back: the step faults
            self.set_time(ts_ns, now_us=self._last_us)
            return self.take_regression()
        sim = self._plain_sim
        if sim is None:
            return self.tick(ts_ns)
        # A plain SimClock reads exactly the time it is moved to: one call moves and reads it.
        now = sim.move_to(ts_ns - self.start_ns) // 1000
        last = self._last_us
        if last is not None and now < last:
            return self._settle(ts_ns, now)
        # ``set_time``, inline (a step's path): the time is the step's from here on.
        self._last_us = now
        self.ts_sim = ts_ns
        self._recorder.set_time(ts_ns, self._utc_text(now))
        return None

    def tick(self, ts_ns: int) -> tuple[str, str] | None:
        """Advance simulated time to ``ts_ns`` and read the clock.

        Returns None, or the (previous, now) texts when the clock reads earlier than before:
        time then stays where it was and the caller raises the fault.
        """
        self._move_sim_clock(ts_ns)
        return self._settle(ts_ns, self._now_us())

    def _settle(self, ts_ns: int, now: int) -> tuple[str, str] | None:
        """Make ``ts_ns`` and the clock's reading ``now`` the time, unless the clock went back."""
        last = self._last_us
        if last is not None and now < last:
            self._behind = True
            self.set_time(max(ts_ns, self.ts_sim), now_us=last)
            return self._utc_text(last), self._utc_text(now)
        self._behind = False
        self.set_time(ts_ns, now_us=now)
        return None

    def set_time(self, ts_ns: int, *, now_us: int | None = None) -> None:
        """Make ``ts_ns`` (and the clock's reading) the time of every record from now on."""
        now = now_us if now_us is not None else self._now_us()
        if now != self._last_us or self.ts_sim != ts_ns or not self._recorder.ts_utc:
            self._last_us = now
            self.ts_sim = ts_ns
            self._recorder.set_time(ts_ns, self._utc_text(now))

    def open(self) -> str:
        """Read the clock for the run's first records: "", or why it gave no time.

        Every record is stamped with the clock's reading. A clock that raises, or returns
        no timezone-aware datetime, at the start leaves nothing to stamp the records that
        reject the run with: they take the session's start time (``ts_sim``) instead.
        """
        if self._plain_sim is not None:
            self.set_time(self.ts_sim)
            return ""
        try:
            moment = self._clock.now()
        except INTERRUPTS:
            raise
        except BaseException as exc:  # noqa: BLE001 - whatever the clock does, the run says it
            message = " ".join(str(exc).split())
            problem = f"the clock's now() raised {type(exc).__name__}" + (
                f": {message}" if message else ""
            )
        else:
            problem = _clock.reading_problem(moment)
        if problem:
            self.set_time(self.ts_sim, now_us=self.ts_sim // 1000)
            problem = redact_text(problem)
            return problem if len(problem) <= _MESSAGE_MAX else problem[: _MESSAGE_MAX - 3] + "..."
        self.set_time(self.ts_sim, now_us=_clock.epoch_us(moment))
        return ""

    def wait(self, ns: int) -> None:
        """Wait ``ns`` of simulated time (retries and lookups never sleep on the wall).

        A clock that reads earlier than before is held to its reading before (records
        never go back) and the (previous, now) of its first such reading kept for
        ``take_regression``: said once, not again at every wait until it has caught up
        (the wind-down an operator's acknowledgement of that fault starts waits too, and
        must end however far back the clock went).
        """
        target = self.ts_sim + ns
        self._move_sim_clock(target)
        now, last = self._now_us(), self._last_us
        if last is not None and now < last:
            if not self._behind:
                self._behind = True
                self._regressed = self._utc_text(last), self._utc_text(now)
            now = last
        else:
            self._behind = False
        self.set_time(target, now_us=now)

    def take_regression(self) -> tuple[str, str] | None:
        """The (previous, now) of a regression a wait read and nobody reported yet; once."""
        found, self._regressed = self._regressed, None
        return found

    def _move_sim_clock(self, ts_ns: int) -> None:
        if self._owns_sim_clock:
            clock = self._clock
            assert isinstance(clock, _clock.SimClock)  # noqa: S101 - narrowed for mypy
            clock.set_elapsed(ts_ns - self.start_ns)

    def _now_us(self) -> int:
        """The clock's reading in epoch microseconds."""
        sim = self._plain_sim
        if sim is not None:
            return sim.monotonic_ns() // 1000
        return _clock.epoch_us(_clock.aware_now(self._clock))

    # -- checkpoint ----------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The checkpoint keys this collaborator owns."""
        return {
            "steps": self.steps,
            "ts_sim": self.ts_sim,
            "grid_ns": self._grid_ns,
            "last_utc": None if self._last_us is None else self._utc_text(self._last_us),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint made by ``get_state``."""
        self.steps = state["steps"]
        self._grid_ns = state["grid_ns"]
        self.ts_sim = state["ts_sim"]
        self._move_sim_clock(self.ts_sim)
        last = state["last_utc"]
        self._last_us = None if last is None else _clock.epoch_us(_clock.parse_utc(last))
