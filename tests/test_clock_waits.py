"""A wall clock stepping back while the session waits (a wind-down's poll) fails the run.

A system-clock session reads the clock at each step and at each wait of simulated time;
a reading earlier than the one before is ``CLOCK_REGRESSION`` wherever it is read, and no
record's ``ts_utc`` goes back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson

from livesession import SessionState, SessionStatus
from livesession._domain.model import OrderIntent, Side

from _helpers import START, session


class BuysOnce:
    """Buys 0.01 on its first bar and holds it: the wind-down has a position to flatten."""

    strategy_id = "buys_once"

    def __init__(self) -> None:
        self.bought = False

    def on_bar(self, bar: Any, view: Any) -> tuple[OrderIntent, ...]:
        if self.bought:
            return ()
        self.bought = True
        return (
            OrderIntent(symbol=bar.symbol, side=Side.BUY, quantity=Decimal("0.01"), reason="buy"),
        )

    def get_state(self) -> dict[str, object]:
        return {"bought": self.bought}

    def set_state(self, state: Any) -> None:
        self.bought = state["bought"]


class BackOnceStopping:
    """A wall-like clock (+10 ms a reading) that steps back 2 s once the session is STOPPING."""

    def __init__(self) -> None:
        self.moment = START + dt.timedelta(days=300)
        self.session: Any = None
        self.stepped_back = False

    def now(self) -> dt.datetime:
        self.moment += dt.timedelta(milliseconds=10)
        stopping = self.session is not None and self.session.state is SessionState.STOPPING
        if stopping and not self.stepped_back:
            self.stepped_back = True
            self.moment -= dt.timedelta(seconds=2)
        return self.moment

    def monotonic_ns(self) -> int:
        return 0


def test_a_clock_going_back_in_a_wind_down_poll_fails_the_run_and_no_record_goes_back():
    clock = BackOnceStopping()
    orch, sinks = session(
        clock=clock,
        strategy=BuysOnce(),
        fill_model={"latency_ms": 5_000},
        clock_mode="system",
        steps=5,
    )
    clock.session = orch
    orch.run_to_end(5)
    assert clock.stepped_back
    assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
    assert orch.status is SessionStatus.FAILED
    faults = [e for e in sinks.events_of("STATE_CHANGED") if e["payload"]["trigger"] == "fault"]
    assert [f["payload"]["reason"] for f in faults] == ["CLOCK_REGRESSION"]
    stamps = [orjson.loads(line)["ts_utc"] for line in sinks.events.lines]
    assert stamps == sorted(stamps, key=dt.datetime.fromisoformat)
