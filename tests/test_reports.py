"""The report router on its own: each venue report applied once, held, released, closed."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from decimal import Decimal

import attrs
import orjson

from _scripted import SYMBOL
from livesession import DryrunConfig, Transient
from livesession._domain.model import (
    AckReport,
    BrokerReport,
    CancelReport,
    FillReport,
    Order,
    RejectReport,
    Side,
    report_from_json,
    report_to_json,
)
from livesession._session import reports as reports_module
from livesession._session.assembly import SessionEdges, SessionParts, assemble
from livesession._support.logging import configure_logging, disable_logging

from _helpers import Sinks

D = Decimal


class ScriptedVenue:
    """Hands out the reports the test queued, all at the next poll."""

    kind = "mock"

    def __init__(self) -> None:
        self.queued: list[BrokerReport] = []
        self.down = False
        self.polls = 0

    def poll(self, now_ns: int) -> Sequence[BrokerReport]:
        self.polls += 1
        if self.down:
            raise Transient("connection refused")
        out, self.queued = self.queued, []
        return out

    def open_orders(self) -> Sequence[object]:
        return []

    def order_by_client_id(self, client_order_id: str) -> None:
        return None

    # The rest of the Broker protocol (a session refuses a broker that lacks any of it);
    # these tests route reports and never send, cancel or price an order.
    def on_market(self, bar: object) -> None:
        pass

    def submit(self, order: object, now_ns: int) -> None:
        raise AssertionError("the report tests send nothing")

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        raise AssertionError("the report tests cancel nothing")

    def close(self) -> None:
        pass


def _wired() -> tuple[SessionParts, ScriptedVenue, Sinks]:
    venue = ScriptedVenue()
    sinks = Sinks()
    parts = assemble(
        DryrunConfig(run_id="t", strategy_id="s"),
        SessionEdges(broker=venue, **sinks.kwargs()),  # type: ignore[arg-type]
        seal=lambda: None,
    )
    return parts, venue, sinks


def _track(parts: SessionParts, cid: str, qty: str = "1") -> Order:
    order = Order(client_order_id=cid, symbol=SYMBOL, side=Side.BUY, quantity=D(qty))
    parts.book.add_order(order)
    return order


def _fill(cid: str, trade_id: str, qty: str, price: str = "100") -> FillReport:
    return FillReport(
        client_order_id=cid, trade_id=trade_id, quantity=D(qty), price=D(price), ts_ns=0
    )


def _ack(cid: str) -> AckReport:
    return AckReport(client_order_id=cid, venue_order_id=f"v-{cid}", ts_ns=0)


class TestApply:
    def test_ack_is_recorded_once(self):
        parts, venue, sinks = _wired()
        _track(parts, "a")
        venue.queued = [_ack("a"), _ack("a")]
        parts.reports.process()
        venue.queued = [_ack("a")]
        parts.reports.process()
        [accepted] = sinks.events_of("ORDER_ACCEPTED")
        assert accepted["payload"] == {"client_order_id": "a", "venue_order_id": "v-a"}
        assert parts.book.open["a"].acked is True

    def test_fill_records_filled_and_position_and_counts_an_execution(self):
        parts, venue, sinks = _wired()
        _track(parts, "a")
        venue.queued = [_fill("a", "t1", "1", "100")]
        parts.reports.process()
        [filled] = sinks.events_of("ORDER_FILLED")
        assert filled["payload"] == {
            "client_order_id": "a",
            "trade_id": "t1",
            "symbol": SYMBOL,
            "side": "BUY",
            "quantity": "1.000",  # the venue's 1 and 100 at the lot's and the tick's places
            "price": "100.00",
            "filled": "1.000",
            "remaining": "0.000",
        }
        [position] = sinks.events_of("POSITION_CHANGED")
        assert position["payload"]["position"] == "1.000"
        assert position["payload"]["cash"] == str(D("100000.00") - D("1.000") * D("100.00"))
        assert parts.governor.executions == 1
        assert "a" not in parts.book.open
        assert parts.reports.get_state()["finished"] == ["a"]

    def test_partial_fill_then_duplicate_changes_nothing(self):
        parts, venue, sinks = _wired()
        _track(parts, "a", qty="2")
        venue.queued = [_fill("a", "t1", "0.5"), _fill("a", "t1", "0.5")]
        parts.reports.process()
        venue.queued = [_fill("a", "t1", "0.5")]
        parts.reports.process()
        [partial] = sinks.events_of("ORDER_PARTIALLY_FILLED")
        assert partial["payload"]["remaining"] == "1.500"
        assert len(sinks.events_of("POSITION_CHANGED")) == 1
        assert parts.governor.executions == 1
        assert parts.book.position(SYMBOL) == D("0.5")
        assert parts.book.open["a"].filled == D("0.5")

    def test_late_report_of_a_finished_order_is_dropped(self):
        parts, venue, sinks = _wired()
        _track(parts, "a")
        venue.queued = [_fill("a", "t1", "1")]
        parts.reports.process()
        venue.queued = [_fill("a", "t1", "1"), _ack("a")]
        parts.reports.process()
        assert parts.reports.held_orders() == frozenset()
        assert sinks.events_of("ORDER_ACCEPTED") == []
        assert parts.governor.executions == 1

    def test_a_poll_that_fails_delivers_nothing_and_raises_nothing(self):
        parts, venue, sinks = _wired()
        _track(parts, "a")
        venue.queued = [_ack("a")]
        venue.down = True
        parts.reports.process()
        assert venue.polls == 1
        assert sinks.events_of("ORDER_ACCEPTED") == []
        venue.down = False
        parts.reports.process()
        assert len(sinks.events_of("ORDER_ACCEPTED")) == 1


class TestInvalidFill:
    def test_a_fill_over_what_is_left_faults_and_the_batch_stops_there(self):
        parts, venue, sinks = _wired()
        _track(parts, "a", qty="1")
        _track(parts, "b", qty="1")
        venue.queued = [_fill("a", "t1", "0.4"), _fill("a", "t2", "0.7"), _fill("b", "t3", "1")]
        parts.reports.process()
        assert parts.lifecycle.reason == "BROKER_REPORT_INVALID"
        assert parts.lifecycle.detail == (
            "the venue's fill 't2' of a: its quantity 0.7 is more than the 0.600 left of the order"
        )
        assert parts.book.open["a"].filled == D("0.4")  # the first fill stands
        assert parts.book.open["b"].filled == 0  # nothing after the bad one is applied
        assert len(sinks.events_of("ORDER_PARTIALLY_FILLED")) == 1

    def test_a_repeat_of_the_last_fill_is_a_duplicate_not_an_overfill(self):
        parts, venue, sinks = _wired()
        _track(parts, "a", qty="2")
        venue.queued = [_fill("a", "t1", "1.5"), _fill("a", "t1", "1.5")]
        parts.reports.process()
        assert parts.lifecycle.reason == ""
        [duplicate] = sinks.events_of("DUPLICATE_REPORT")
        assert duplicate["payload"]["trade_id"] == "t1"

    def test_a_fill_off_the_lot_or_the_tick_faults(self):
        """The run could not record it on the grid; rounded, it would be a fill never made."""
        for fill, problem in (
            (_fill("a", "t1", "0.0005"), "its quantity 0.0005 is not a multiple of the qty_lot 0.001"),
            (_fill("a", "t1", "1", "100.005"), "its price 100.005 is not a multiple of the price_tick 0.01"),
        ):  # fmt: skip
            parts, venue, sinks = _wired()
            _track(parts, "a")
            venue.queued = [fill]
            parts.reports.process()
            assert parts.lifecycle.reason == "BROKER_REPORT_INVALID"
            assert parts.lifecycle.detail == f"the venue's fill 't1' of a: {problem}"
            assert parts.book.open["a"].filled == 0
            assert (
                sinks.events_of("ORDER_PARTIALLY_FILLED") == sinks.events_of("ORDER_FILLED") == []
            )


class TestHeld:
    def test_report_for_an_unknown_order_is_held_then_released(self):
        parts, venue, sinks = _wired()
        parts.idempotency.reserve("b", "fp")  # sent (a fill of an order never sent faults)
        venue.queued = [_ack("b"), _fill("b", "t9", "1")]
        parts.reports.process()
        assert parts.reports.held_orders() == frozenset({"b"})
        assert sinks.events_of("ORDER_FILLED") == []
        assert parts.book.position(SYMBOL) == 0
        parts.reports.process()  # still unknown: still held
        assert parts.reports.held_orders() == frozenset({"b"})
        _track(parts, "b")
        parts.reports.process()
        assert parts.reports.held_orders() == frozenset()
        assert len(sinks.events_of("ORDER_ACCEPTED")) == 1
        assert len(sinks.events_of("ORDER_FILLED")) == 1
        assert parts.book.position(SYMBOL) == D(1)

    def test_a_report_of_an_order_finished_beyond_the_cap_is_held_and_said(self, monkeypatch):
        """Past the finished-order cap, a repeated fill of a forgotten order is held, never
        booked twice, and the session log says the session no longer judges it: held
        silently, a repeat with other numbers (another trade under the same id) went
        uncaught without a word, where one of an order still remembered faults."""
        monkeypatch.setattr(reports_module, "_MAX_FINISHED", 2)
        parts, venue, sinks = _wired()
        log = io.StringIO()
        configure_logging(log, level=logging.WARNING)
        try:
            for n in range(3):
                parts.idempotency.reserve(f"o{n}", "fp")
                _track(parts, f"o{n}")
                venue.queued = [_fill(f"o{n}", f"t{n}", "1")]
                parts.reports.process()
            assert log.getvalue() == ""
            venue.queued = [_fill("o0", "t0", "1", "101")]  # o0 finished first: forgotten
            parts.reports.process()
        finally:
            disable_logging()
        assert parts.book.position(SYMBOL) == D(3)
        assert parts.reports.held_orders() == frozenset({"o0"})
        assert sinks.events_of("DUPLICATE_REPORT") == []
        (said,) = [orjson.loads(line) for line in log.getvalue().splitlines()]
        assert said["event"] == "report_held_order_unknown"
        assert (said["level"], said["client_order_id"], said["report"], said["trade_id"]) == (
            "warning",
            "o0",
            "FILL",
            "t0",
        )
        assert "nor among the 2 orders the session finished last" in said["message"]

    def test_a_report_held_before_the_set_is_full_says_nothing(self):
        parts, venue, _ = _wired()
        parts.idempotency.reserve("b", "fp")
        log = io.StringIO()
        configure_logging(log, level=logging.WARNING)
        try:
            venue.queued = [_fill("b", "t1", "1")]
            parts.reports.process()
        finally:
            disable_logging()
        assert parts.reports.held_orders() == frozenset({"b"})
        assert log.getvalue() == ""

    def test_waiting_fills_are_the_unapplied_fills_in_the_inbox(self):
        parts, _, sinks = _wired()
        _track(parts, "a", qty="2")
        state = {
            "inbox": [
                report_to_json(_ack("a")),
                report_to_json(_fill("a", "t1", "0.5")),
                report_to_json(_fill("a", "t2", "0.5")),
            ]
        }
        parts.reports.set_state(state)
        assert parts.reports.waiting_fills() == frozenset({"t1", "t2"})
        parts.reports.process()
        assert parts.reports.waiting_fills() == frozenset()
        assert len(sinks.events_of("ORDER_PARTIALLY_FILLED")) == 2
        assert parts.book.open["a"].filled == D(1)


class TestClose:
    def test_reject_closes_the_order(self):
        parts, venue, sinks = _wired()
        _track(parts, "a")
        venue.queued = [RejectReport(client_order_id="a", reason="VENUE_REJECT", ts_ns=0)]
        parts.reports.process()
        [rejected] = sinks.events_of("ORDER_REJECTED")
        assert rejected["payload"] == {"client_order_id": "a", "reason": "VENUE_REJECT"}
        assert parts.book.tracked("a") is None
        assert parts.reports.get_state()["finished"] == ["a"]

    def test_cancel_closes_the_order_and_a_racing_fill_still_applies(self):
        parts, venue, sinks = _wired()
        _track(parts, "a", qty="2")
        venue.queued = [_fill("a", "t1", "0.5"), CancelReport(client_order_id="a", ts_ns=0)]
        parts.reports.process()
        [canceled] = sinks.events_of("ORDER_CANCELED")
        assert canceled["payload"] == {"client_order_id": "a", "filled": "0.500"}
        assert "a" not in parts.book.open
        assert "a" in parts.book.closed  # until the venue confirms its final fills
        venue.queued = [_fill("a", "t2", "0.25"), CancelReport(client_order_id="a", ts_ns=0)]
        parts.reports.process()
        [late] = sinks.events_of("ORDER_PARTIALLY_FILLED")[1:]
        assert late["payload"]["after_cancel"] is True
        assert parts.book.position(SYMBOL) == D("0.75")
        assert len(sinks.events_of("ORDER_CANCELED")) == 1

    def test_a_fill_under_another_symbol_faults_and_one_under_the_order_s_applies(self):
        """The venue's word is about another position: not booked to this order's."""
        parts, venue, sinks = _wired()
        _track(parts, "a", qty="2")
        venue.queued = [
            attrs.evolve(_fill("a", "t1", "1"), symbol=SYMBOL),
            attrs.evolve(_fill("a", "t2", "1"), symbol="ETH/USDT"),
        ]
        parts.reports.process()
        assert parts.lifecycle.reason == "BROKER_REPORT_INVALID"
        assert parts.lifecycle.detail == (
            f"the venue's fill 't2' of a: the venue reported it under symbol 'ETH/USDT', "
            f"not the order's {SYMBOL!r}"
        )
        assert parts.book.open["a"].filled == D(1)  # the first, under the order's symbol
        assert len(sinks.events_of("ORDER_PARTIALLY_FILLED")) == 1


class TestState:
    def test_round_trip_of_inbox_unmatched_and_finished(self):
        parts, venue, _ = _wired()
        _track(parts, "a")
        venue.queued = [_fill("a", "t1", "1"), _ack("held")]
        parts.reports.process()
        parts.reports.set_state(
            {**parts.reports.get_state(), "inbox": [report_to_json(_fill("x", "t5", "1"))]}
        )
        state = parts.reports.get_state()
        assert state == {
            "unmatched": [["held", [report_to_json(_ack("held"))]]],
            "inbox": [report_to_json(_fill("x", "t5", "1"))],
            "finished": ["a"],
            # the fill the REDUCE_ONLY_CROSSED rule judges later reduce-only fills against
            "reduce_only_fills": {
                SYMBOL: {"position": "1.000", "fills": [[0, "1.000", False]], "unjudged": []}
            },
        }
        fresh, venue2, sinks2 = _wired()
        fresh.idempotency.reserve("x", "fp")  # sent (a fill of an order never sent faults)
        fresh.reports.set_state(state)
        assert fresh.reports.get_state() == state
        assert fresh.reports.held_orders() == frozenset({"held"})
        assert fresh.reports.waiting_fills() == frozenset({"t5"})
        venue2.queued = [_fill("a", "t1", "1")]  # "a" finished: dropped, not held
        _track(fresh, "held")
        fresh.reports.process()
        assert fresh.reports.held_orders() == frozenset({"x"})  # the inbox's fill, now held
        assert fresh.reports.waiting_fills() == frozenset()
        assert fresh.governor.executions == 0
        assert [e["payload"]["client_order_id"] for e in sinks2.events_of("ORDER_ACCEPTED")] == [
            "held"
        ]

    def test_a_fill_s_symbol_survives_a_checkpoint_and_none_writes_nothing(self):
        """A held fill keeps the venue's symbol through a checkpoint (a resumed session still
        refuses it); a fill without one is written as before (run bytes unchanged)."""
        fill = attrs.evolve(_fill("x", "t5", "1"), symbol="ETH/USDT")
        assert report_from_json(report_to_json(fill)) == fill
        assert "symbol" not in report_to_json(_fill("x", "t5", "1"))

    def test_empty_state_restores_empty(self):
        parts, _, _ = _wired()
        parts.reports.set_state({})
        assert parts.reports.get_state() == {"unmatched": [], "inbox": [], "finished": []}
