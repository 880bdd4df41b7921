"""Protective OCO exits: the legs, one-cancels-the-other, and nothing left open at stop."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy, sell
from livesession import (
    DryrunConfig,
    MockBroker,
    Order,
    OrderType,
    SessionState,
    Side,
    SmaCrossover,
    TradingState,
    client_order_id,
)
from livesession._domain.model import Bar
from livesession._rundir import create_run
from livesession._session.exits import Protection, protective_legs
from livesession.testing import FaultBroker
from livesession.verify import verify_run
from test_run_failures import _verify_memory

from _helpers import hold_at_venue, session

D = Decimal
PROTECT = {"take_profit_pct": D("0.01"), "stop_loss_pct": D("0.01")}


def _entry(side: Side = Side.BUY) -> Order:
    return Order(client_order_id="lsentry", symbol="BTC/USDT", side=side, quantity=D("0.010"))


def _legs(side: Side = Side.BUY, **protection):
    values = {"intent_seq": 7, **PROTECT, **protection}
    return protective_legs(
        _entry(side),
        quantity=D("0.010"),
        avg_price=D("40000.00"),
        protection=Protection(**values),
        price_tick=D("0.01"),
        run_id="r",
        strategy_id="s",
    )


class TestProtectiveLegs:
    def test_long_entry_gets_a_stop_below_and_a_take_profit_above(self):
        """A long is protected by a SELL STOP and a SELL LIMIT, reduce-only, one OCO group."""
        (sl_name, sl), (tp_name, tp) = _legs()
        assert (sl_name, tp_name) == ("sl", "tp")
        assert (sl.side, sl.order_type, sl.limit_price) == (
            Side.SELL,
            OrderType.STOP,
            D("39600.00"),
        )
        assert (tp.side, tp.order_type, tp.limit_price) == (
            Side.SELL,
            OrderType.LIMIT,
            D("40400.00"),
        )
        assert sl.reduce_only
        assert tp.reduce_only
        assert sl.oco_group == tp.oco_group == "lsentry"
        assert sl.quantity == tp.quantity == D("0.010")

    def test_short_entry_is_the_mirror_image(self):
        """A short is protected by a BUY STOP above and a BUY LIMIT below."""
        (_, sl), (_, tp) = _legs(Side.SELL)
        assert (sl.side, sl.limit_price) == (Side.BUY, D("40400.00"))
        assert (tp.side, tp.limit_price) == (Side.BUY, D("39600.00"))

    def test_child_ids_are_deterministic_from_the_intent(self):
        """The legs' ids are client_order_id(run, strategy, intent_seq, "sl"/"tp")."""
        (_, sl), (_, tp) = _legs()
        assert sl.client_order_id == client_order_id("r", "s", 7, "sl")
        assert tp.client_order_id == client_order_id("r", "s", 7, "tp")
        assert _legs() == _legs()

    def test_one_distance_gives_one_leg(self):
        """Only a stop distance: only the stop leg."""
        legs = _legs(take_profit_pct=None)
        assert [name for name, _ in legs] == ["sl"]

    def test_only_a_take_profit_distance_gives_only_the_take_profit(self):
        legs = _legs(stop_loss_pct=None)
        assert [name for name, _ in legs] == ["tp"]

    @pytest.mark.parametrize("pct", ["0", "-0.5"])
    def test_a_distance_of_zero_or_below_gives_no_leg(self, pct):
        """A leg at the entry price (or past it) would fill at once: none is made."""
        legs = _legs(stop_loss_pct=D(pct))
        assert [name for name, _ in legs] == ["tp"]

    def test_protection_survives_a_checkpoint(self):
        """to_json and from_json round-trip."""
        protection = Protection(intent_seq=3, take_profit_pct=D("0.02"), stop_loss_pct=None)
        assert Protection.from_json(protection.to_json()) == protection


def _protected_session(closes, *, broker=None, spread="0", **cfg):
    orch, sinks = session(
        feed=ScriptedFeed(closes, spread=spread),
        strategy=ScriptedStrategy(at({1: [buy("0.010", **PROTECT)]})),
        broker=broker or FaultBroker(),
        **cfg,
    )
    orch.preflight()
    orch.activate()
    return orch, sinks


def _legs_of(sinks) -> dict[str, dict]:
    return {
        e["payload"]["reason"]: e["payload"]
        for e in sinks.events_of("ORDER_SUBMITTED")
        if e["payload"].get("oco_group")
    }


class TestOcoInASession:
    def test_a_filled_entry_gets_its_legs(self):
        """Once the protected entry fills, a stop and a take profit rest in one group."""
        orch, sinks = _protected_session(["40000.00"] * 5)
        orch.step()
        legs = _legs_of(sinks)
        assert set(legs) == {"stop_loss", "take_profit"}
        assert legs["stop_loss"]["limit_price"] == "39600.00"
        assert legs["take_profit"]["limit_price"] == "40400.00"
        assert legs["stop_loss"]["oco_group"] == legs["take_profit"]["oco_group"]
        assert len(orch.book.open_orders) == 2

    def test_take_profit_fill_cancels_the_stop(self):
        """The take profit fills, the stop is cancelled, nothing stays open, the book is flat."""
        orch, sinks = _protected_session(["40000.00", "40000.00", "40500.00", "40500.00"])
        orch.run_n_steps(4)
        legs = _legs_of(sinks)
        filled = {e["payload"]["client_order_id"] for e in sinks.events_of("ORDER_FILLED")}
        canceled = {e["payload"]["client_order_id"] for e in sinks.events_of("ORDER_CANCELED")}
        stop = client_order_id("t", "scripted", 1, "sl")
        take = client_order_id("t", "scripted", 1, "tp")
        assert take in filled
        assert stop in canceled
        assert legs["take_profit"]["client_order_id"] == take
        assert orch.book.open_orders == ()
        assert not any(orch.book.positions.values())

    def test_stop_fill_cancels_the_take_profit(self):
        """The stop fills, the take profit is cancelled."""
        orch, sinks = _protected_session(["40000.00", "40000.00", "39500.00", "39500.00"])
        orch.run_n_steps(4)
        filled = {e["payload"]["client_order_id"] for e in sinks.events_of("ORDER_FILLED")}
        canceled = {e["payload"]["client_order_id"] for e in sinks.events_of("ORDER_CANCELED")}
        assert client_order_id("t", "scripted", 1, "sl") in filled
        assert client_order_id("t", "scripted", 1, "tp") in canceled
        assert orch.book.open_orders == ()

    def test_a_partial_leg_fill_cancels_the_sibling_at_once(self):
        """Without venue-side OCO, the session cancels the sibling on the first partial fill."""
        broker = FaultBroker(native_oco=False)
        orch, sinks = _protected_session(["40000.00", "40000.00", "40500.00"], broker=broker)
        orch.run_n_steps(2)
        broker.arm("split_fill")
        orch.run_n_steps(2)
        kinds = [
            (e["event_type"], e["payload"].get("client_order_id"))
            for e in map(orjson.loads, sinks.events.lines)
        ]
        take = client_order_id("t", "scripted", 1, "tp")
        stop = client_order_id("t", "scripted", 1, "sl")
        first_partial = kinds.index(("ORDER_PARTIALLY_FILLED", take))
        assert ("ORDER_CANCELED", stop) in kinds[first_partial:]
        assert ("ORDER_FILLED", take) in kinds
        assert not broker.open_orders()

    def test_a_leg_s_fill_cancels_its_sibling_itself(self):
        """Without venue-side OCO, the first fill of the take profit cancels the stop in the
        same step: one-cancels-the-other, not the reconciler's orphan pass after it."""
        broker = FaultBroker(native_oco=False)
        orch, sinks = _protected_session(["40000.00", "40000.00", "40500.00"], broker=broker)
        orch.run_n_steps(3)
        stop = client_order_id("t", "scripted", 1, "sl")
        canceled = {e["payload"]["client_order_id"] for e in sinks.events_of("ORDER_CANCELED")}
        assert stop in canceled
        assert sinks.events_of("RECONCILED") == []

    def test_a_sibling_whose_cancel_failed_is_cancelled_by_the_reconciler(self):
        """The take profit filled in part and the stop's cancel failed: the group's fill is
        kept, so the reconciler finds the stop an orphan (its position still held) and
        cancels it."""
        broker = FaultBroker(native_oco=False)
        orch, sinks = _protected_session(["40000.00", "40000.00", "40500.00"], broker=broker)
        orch.run_n_steps(2)
        broker.arm("split_fill")
        broker.arm("cancel_transient")
        orch.run_n_steps(1)
        stop = client_order_id("t", "scripted", 1, "sl")
        [reconciled] = sinks.events_of("RECONCILED")
        assert (reconciled["payload"]["action"], reconciled["payload"]["client_order_id"]) == (
            "CANCEL_REQUESTED",
            stop,
        )
        assert reconciled["payload"]["why"] == "sibling_filled"

    def test_stop_cancels_the_legs(self):
        """request_stop cancels both legs and flattens: no OCO leg survives the session."""
        orch, sinks = _protected_session(["40000.00"] * 5)
        orch.step()
        orch.request_stop("end of day")
        assert orch.state is SessionState.STOPPED
        assert orch.book.open_orders == ()
        canceled = {e["payload"]["client_order_id"] for e in sinks.events_of("ORDER_CANCELED")}
        assert {
            client_order_id("t", "scripted", 1, "sl"),
            client_order_id("t", "scripted", 1, "tp"),
        } <= canceled
        assert not any(orch.book.positions.values())

    def test_no_legs_while_halted(self):
        """An entry that fills after a kill gets no legs; the refusal is recorded."""
        broker = FaultBroker(latency_ns=30_000_000_000)
        orch, sinks = _protected_session(["40000.00"] * 6, broker=broker)
        orch.step()
        orch.kill("drill")
        orch.run_n_steps(3)
        assert orch.trading_state is TradingState.HALTED
        assert not _legs_of(sinks)
        refused = [e["payload"] for e in sinks.events_of("RISK_REJECTED")]
        assert {r["leg"] for r in refused} == {"sl", "tp"}
        assert {r["rule"] for r in refused} == {"TRADING_STATE"}
        assert not any(orch.book.positions.values())

    def test_the_throttle_does_not_refuse_a_filled_entry_s_legs(self):
        """EXECUTION_THROTTLE refuses the strategy's intents, not the protection of a
        position it holds: with max_executions = 1 reached by the entry's own fill, both
        legs are placed (no RISK_REJECTED) and the stop fills, a second execution."""
        orch, sinks = _protected_session(
            ["40000.00", "40000.00", "39500.00", "39500.00"], risk={"max_executions": 1}
        )
        orch.run_n_steps(3)
        assert set(_legs_of(sinks)) == {"stop_loss", "take_profit"}
        assert not sinks.events_of("RISK_REJECTED")
        (stopped,) = [
            e["payload"]
            for e in sinks.events_of("ORDER_FILLED")
            if e["payload"]["client_order_id"] == client_order_id("t", "scripted", 1, "sl")
        ]
        assert stopped["quantity"] == "0.010"
        assert not any(orch.book.positions.values())

    def test_no_legs_while_the_throttle_halts_trading(self):
        """As docs/risk.md says: HALTED sends no new order, whatever halted it, the legs
        included (the failure matrix holds every run to that). The throttle's halt cancels
        a resting entry (tests/test_halt_cancels.py), but one the venue filled just before
        (its fill report late, its cancel refused as not open) is held without its legs;
        the refusal is recorded."""
        entry = buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39900.00"), **PROTECT)
        broker = FaultBroker()
        orch, sinks = session(
            feed=ScriptedFeed(["40000.00", "39900.00", "39900.00", "39900.00"]),
            strategy=ScriptedStrategy(at({1: [entry, buy("0.001")], 2: [buy("0.001")]})),
            broker=broker,
            risk={"max_executions": 1},
        )
        orch.preflight()
        orch.activate()
        orch.step()
        broker.arm("late_fill")  # the entry fills at 39900.00 on bar 2; its report comes late
        orch.step()
        assert orch.trading_state is TradingState.HALTED  # the second buy met the throttle
        orch.run_n_steps(2)  # the entry's fill arrives
        assert orch.book.positions["BTC/USDT"] == D("0.011")
        assert not sinks.events_of("ORDER_CANCELED")  # the venue refused the halt's cancel
        assert not _legs_of(sinks)
        refused = [e["payload"] for e in sinks.events_of("RISK_REJECTED")]
        assert [(r["rule"], r.get("leg")) for r in refused] == [
            ("EXECUTION_THROTTLE", None),
            ("TRADING_STATE", "sl"),
            ("TRADING_STATE", "tp"),
        ]

    def test_the_legs_protect_only_what_the_entry_left_held(self, tmp_path):
        """Short 0.004, a protected BUY 0.010 leaves a long of 0.006: the legs (reduce-only
        SELLs) are for that 0.006. Before, they were for the entry's 0.010, so the stop
        filling sold 0.010 and left a short of 0.004 that nobody asked for, and the session
        pulled its own kill switch (REDUCE_ONLY_CROSSED) over orders it had sized itself."""
        orch, sinks = session(
            feed=ScriptedFeed(["40000.00", "40000.00", "40000.00", "39500.00", "39500.00"]),
            strategy=ScriptedStrategy(at({1: [sell("0.004")], 2: [buy("0.010", **PROTECT)]})),
            broker=FaultBroker(),
        )
        orch.preflight()
        orch.activate()
        orch.run_n_steps(5)
        legs = _legs_of(sinks)
        assert {leg["quantity"] for leg in legs.values()} == {"0.006"}
        assert not sinks.events_of("KILL_SWITCH")
        assert orch.trading_state is TradingState.ACTIVE
        assert not any(orch.book.positions.values())  # the stop closed the long, no more
        orch.close()
        _verify_memory(sinks, tmp_path / "run")

    def test_an_entry_that_only_closed_a_position_gets_no_legs(self, tmp_path):
        """Short 0.010, a protected BUY 0.010 only closes it: there is nothing to protect,
        and a reduce-only leg could only open a short. The legs are refused (REDUCE_ONLY,
        with the leg and the position), not sent; the run, its quantities on the lot's
        places included, verifies."""
        cfg = DryrunConfig(run_id="closed", strategy_id="scripted", steps=4)
        strategy = ScriptedStrategy(at({1: [sell("0.010")], 2: [buy("0.010", **PROTECT)]}))
        feed = ScriptedFeed(["40000.00"] * 4)
        run = create_run(cfg, tmp_path, strategy=strategy, feed=feed)
        run.run_to_end(4)
        run.close()
        events = list(
            map(orjson.loads, (tmp_path / "closed" / "events.jsonl").read_bytes().splitlines())
        )
        kinds = [e["event_type"] for e in events]
        assert not [e for e in events if e["payload"].get("oco_group")]
        refused = [e["payload"] for e in events if e["event_type"] == "RISK_REJECTED"]
        assert [(r["rule"], r["leg"], r["quantity"], r["position"]) for r in refused] == [
            ("REDUCE_ONLY", "sl", "0.010", "0.000"),
            ("REDUCE_ONLY", "tp", "0.010", "0.000"),
        ]
        assert "KILL_SWITCH" not in kinds
        verdict = verify_run(tmp_path / "closed")
        assert verdict.ok, verdict.violations

    def test_a_leg_left_without_a_position_is_cancelled_by_the_reconciler(self):
        """A leg whose position was closed another way is an orphan: RECONCILED, cancelled."""
        orch, sinks = session(
            feed=ScriptedFeed(["40000.00"] * 6),
            strategy=ScriptedStrategy(at({1: [buy("0.010", **PROTECT)], 2: [sell("0.010")]})),
            broker=FaultBroker(),
        )
        orch.preflight()
        orch.activate()
        orch.run_n_steps(3)
        reconciled = [e["payload"] for e in sinks.events_of("RECONCILED")]
        assert {(r["kind"], r["action"], r["why"]) for r in reconciled} == {
            ("ORPHAN_OCO_SIBLING", "CANCEL_REQUESTED", "position_gone")
        }
        assert {r["client_order_id"] for r in reconciled} == {
            client_order_id("t", "scripted", 1, "sl"),
            client_order_id("t", "scripted", 1, "tp"),
        }
        assert "C2_RECONCILED" in sinks.audit_codes()
        assert orch.book.open_orders == ()


class TestMockVenueOco:
    def test_a_bar_touching_both_legs_fills_only_the_stop(self):
        """Venue-side OCO: the stop (placed first) fills, the take profit is cancelled."""
        venue = MockBroker()
        hold_at_venue(venue, "0.010")  # the legs are reduce-only: there is a long to protect
        legs = _legs()
        venue.on_market(_bar(1, "40000.00", "40000.00"))
        for _, leg in legs:
            venue.submit(leg, 1)
        venue.on_market(_bar(2, "41000.00", "39000.00"))
        reports = venue.poll(10)
        fills = [r for r in reports if type(r).__name__ == "FillReport"]
        cancels = [r for r in reports if type(r).__name__ == "CancelReport"]
        assert {f.client_order_id for f in fills} == {legs[0][1].client_order_id}
        assert {c.client_order_id for c in cancels} == {legs[1][1].client_order_id}

    def test_a_resting_order_ignores_the_bar_it_was_placed_on(self):
        """Only bars after the order was placed can trigger it."""
        venue = MockBroker()
        hold_at_venue(venue, "0.010")
        (_, stop), _ = _legs()
        venue.submit(stop, 5)
        venue.on_market(_bar(5, "40000.00", "39000.00"))
        assert not [r for r in venue.poll(10) if type(r).__name__ == "FillReport"]
        venue.on_market(_bar(6, "40000.00", "39000.00"))
        assert [r for r in venue.poll(10) if type(r).__name__ == "FillReport"]


def _bar(ts: int, high: str, low: str) -> Bar:
    return Bar(
        symbol="BTC/USDT",
        ts_ns=ts,
        open=D(low),
        high=D(high),
        low=D(low),
        close=D(low),
        volume=D(1),
    )


class TestSmaDemoProtection:
    def test_protection_is_off_by_default(self):
        """The default demo config sends no OCO legs."""
        assert DryrunConfig().strategy.protect_pct == 0
        orch, sinks = session(steps=400)
        orch.run_to_end(400)
        assert not _legs_of(sinks)

    def test_protect_pct_attaches_oco_exits_and_the_run_verifies(self, tmp_path):
        """With strategy.protect_pct the demo's entries get legs, and the run verifies clean."""
        cfg = DryrunConfig(
            run_id="oco",
            steps=1500,
            strategy={"fast": 3, "slow": 8, "protect_pct": "0.003"},
            fill_model={"latency_ms": 30_000, "partial_fill_ratio": "0.5"},
        )
        orch = create_run(cfg, tmp_path, idempotency_backend="memory")
        result = orch.run_to_end(cfg.steps)
        assert result.status.value == "COMPLETED"
        report = verify_run(tmp_path / "oco")
        assert report.ok, report.violations
        assert orch.book.open_orders == ()

    @pytest.mark.parametrize("protect", ["-0.01"])
    def test_negative_protection_is_refused(self, protect):
        """A negative distance is a programming error."""
        with pytest.raises(ValueError):
            SmaCrossover(strategy_id="s", order_qty=D(1), protect_pct=D(protect))
