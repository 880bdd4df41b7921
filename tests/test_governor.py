"""The trading governor's own interface: trading state, order rate, daily loss, checkpoint."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from livesession import Order, OrderType, Side
from livesession._artifacts.recorder import Recorder
from livesession._artifacts.sinks import FileLineSink, MemoryLineSink, MemoryMetricsSink
from livesession._domain.clock import epoch_ns
from livesession._risk.governor import NS_PER_DAY, TradingGovernor, TradingState
from livesession._session.book import Book

from _helpers import START, Sinks

D = Decimal
SECOND = 1_000_000_000
START_NS = epoch_ns(START)  # midnight UTC: the first simulated day starts here
SYMBOL = "BTC/USDT"


def _governor(daily_loss_pct: str = "0.05") -> tuple[TradingGovernor, Sinks]:
    sinks = Sinks()
    recorder = Recorder(
        run_id="t",
        strategy_id="s",
        events=sinks.events,
        states=sinks.states,
        audit=sinks.audit,
        metrics=sinks.metrics,
    )
    return TradingGovernor(recorder, daily_loss_pct=D(daily_loss_pct), start_ns=START_NS), sinks


def _long_book() -> Book:
    """A book holding 1 BTC bought at 10000 out of 100000 cash: equity 100000 at 10000."""
    book = Book(initial_cash=D("100000"))
    book.add_order(
        Order(
            client_order_id="c1",
            symbol=SYMBOL,
            side=Side.BUY,
            quantity=D("1"),
            order_type=OrderType.MARKET,
        )
    )
    assert book.apply_fill("c1", "t1", D("1"), D("10000"))
    return book


class FlatDayBook:
    """A DayBook with a settable equity, no position and settable resting entries."""

    def __init__(self, equity: str) -> None:
        self._equity = D(equity)
        self.day_peak_equity = D(equity)
        self.positions: dict[str, Decimal] = {}
        self.resting: list[str] = []

    def equity(self) -> Decimal:
        return self._equity

    def adding_orders(self) -> list[str]:
        return self.resting


class TestTradingState:
    def test_a_new_governor_is_active(self):
        governor, sinks = _governor()
        assert governor.state is TradingState.ACTIVE
        assert not governor.halted
        assert governor.executions == 0
        assert sinks.events.lines == []

    def test_set_trading_records_the_change_once(self):
        governor, sinks = _governor()
        governor.set_trading(TradingState.REDUCING, "DRAWDOWN")
        governor.set_trading(TradingState.REDUCING, "DRAWDOWN_AGAIN")
        changes = sinks.events_of("TRADING_STATE_CHANGED")
        assert [c["payload"] for c in changes] == [
            {"from": "ACTIVE", "to": "REDUCING", "reason": "DRAWDOWN"}
        ]
        assert governor.state is TradingState.REDUCING
        assert sinks.audit_codes() == ["C2_TRADING_STATE"]

    def test_set_trading_to_the_same_state_is_silent(self):
        governor, sinks = _governor()
        governor.set_trading(TradingState.ACTIVE, "NOTHING")
        assert sinks.events.lines == []
        assert sinks.audit.lines == []

    def test_each_real_change_is_recorded(self):
        governor, sinks = _governor()
        governor.set_trading(TradingState.REDUCING, "a")
        governor.set_trading(TradingState.HALTED, "b")
        assert governor.halted
        assert [
            (c["payload"]["from"], c["payload"]["to"])
            for c in sinks.events_of("TRADING_STATE_CHANGED")
        ] == [
            ("ACTIVE", "REDUCING"),
            ("REDUCING", "HALTED"),
        ]

    def test_halt_is_silent_and_returns_the_state_before(self):
        governor, sinks = _governor()
        governor.set_trading(TradingState.REDUCING, "x")
        lines = len(sinks.events.lines)
        assert governor.halt() is TradingState.REDUCING
        assert governor.halted
        assert governor.halt() is TradingState.HALTED
        assert len(sinks.events.lines) == lines

    def test_reenable_resets_executions_and_records_the_operator(self):
        governor, sinks = _governor()
        for _ in range(3):
            governor.count_execution()
        assert governor.executions == 3
        governor.halt()
        governor.reenable("alice")
        assert governor.state is TradingState.ACTIVE
        assert governor.executions == 0
        (event,) = sinks.events_of("TRADING_REENABLED")
        assert event["payload"] == {"operator": "alice", "trading_state": "HALTED"}
        assert sinks.audit_codes() == ["C2_OPERATOR_REENABLE"]


class TestOutAtOnce:
    """A change of trading state waits for a person, and ``livesession status`` reads a live
    run's trading state from the newest such event in events.jsonl: it is in the file at
    once, not held in the sink until the next checkpoint."""

    @staticmethod
    def _on_files(tmp_path) -> tuple[TradingGovernor, Path]:
        events = tmp_path / "events.lines"  # the one sink on a file: no run directory
        recorder = Recorder(
            run_id="t",
            strategy_id="s",
            events=FileLineSink(events),
            states=MemoryLineSink(),
            audit=MemoryLineSink(),
            metrics=MemoryMetricsSink(),
        )
        return TradingGovernor(recorder, daily_loss_pct=D("0.05"), start_ns=START_NS), events

    def _types(self, events: Path) -> list[str]:
        return [orjson.loads(line)["event_type"] for line in events.read_bytes().splitlines()]

    def test_a_halt_is_in_the_events_file_at_once(self, tmp_path):
        governor, events = self._on_files(tmp_path)
        governor.set_trading(TradingState.HALTED, "THROTTLE")
        assert self._types(events) == ["TRADING_STATE_CHANGED"]

    def test_a_reenable_is_in_the_events_file_at_once(self, tmp_path):
        governor, events = self._on_files(tmp_path)
        governor.halt()
        governor.reenable("alice")
        assert self._types(events) == ["TRADING_REENABLED"]


class TestOrderRate:
    def test_orders_are_counted_within_one_simulated_second(self):
        governor, _ = _governor()
        t = START_NS + 5 * SECOND
        assert governor.orders_this_second(t) == 0
        governor.count_order(t)
        governor.count_order(t + SECOND // 2)
        assert governor.orders_this_second(t + SECOND - 1) == 2

    def test_the_count_rolls_with_the_second(self):
        governor, _ = _governor()
        t = START_NS + 5 * SECOND
        governor.count_order(t)
        governor.count_order(t)
        assert governor.orders_this_second(t + SECOND) == 0
        governor.count_order(t + SECOND)
        assert governor.orders_this_second(t + SECOND + 1) == 1


class TestDailyLoss:
    def test_the_day_peak_follows_equity_up(self):
        governor, _ = _governor()
        book = _long_book()
        book.mark(SYMBOL, D("11000"))
        assert not governor.daily_loss_breach(book, START_NS + SECOND)
        assert book.day_peak_equity == D("101000.00")
        book.mark(SYMBOL, D("10500"))
        assert not governor.daily_loss_breach(book, START_NS + 2 * SECOND)
        assert book.day_peak_equity == D("101000.00")  # the peak stays at the high

    def test_trips_at_the_limit_with_an_open_position(self):
        governor, _ = _governor("0.05")
        book = _long_book()
        book.mark(SYMBOL, D("11000"))
        governor.daily_loss_breach(book, START_NS + SECOND)  # peak 101000
        book.mark(SYMBOL, D("5960"))  # equity 95960: 4.99 % below the peak
        assert not governor.daily_loss_breach(book, START_NS + 2 * SECOND)
        book.mark(SYMBOL, D("5950"))  # equity 95950: exactly 5 % below the peak
        assert governor.daily_loss_breach(book, START_NS + 3 * SECOND)

    def test_does_not_trip_when_flat(self):
        governor, _ = _governor("0.05")
        book = FlatDayBook("100000")
        book._equity = D("50000")
        assert not governor.daily_loss_breach(book, START_NS + SECOND)
        book.positions[SYMBOL] = D("0")  # a symbol traded back to zero is flat too
        assert not governor.daily_loss_breach(book, START_NS + 2 * SECOND)
        book.positions[SYMBOL] = D("0.1")
        assert governor.daily_loss_breach(book, START_NS + 3 * SECOND)

    def test_trips_when_flat_with_an_entry_resting(self):
        """Flat but for an entry placed before the cap: the kill cancels it, or it opens."""
        governor, _ = _governor("0.05")
        book = FlatDayBook("100000")
        book._equity = D("50000")
        assert not governor.daily_loss_breach(book, START_NS + SECOND)
        book.resting.append("ls-entry")
        assert governor.daily_loss_breach(book, START_NS + 2 * SECOND)

    def test_trips_for_a_small_account(self):
        """A day that peaked at 0.80 and stands at 0.40, a position held: down 50 %."""
        governor, _ = _governor("0.05")
        book = FlatDayBook("0.80")
        book.positions[SYMBOL] = D("0.1")
        book._equity = D("0.40")
        assert governor.daily_loss_breach(book, START_NS + SECOND)

    def test_a_day_that_peaked_at_nothing_does_not_trip(self):
        """A peak of 0 (an account without equity) is no division by zero: nothing to
        measure a drawdown from, so the cap does not pull the kill switch."""
        governor, _ = _governor("0.05")
        book = FlatDayBook("0")
        book.positions[SYMBOL] = D("0.1")
        assert not governor.daily_loss_breach(book, START_NS + SECOND)
        book._equity = D("-5")
        assert not governor.daily_loss_breach(book, START_NS + 2 * SECOND)

    def test_does_not_trip_when_halted(self):
        governor, _ = _governor("0.05")
        book = _long_book()
        book.mark(SYMBOL, D("5000"))  # equity 95000, 5 % below the initial peak
        governor.halt()
        assert not governor.daily_loss_breach(book, START_NS + SECOND)
        governor.reenable("ops")
        assert governor.daily_loss_breach(book, START_NS + 2 * SECOND)

    @pytest.mark.parametrize("why", ["EXECUTION_THROTTLE", "BROKER_UNHEALTHY"])
    def test_trips_when_halted_by_a_rule_that_does_not_flatten(self, why):
        """Bug: any HALTED kept the cap from pulling the kill switch, so a position held
        while the throttle (or an unhealthy broker) halted trading lost without a limit.
        Only the kill switch's own halt (it flattens already) keeps it from tripping."""
        governor, _ = _governor("0.05")
        book = _long_book()
        book.mark(SYMBOL, D("5000"))  # equity 95000, 5 % below the initial peak
        governor.set_trading(TradingState.HALTED, why)
        assert governor.daily_loss_breach(book, START_NS + SECOND)
        governor.halt()  # the kill switch it pulls
        assert governor.kill_halted
        assert not governor.daily_loss_breach(book, START_NS + 2 * SECOND)

    def test_a_new_utc_day_restarts_the_peak(self):
        governor, _ = _governor("0.05")
        book = _long_book()
        book.mark(SYMBOL, D("11000"))
        governor.daily_loss_breach(book, START_NS + SECOND)  # peak 101000 on day one
        book.mark(SYMBOL, D("5000"))  # equity 95000: 5.9 % below day one's peak
        next_day = START_NS + NS_PER_DAY
        assert not governor.daily_loss_breach(book, next_day)
        assert book.day_peak_equity == D("95000.00")
        assert not governor.daily_loss_breach(book, next_day + SECOND)
        book.mark(SYMBOL, D("250"))  # equity 90250: 5 % below the new day's peak
        assert governor.daily_loss_breach(book, next_day + 2 * SECOND)

    def test_a_new_day_s_peak_starts_at_the_equity_it_opened_with(self):
        """Bug: the peak restarted at the equity after the day's first bar was marked, so
        the move into that bar (an overnight gap; on daily bars, the whole day) was never
        measured, and a cap on daily bars never bound. The day opens with the equity marked
        at the closes before its first bar, as a desk counts a day's PnL."""
        governor, _ = _governor("0.05")
        book = _long_book()  # long 1 at 10000, equity 100000
        next_day = START_NS + NS_PER_DAY
        governor.open_day(book, next_day)  # before the day's first bar is marked
        assert book.day_peak_equity == D("100000.00")
        book.mark(SYMBOL, D("5000"))  # the first bar gaps down: equity 95000, 5 % off
        assert governor.daily_loss_breach(book, next_day)
        governor.open_day(book, next_day + SECOND)  # the same day: the peak stays
        assert book.day_peak_equity == D("100000.00")

    def test_the_last_nanosecond_of_the_day_belongs_to_it(self):
        governor, _ = _governor("0.05")
        book = _long_book()
        book.mark(SYMBOL, D("5000"))
        assert governor.daily_loss_breach(book, START_NS + NS_PER_DAY - 1)


def _checkpoint(governor: TradingGovernor, ts_sim: int) -> dict:
    """The governor's keys inside a whole checkpoint, as ``gather`` builds it.

    Owners are restored from the whole checkpoint, which always holds the timekeeper's
    ``ts_sim`` (``set_state`` reads it as the fallback for checkpoints without ``day``).
    """
    return {**governor.get_state(), "ts_sim": ts_sim}


class TestCheckpoint:
    def test_state_round_trips_into_a_fresh_governor(self):
        governor, _ = _governor()
        t = START_NS + NS_PER_DAY + 3 * SECOND
        governor.count_execution()
        governor.count_execution()
        governor.count_order(t)
        governor.set_trading(TradingState.REDUCING, "x")
        governor.daily_loss_breach(FlatDayBook("100000"), t)
        state = governor.get_state()
        assert state == {
            "executions": 2,
            "rate": [t // SECOND, 1],
            "trading": "REDUCING",
            "day": START_NS // NS_PER_DAY + 1,
        }
        fresh, sinks = _governor()
        # ts_sim lies on another day: the saved day wins over it
        fresh.set_state(orjson.loads(orjson.dumps(_checkpoint(governor, START_NS))))
        assert fresh.get_state() == state
        assert fresh.state is TradingState.REDUCING
        assert fresh.orders_this_second(t) == 1  # the second's count carries over
        assert sinks.events.lines == []  # restoring records nothing

    def test_a_restored_day_keeps_its_peak(self):
        governor, _ = _governor()
        t = START_NS + NS_PER_DAY + SECOND
        governor.daily_loss_breach(FlatDayBook("100000"), t)
        fresh, _ = _governor()
        fresh.set_state(_checkpoint(governor, t))
        book = FlatDayBook("100000")
        book._equity = D("90000")
        book.positions[SYMBOL] = D("1")
        assert fresh.daily_loss_breach(book, t + SECOND)  # same day: no restart

    def test_the_kill_switch_s_halt_survives_a_resume(self):
        """Restored from a checkpoint, a kill-switch halt still keeps the cap from pulling
        the kill switch again; a throttle's halt does not."""
        governor, _ = _governor("0.05")
        governor.halt()
        state = orjson.loads(orjson.dumps(_checkpoint(governor, START_NS)))
        assert state["kill_halted"] is True
        fresh, _ = _governor("0.05")
        fresh.set_state(state)
        assert fresh.kill_halted
        book = _long_book()
        book.mark(SYMBOL, D("5000"))
        assert not fresh.daily_loss_breach(book, START_NS + SECOND)
        throttled, _ = _governor("0.05")
        throttled.set_trading(TradingState.HALTED, "EXECUTION_THROTTLE")
        assert "kill_halted" not in throttled.get_state()
        fresh.set_state(_checkpoint(throttled, START_NS))
        assert not fresh.kill_halted
        assert fresh.daily_loss_breach(book, START_NS + 2 * SECOND)

    def test_a_checkpoint_without_the_flag_takes_it_from_a_kill_in_progress(self):
        """A checkpoint written before the flag existed: a kill still flattening
        (``kill_started_ns`` set) halted trading."""
        fresh, _ = _governor()
        state = {"executions": 0, "rate": [-1, 0], "trading": "HALTED", "day": 0}
        fresh.set_state({**state, "kill_started_ns": START_NS})
        assert fresh.kill_halted
        fresh.set_state({**state, "kill_started_ns": None})
        assert not fresh.kill_halted

    @pytest.mark.parametrize("days", [0, 2])
    def test_an_old_checkpoint_without_a_day_takes_it_from_ts_sim(self, days):
        fresh, _ = _governor()
        ts_sim = START_NS + days * NS_PER_DAY + SECOND
        fresh.set_state({"executions": 0, "rate": [-1, 0], "trading": "ACTIVE", "ts_sim": ts_sim})
        assert fresh.get_state()["day"] == ts_sim // NS_PER_DAY
