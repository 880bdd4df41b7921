"""Kill switch: HALTED, cancel everything, flatten, audit it, and time it to flat."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy, sell
from livesession import (
    OrderType,
    SessionState,
    TradingState,
    VerbOutcome,
)
from livesession.testing import FaultBroker

from _helpers import session

D = Decimal
MINUTE = 60_000_000_000


def _events(sinks) -> list[dict]:
    return [orjson.loads(line) for line in sinks.events.lines]


def _after(events: list[dict], event_type: str) -> list[dict]:
    start = next(n for n, e in enumerate(events) if e["event_type"] == event_type)
    return events[start:]


def _armed(script, closes=("40000.00",), **cfg):
    orch, sinks = session(feed=ScriptedFeed(closes), strategy=ScriptedStrategy(script), **cfg)
    orch.preflight()
    orch.activate()
    return orch, sinks


def _position_and_resting_order():
    """Bar 1 buys 0.020; bar 2 rests a limit buy far below; then the strategy keeps buying."""
    return lambda n, bar, _view: (
        [buy("0.020")]
        if n == 1
        else [buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39000.00"))]
        if n == 2
        else [buy("0.001")]
    )


class TestKillSwitch:
    def test_halts_cancels_flattens_and_audits(self):
        """kill(): HALTED, the resting order cancelled, the position flattened, both audited."""
        orch, sinks = _armed(_position_and_resting_order())
        orch.run_n_steps(2)
        assert orch.book.open_orders
        orch.kill("operator drill")
        assert orch.trading_state is TradingState.HALTED
        assert not any(orch.book.positions.values())
        assert orch.book.open_orders == ()
        tail = _after(_events(sinks), "KILL_SWITCH")
        kinds = [e["event_type"] for e in tail]
        assert "ORDER_CANCELED" in kinds
        assert kinds[-1] == "KILL_SWITCH_FLAT"
        codes = sinks.audit_codes()
        assert codes.index("C2_KILL_SWITCH") < codes.index("C2_KILL_SWITCH_FLAT")
        (kill,) = sinks.events_of("KILL_SWITCH")  # an operator's: no cap's figures
        assert set(kill["payload"]) == {"reason", "open_orders", "flat", "trading_state"}

    def test_no_new_order_between_trigger_and_flat(self):
        """After KILL_SWITCH the only ORDER_SUBMITTED events are flatten orders."""
        orch, sinks = _armed(_position_and_resting_order())
        orch.run_n_steps(2)
        orch.kill("drill")
        orch.run_n_steps(5)  # the strategy would buy on every bar
        submitted = [
            e for e in _after(_events(sinks), "KILL_SWITCH") if e["event_type"] == "ORDER_SUBMITTED"
        ]
        assert [e["payload"]["reason"] for e in submitted] == ["flatten"]
        assert not [e for e in _after(_events(sinks), "KILL_SWITCH") if e["event_type"] == "SIGNAL"]

    def test_reaches_flat_in_a_bounded_number_of_steps_with_reports_in_flight(self):
        """Two venue round trips of 90 s (cancel, then flatten) take at most four steps."""
        broker = FaultBroker(latency_ns=90 * 1_000_000_000)
        orch, sinks = _armed(_position_and_resting_order(), broker=broker)
        orch.run_n_steps(3)
        assert orch.book.positions["BTC/USDT"] != 0
        orch.kill("drill")
        assert orch.trading_state is TradingState.HALTED
        steps = 0
        while not sinks.events_of("KILL_SWITCH_FLAT"):
            orch.step()
            steps += 1
            assert steps <= 4, "not flat within four steps"
        (flat,) = sinks.events_of("KILL_SWITCH_FLAT")
        (kill,) = sinks.events_of("KILL_SWITCH")
        assert flat["payload"]["time_to_flat_ns"] == flat["ts_sim"] - kill["ts_sim"]
        assert 0 < flat["payload"]["time_to_flat_ns"] <= 4 * MINUTE
        assert not any(orch.book.positions.values())
        assert broker.position("BTC/USDT") == 0
        assert not broker.open_orders()

    def test_flat_in_the_step_whose_reconciliation_confirms_the_last_cancel(self):
        """A resting order's cancel reported a step late (30 s on one-minute bars), nothing
        held: the kill is flat in that step, once the step's reconciliation has confirmed
        the cancel (nothing can fill it any more), one minute after the kill, not a step
        later."""
        broker = FaultBroker(latency_ns=30 * 1_000_000_000)
        resting = buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39000.00"))
        orch, sinks = _armed(lambda n, _bar, _view: [resting] if n == 1 else [], broker=broker)
        orch.run_n_steps(2)
        orch.kill("drill")
        assert not sinks.events_of("KILL_SWITCH_FLAT")
        orch.step()
        kinds = [e["event_type"] for e in _after(_events(sinks), "KILL_SWITCH")]
        assert kinds == ["KILL_SWITCH", "BAR", "ORDER_CANCELED", "KILL_SWITCH_FLAT"]
        (flat,) = sinks.events_of("KILL_SWITCH_FLAT")
        assert flat["payload"]["time_to_flat_ns"] == MINUTE

    def test_flat_waits_for_a_fill_that_raced_the_cancel(self):
        """A cancel that lost the race to a fill: flat is declared after that fill is flattened."""
        broker = FaultBroker()
        orch, sinks = _armed(_position_and_resting_order(), broker=broker)
        orch.run_n_steps(2)
        broker.arm("fill_race")  # the resting order half-fills as it is cancelled
        orch.kill("drill")
        assert not sinks.events_of("KILL_SWITCH_FLAT")
        for _ in range(4):
            orch.step()
        assert sinks.events_of("KILL_SWITCH_FLAT")
        late = [
            e for e in sinks.events_of("ORDER_PARTIALLY_FILLED") if e["payload"].get("after_cancel")
        ]
        assert late
        assert broker.position("BTC/USDT") == 0
        assert not any(orch.book.positions.values())

    def test_a_cancel_the_venue_failed_is_asked_again_until_flat(self):
        """The kill's cancel of the resting order fails (connection refused): the next
        step asks again, then flattens, and the kill is flat."""
        broker = FaultBroker()
        orch, sinks = _armed(_position_and_resting_order(), broker=broker)
        orch.run_n_steps(2)
        (resting,) = orch.book.open_orders
        broker.arm("cancel_transient")
        orch.kill("drill")
        assert resting in orch.book.open_orders
        for _ in range(3):
            orch.step()
        assert resting not in orch.book.open_orders
        assert sinks.events_of("KILL_SWITCH_FLAT")
        assert broker.position("BTC/USDT") == 0

    def test_daily_loss_cap_pulls_the_kill_switch(self):
        """Equity 1% below the day's peak with a position open triggers the kill by itself."""
        orch, sinks = _armed(
            at({1: [buy("1.000")]}),
            ["40000.00", "40000.00", "39000.00", "39000.00"],
            risk={"per_trade_risk_pct": "0.01", "max_order_notional": "60000"},
        )
        orch.run_n_steps(3)
        (kill,) = sinks.events_of("KILL_SWITCH")
        assert kill["payload"]["reason"] == "DAILY_LOSS"
        assert sinks.events_of("KILL_SWITCH_FLAT")
        assert not any(orch.book.positions.values())
        assert orch.trading_state is TradingState.HALTED
        assert "C2_KILL_SWITCH" in sinks.audit_codes()

    def test_daily_loss_cap_binds_on_daily_bars(self):
        """Bug: every daily bar starts a simulated UTC day, and the day's peak restarted at
        the equity after that bar, so the cap never saw a loss: a long 1 rode 40000 down to
        30000 (10 % of equity against a 1 % cap). The day opens at the last close before it."""
        orch, sinks = _armed(
            at({1: [buy("1.000")]}),
            ["40000.00", "40000.00", "39000.00", "38000.00", "30000.00"],
            risk={"per_trade_risk_pct": "0.01", "max_order_notional": "60000"},
            step_interval_ms=86_400_000,
            max_steps=10,
            steps=5,
        )
        orch.run_n_steps(3)
        (kill,) = sinks.events_of("KILL_SWITCH")
        assert kill["payload"]["reason"] == "DAILY_LOSS"
        assert kill["ts_utc"] == "2026-01-04T00:00:00Z"  # bar 3 (39000), a day after bar 2
        assert not any(orch.book.positions.values())
        orch.run_n_steps(2)
        assert orch.book.equity == D("99000.00")

    def test_daily_loss_cap_pulls_the_kill_switch_while_the_throttle_halts(self):
        """Bug: with trading HALTED by the execution throttle the cap never pulled the kill
        switch, and a long 100 rode the price from 100 down to 60 (PnL -4000). The throttle
        does not flatten, so the cap must: of equity 100000, at 90.01 the loss is 0.999 %,
        at 90.00 it reaches 1 %: KILL_SWITCH (DAILY_LOSS), the position flattened there."""
        orch, sinks = _armed(
            at({1: [buy("100")], 2: [buy("1")]}),
            ["100.00", "100.00", "100.00", "90.01", "90.00", "80.00", "60.00"],
            risk={
                "max_order_qty": "100000",
                "max_order_notional": "1000000",
                "per_trade_risk_pct": "1",
                "portfolio_heat_pct": "1",
                "daily_loss_pct": "0.01",
                "max_executions": 1,
            },
        )
        orch.run_n_steps(4)
        assert orch.trading_state is TradingState.HALTED
        assert sinks.events_of("RISK_REJECTED")[0]["payload"]["rule"] == "EXECUTION_THROTTLE"
        assert not sinks.events_of("KILL_SWITCH")  # 0.999 % down: inside the cap
        orch.step()  # 90.00: 1 % down
        (kill,) = sinks.events_of("KILL_SWITCH")
        assert kill["payload"]["reason"] == "DAILY_LOSS"
        assert kill["payload"]["trading_state"] == "HALTED"
        # What crossed the cap, as the DAILY_LOSS rail's refusal says it (it said none).
        figures = {k: kill["payload"][k] for k in ("drawdown", "limit", "peak_equity", "equity")}
        assert figures == {
            "drawdown": "0.010000",
            "limit": "0.01",
            "peak_equity": "100000.00",
            "equity": "99000.00000",  # the book's, to the quantity's places, as the rail says it
        }
        assert sinks.events_of("KILL_SWITCH_FLAT")
        assert not any(orch.book.positions.values())
        assert orch.book.pnl == D("-1000.00")
        orch.run_n_steps(2)
        assert len(sinks.events_of("KILL_SWITCH")) == 1  # pulled once, not again while HALTED
        assert orch.book.pnl == D("-1000.00")

    def test_just_inside_the_daily_loss_cap_nothing_happens(self):
        """A drawdown one cent short of 1% leaves trading ACTIVE."""
        orch, sinks = _armed(
            at({1: [buy("1.000")]}),
            ["40000.00", "40000.00", "39000.01"],
            risk={"per_trade_risk_pct": "0.01", "max_order_notional": "60000"},
            initial_cash="100000.00",
        )
        orch.run_n_steps(3)
        assert orch.book.equity == D("99000.01")
        assert not sinks.events_of("KILL_SWITCH")
        assert orch.trading_state is TradingState.ACTIVE

    def test_kill_while_reducing_halts(self):
        """REDUCING is no shelter: the kill switch still halts and flattens."""
        orch, _ = _armed(at({1: [buy("0.010")]}))
        orch.step()
        orch.reduce_only("review")
        orch.kill("drill")
        assert orch.trading_state is TradingState.HALTED
        assert not any(orch.book.positions.values())

    def test_the_session_stops_cleanly_after_a_kill(self):
        """A killed session can be stopped: STOPPED, flat, the audit closes with C2_DRYRUN_STOP."""
        orch, sinks = _armed(at({1: [sell("0.010")]}))
        orch.step()
        orch.kill("drill")
        orch.request_stop("after drill")
        assert orch.state is SessionState.STOPPED
        assert sinks.audit_codes()[-1] == "C2_DRYRUN_STOP"

    def test_a_stop_before_the_kill_is_flat_records_it_flat(self):
        """Kill with reports in flight, then stop before it is flat: the wind-down finishes
        the kill's work, and KILL_SWITCH_FLAT (what the burn-in measures the kill by) is
        recorded with the time it took, before the session is STOPPED."""
        broker = FaultBroker(latency_ns=90 * 1_000_000_000)
        orch, sinks = _armed(_position_and_resting_order(), broker=broker)
        orch.run_n_steps(3)
        orch.kill("drill")
        assert not sinks.events_of("KILL_SWITCH_FLAT")
        orch.request_stop("after drill")
        assert orch.state is SessionState.STOPPED
        (flat,) = sinks.events_of("KILL_SWITCH_FLAT")
        (kill,) = sinks.events_of("KILL_SWITCH")
        assert flat["payload"]["time_to_flat_ns"] == flat["ts_sim"] - kill["ts_sim"] > 0
        types = [e["event_type"] for e in _events(sinks)]
        assert types.index("KILL_SWITCH_FLAT") < types.index("SESSION_STOPPED")
        assert broker.position("BTC/USDT") == 0


class TestKillSwitchRefusals:
    def test_kill_needs_a_running_session(self):
        """kill() before activation or after the stop does nothing and says so."""
        orch, sinks = session()
        early = orch.kill("too early")
        assert (early.outcome, early.state) == (VerbOutcome.NOT_APPLICABLE, SessionState.INIT)
        assert "INIT" in early.message
        assert not early
        assert sinks.events.lines == []
        orch.preflight()
        orch.activate()
        assert orch.request_stop("done").applied
        lines = len(sinks.events.lines)
        late = orch.kill("too late")
        assert (late.outcome, late.state) == (VerbOutcome.NOT_APPLICABLE, SessionState.STOPPED)
        assert len(sinks.events.lines) == lines
        assert orch.state is SessionState.STOPPED

    def test_a_kill_or_stop_too_early_says_what_keeps_the_session_from_trading(self):
        """Before the preflight nothing of the session is kept, so no verb applies: each
        says what keeps the session from trading (``close()``)."""
        orch, sinks = session()
        for verb in ("request_stop", "kill", "reduce_only", "reenable_trading"):
            early = getattr(orch, verb)("desk halt")
            assert (early.outcome, early.state) == (VerbOutcome.NOT_APPLICABLE, SessionState.INIT)
            assert early.message.startswith(f"the session is INIT: {verb}() does nothing"), early
            assert "close() it to keep it from ever trading" in early.message, early
        assert sinks.events.lines == []
        assert orch.preflight()
        assert orch.request_stop("desk halt").applied  # which it does: nothing traded
        assert (orch.state, orch.steps_done) == (SessionState.STOPPED, 0)
        assert sinks.audit_codes()[-1] == "C2_DRYRUN_STOP"

    def test_a_kill_before_the_activation_keeps_the_session_from_ever_trading(self):
        """A kill between the preflight and the activation said NOT_APPLICABLE (``nothing to
        kill yet``) while reduce_only applied there: the session then activated and traded
        as if no kill had come. It is the kill switch now: HALTED, recorded (flat at once:
        nothing was sent), and the session activates HALTED and steps without trading."""
        every_bar = ScriptedStrategy(lambda _n, _bar, _view: [buy("0.001")])
        orch, sinks = session(feed=ScriptedFeed(("40000.00",)), strategy=every_bar)
        assert orch.preflight()
        kill = orch.kill("desk halt")
        assert (kill.outcome, kill.state) == (VerbOutcome.APPLIED, SessionState.PREFLIGHT_OK)
        assert orch.trading_state is TradingState.HALTED
        assert orch.kill("desk halt").outcome is VerbOutcome.ALREADY
        types = [e["event_type"] for e in _events(sinks)]
        assert types[-2:] == ["KILL_SWITCH", "KILL_SWITCH_FLAT"]
        assert sinks.audit_codes()[-2:] == ["C2_KILL_SWITCH", "C2_KILL_SWITCH_FLAT"]
        orch.activate()
        orch.run_n_steps(5)
        assert orch.trading_state is TradingState.HALTED
        submitted = [e for e in _events(sinks) if e["event_type"] == "ORDER_SUBMITTED"]
        assert not submitted
        assert orch.reenable_trading("ops-1").applied  # an operator lifts it, as after any kill
        orch.run_n_steps(3)
        assert any(e["event_type"] == "ORDER_SUBMITTED" for e in _events(sinks))

    @pytest.mark.parametrize("verb", ["reduce_only", "reenable_trading"])
    def test_trading_verbs_need_a_session_that_may_trade(self, verb):
        """reduce_only/reenable_trading before preflight or after the stop change nothing."""
        orch, sinks = session()
        early = getattr(orch, verb)("ops-1")
        assert (early.outcome, early.state) == (VerbOutcome.NOT_APPLICABLE, SessionState.INIT)
        assert early.message.startswith(f"the session is INIT: {verb}() does nothing"), early
        orch.preflight()
        orch.activate()
        assert orch.request_stop("done").applied
        lines = len(sinks.events.lines)
        late = getattr(orch, verb)("ops-1")
        assert (late.outcome, late.state) == (VerbOutcome.NOT_APPLICABLE, SessionState.STOPPED)
        assert late.message == "the session is STOPPED"
        assert orch.trading_state is TradingState.ACTIVE
        assert len(sinks.events.lines) == lines

    def test_reduce_only_and_reenable_twice_say_already_and_record_nothing(self):
        """A verb that would change nothing records nothing: ``ALREADY``, as lifecycle.md says.

        ``reenable_trading`` while trading was ACTIVE said APPLIED and recorded a
        ``TRADING_REENABLED`` event and a ``C2_OPERATOR_REENABLE`` audit record, as if an
        operator had lifted a halt that never was.
        """
        orch, sinks = session()
        orch.preflight()
        orch.activate()
        orch.run_n_steps(3)
        lines, audit = len(sinks.events.lines), len(sinks.audit.lines)
        idle = orch.reenable_trading("ops-1")
        assert (idle.outcome, idle.message) == (VerbOutcome.ALREADY, "trading is already ACTIVE")
        assert (len(sinks.events.lines), len(sinks.audit.lines)) == (lines, audit)
        assert orch.reduce_only("review").applied
        assert orch.reduce_only("review").outcome is VerbOutcome.ALREADY
        assert orch.reenable_trading("ops-1").applied
        assert orch.reenable_trading("ops-1").outcome is VerbOutcome.ALREADY
        assert len(sinks.events_of("TRADING_REENABLED")) == 1

    def test_reenable_waits_until_the_kill_is_flat(self):
        """While the kill switch is still flattening, trading cannot be re-enabled."""
        broker = FaultBroker(latency_ns=90 * 1_000_000_000)
        orch, sinks = _armed(_position_and_resting_order(), broker=broker)
        orch.run_n_steps(3)
        orch.kill("drill")
        lines = len(sinks.events.lines)
        refused = orch.reenable_trading("ops-1")
        assert refused.outcome is VerbOutcome.NOT_APPLICABLE
        assert "KILL_SWITCH_FLAT" in refused.message
        assert orch.trading_state is TradingState.HALTED
        assert len(sinks.events.lines) == lines
        while not sinks.events_of("KILL_SWITCH_FLAT"):
            orch.step()
        orch.reenable_trading("ops-1")
        assert orch.trading_state is TradingState.ACTIVE
        reenabled = sinks.events_of("TRADING_REENABLED")[0]["payload"]
        assert reenabled == {"operator": "ops-1", "trading_state": "HALTED"}
