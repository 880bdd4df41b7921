"""A position is never left naked: a protective leg the venue drops pulls the kill switch.

The legs of a protected entry (``take_profit_pct``, ``stop_loss_pct``) are what protects
its position. A leg the venue refuses (at once or later), one it cancels without the
session asking, or one never sent, while the position is held, left it unprotected without
a word but the leg's own ``ORDER_REJECTED`` or ``ORDER_CANCELED``. Now the step pulls the
kill switch (``PROTECTION_LOST``): trading HALTED, the other leg cancelled, the position
flattened (docs/risk.md, "Protected positions").
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy, sell
from livesession import Side, TradingState, client_order_id
from livesession._domain.model import Order
from livesession._session.assembly import SessionParts
from livesession._session.exits import OcoExits
from livesession._support.built import built
from livesession.testing import FaultBroker

from _helpers import session

D = Decimal
PROTECT = {"take_profit_pct": D("0.01"), "stop_loss_pct": D("0.01")}
STOP = client_order_id("t", "scripted", 1, "sl")
TAKE = client_order_id("t", "scripted", 1, "tp")
ENTRY = client_order_id("t", "scripted", 1)


def _run(closes, *, broker, script=None, steps=None, **cfg):
    """A session that buys 0.010 with protection on bar 1 and runs ``steps`` (all) bars."""
    orch, sinks = session(
        feed=ScriptedFeed(closes),
        strategy=ScriptedStrategy(script or at({1: [buy("0.010", **PROTECT)]})),
        broker=broker,
        **cfg,
    )
    orch.preflight()
    orch.activate()
    orch.run_n_steps(steps or len(closes))
    return orch, sinks


def _arm_at_leg(broker: FaultBroker, fault: str, leg: str = STOP) -> None:
    """Arm ``fault`` just as the leg ``leg`` reaches the venue (its send only)."""

    def on_submit(order: Order) -> None:
        if order.client_order_id == leg:
            broker.arm(fault)

    broker.on_submit = on_submit


def _kills(sinks) -> list[str]:
    return [e["payload"]["reason"] for e in sinks.events_of("KILL_SWITCH")]


def _flat(orch) -> bool:
    return not any(orch.book.positions.values()) and not orch.book.open_orders


def _venue_cancel(broker: FaultBroker, cid: str) -> None:
    """The venue cancels an order of its own accord (an expiry, a venue's risk check)."""
    broker._cancel(broker._open[cid], broker.now_ns)


class TestALegTheVenueDrops:
    @pytest.mark.parametrize("fault", ["reject", "reject_later"])
    def test_a_refused_stop_pulls_the_kill_switch_and_flattens(self, fault):
        """The stop is refused: the take profit protects no loss; killed, flat in bounded steps."""
        broker = FaultBroker(latency_ns=1)
        _arm_at_leg(broker, fault)
        orch, sinks = _run(["40000.00"] * 6, broker=broker)
        assert _kills(sinks) == ["PROTECTION_LOST"]
        assert orch.trading_state is TradingState.HALTED
        assert _flat(orch)
        assert sinks.events_of("KILL_SWITCH_FLAT")
        rejected = [e["payload"]["client_order_id"] for e in sinks.events_of("ORDER_REJECTED")]
        assert rejected == [STOP]

    def test_both_legs_refused_pull_the_kill_switch(self):
        broker = FaultBroker()

        def on_submit(order: Order) -> None:
            if order.reduce_only and order.oco_group:
                broker.arm("reject")

        broker.on_submit = on_submit
        orch, sinks = _run(["40000.00"] * 5, broker=broker)
        assert _kills(sinks) == ["PROTECTION_LOST"]
        assert _flat(orch)

    def test_a_stop_never_sent_pulls_the_kill_switch(self):
        """Every send of the stop failed (transient): it was never placed."""
        broker = FaultBroker()

        def on_submit(order: Order) -> None:
            if order.client_order_id == STOP:
                broker.arm("transient")

        broker.on_submit = on_submit
        orch, sinks = _run(["40000.00"] * 5, broker=broker)
        assert [e["payload"]["reason"] for e in sinks.events_of("ORDER_REJECTED")] == [
            "SEND_FAILED"
        ]
        assert _kills(sinks) == ["PROTECTION_LOST"]
        assert _flat(orch)

    def test_a_refused_take_profit_leaves_the_stop_protecting(self):
        """The stop still protects the position: no kill, the stop stays."""
        broker = FaultBroker()
        _arm_at_leg(broker, "reject", TAKE)
        orch, sinks = _run(["40000.00"] * 5, broker=broker)
        assert _kills(sinks) == []
        assert list(orch.book.open_orders) == [STOP]

    def test_the_venue_cancelling_every_leg_pulls_the_kill_switch(self):
        broker = FaultBroker()
        orch, sinks = _run(["40000.00"] * 6, broker=broker, steps=2)
        _venue_cancel(broker, TAKE)
        orch.step()
        assert _kills(sinks) == []  # the stop still protects
        _venue_cancel(broker, STOP)
        orch.run_n_steps(3)
        assert _kills(sinks) == ["PROTECTION_LOST"]
        assert _flat(orch)

    def test_a_stop_the_venue_cancelled_while_its_take_profit_rests(self):
        """Perhaps the venue's own OCO, the take profit's fill on its way: it waits the
        reconciler's grace (300 s, five steps) for that fill, then pulls the kill switch."""
        broker = FaultBroker()
        orch, sinks = _run(["40000.00"] * 12, broker=broker, steps=2)
        _venue_cancel(broker, STOP)
        orch.run_n_steps(5)
        assert _kills(sinks) == []
        assert list(orch.book.open_orders) == [TAKE]
        orch.run_n_steps(2)
        assert _kills(sinks) == ["PROTECTION_LOST"]
        assert _flat(orch)

    def test_the_venue_cancelling_the_rest_of_a_leg_that_filled_in_part(self):
        """The stop filled in part (the take profit cancelled), then the venue cancelled the
        rest of it: what is left of the position has no leg."""
        broker = FaultBroker()
        orch, sinks = _run(["40000.00"] * 8, broker=broker, steps=2)
        venue = broker._open[STOP]
        broker._execute(venue, D("0.004"), D("39600.00"), broker.now_ns)
        orch.step()
        assert orch.book.positions["BTC/USDT"] == D("0.006")
        assert _kills(sinks) == []  # the rest of the stop protects the rest
        _venue_cancel(broker, STOP)
        orch.run_n_steps(3)
        assert _kills(sinks) == ["PROTECTION_LOST"]
        assert _flat(orch)


class TestNotALoss:
    def test_a_venue_s_own_oco_cancel_before_the_late_fill_of_its_sibling(self):
        """Native OCO: the take profit executed, its fill is late, the stop's cancel comes
        first. The take profit is still open in the book: no kill, the position closes."""
        broker = FaultBroker()
        closes = ["40000.00", "40000.00", "40000.00", "40500.00"] + ["40500.00"] * 6
        orch, sinks = _run(closes, broker=broker, steps=3)
        broker.arm("late_fill")
        orch.run_n_steps(7)
        order = [
            (e["event_type"], e["payload"].get("client_order_id"))
            for e in map(orjson.loads, sinks.events.lines)
        ]
        assert order.index(("ORDER_CANCELED", STOP)) < order.index(("ORDER_FILLED", TAKE))
        assert _kills(sinks) == []
        assert _flat(orch)

    def test_a_leg_dropped_once_the_position_is_gone(self):
        """The strategy closed the position itself: the leg the venue drops protects nothing."""
        broker = FaultBroker()
        script = at({1: [buy("0.010", **PROTECT)], 3: [sell("0.010", reduce_only=True)]})
        orch, sinks = _run(["40000.00"] * 8, broker=broker, script=script, steps=4)
        assert not any(orch.book.positions.values())
        for cid in (STOP, TAKE):
            if cid in broker._open:
                _venue_cancel(broker, cid)
        orch.run_n_steps(3)
        assert _kills(sinks) == []

    def test_legs_dropped_while_flat_then_a_new_entry_in_the_same_poll(self):
        """Close and re-enter in one bar: the venue cancels the legs once the close left
        nothing to reduce, and the new entry's fill comes after in the same poll. The legs
        protected a position that was gone; the new one is not theirs: no kill (a market
        maker was halted by PROTECTION_LOST with every position covered)."""
        broker = FaultBroker()

        def on_submit(order: Order) -> None:
            if order.side is Side.BUY and order.client_order_id != ENTRY:
                for cid in (STOP, TAKE):  # the close executed: nothing left for the legs
                    _venue_cancel(broker, cid)

        broker.on_submit = on_submit
        script = at(
            {1: [buy("0.010", **PROTECT)], 3: [sell("0.010", reduce_only=True), buy("0.010")]}
        )
        orch, sinks = _run(["40000.00"] * 6, broker=broker, script=script)
        closed = [e["payload"]["client_order_id"] for e in sinks.events_of("ORDER_CANCELED")]
        assert sorted(closed) == sorted([STOP, TAKE])
        assert _kills(sinks) == []
        assert orch.book.positions["BTC/USDT"] == D("0.010")


def test_a_dropped_leg_not_judged_yet_survives_a_checkpoint():
    """A leg dropped after the step's last judgment (by the reconciler) is judged after a
    resume as it would have been: the checkpoint keeps it, and only then."""
    broker = FaultBroker()
    with built(SessionParts) as made:
        _run(["40000.00"] * 4, broker=broker, steps=2)
    (parts,) = made
    exits: OcoExits = parts.exits
    assert "lost_legs" not in exits.get_state()
    live = parts.book.open[STOP]
    parts.book.close_order(STOP)
    exits.on_leg_closed(live, rejected=True)
    state = exits.get_state()
    assert len(state["lost_legs"]) == 1
    assert state["lost_legs"][0]["at_ns"] == parts.time.ts_sim
    exits.take_lost()
    exits.set_state(state)
    assert exits.take_lost()
    parts.book.open[STOP] = live  # as the venue has it, so the run's end is clean


def test_a_stop_sent_in_doubt_that_the_venue_never_had_pulls_the_kill_switch():
    """The stop's send was lost before the venue saw it and no lookup answered: tracked in
    doubt (it may rest at the venue), then given up as never sent once the reconciler's
    grace ran out. The position had no stop: the kill follows."""
    broker = FaultBroker()

    def on_submit(order: Order) -> None:
        if order.client_order_id == STOP:
            broker.arm("timeout_before")
            broker.arm("lookup_down", times=3)

    broker.on_submit = on_submit
    orch, sinks = _run(["40000.00"] * 12, broker=broker, reconcile_grace_ms=120_000)
    given_up = [
        e["payload"] for e in sinks.events_of("ORDER_REJECTED") if e["payload"].get("error")
    ]
    assert [(g["client_order_id"], g["error"]) for g in given_up] == [(STOP, "OutcomeUnknown")]
    assert [e["payload"]["action"] for e in sinks.events_of("RECONCILED")] == ["NOT_SENT"]
    assert _kills(sinks) == ["PROTECTION_LOST"]
    assert _flat(orch)
