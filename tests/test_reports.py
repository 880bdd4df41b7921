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
from livesession._domain.cancels import STRATEGY_CANCEL
from livesession._domain.lifecycle import Trigger
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
from livesession._session.exits import Protection
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


def _wired(**cfg: object) -> tuple[SessionParts, ScriptedVenue, Sinks]:
    venue = ScriptedVenue()
    sinks = Sinks()
    parts = assemble(
        DryrunConfig(run_id="t", strategy_id="s", **cfg),  # type: ignore[arg-type]
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

    def test_a_poll_answered_ends_the_failure_streak(self):
        """Failed polls count in a row: one answered in between starts the count afresh."""
        parts, venue, _ = _wired(broker_max_consecutive_failures=2)
        _track(parts, "a")
        for down in (True, False, True):
            venue.down = down
            parts.reports.process()
        assert parts.broker_health.tripped is False
        parts.reports.process()  # the second failed poll in a row
        assert parts.broker_health.tripped is True

    def test_a_second_cancel_of_a_closed_order_is_a_duplicate(self):
        parts, venue, sinks = _wired()
        _track(parts, "a")
        venue.queued = [CancelReport(client_order_id="a", ts_ns=0)] * 2
        parts.reports.process()
        assert "a" in parts.book.closed  # until the venue confirms its final fills
        [duplicate] = sinks.events_of("DUPLICATE_REPORT")
        assert duplicate["payload"] == {
            "client_order_id": "a",
            "report": "CANCEL",
            "order": "CLOSED",
        }


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

    def test_the_first_fill_refused_is_the_one_the_result_names(self):
        """``unbooked``: the venue may hold another position than the book's. A second
        refused fill (a batch after the fault) does not replace the first."""
        parts, venue, _ = _wired()
        _track(parts, "a", qty="1")
        venue.queued = [_fill("a", "t1", "2")]
        assert parts.reports.process() is True  # the venue reported, though nothing applied
        first = "the venue's fill 't1' of a: its quantity 2 is more than the 1 left of the order"
        assert parts.reports.unbooked == first
        venue.queued = [_fill("a", "t2", "3")]
        parts.reports.process()
        assert parts.reports.unbooked == first

    def test_a_repeat_of_a_finished_order_s_fill_with_other_numbers_faults(self):
        """The order is done, its trade id booked: the same numbers again are a re-delivery,
        other numbers another trade under the same id, which the book cannot take."""
        parts, venue, sinks = _wired()
        _track(parts, "a")
        venue.queued = [_fill("a", "t1", "1", "100")]
        parts.reports.process()
        venue.queued = [_fill("a", "t1", "1", "100")]
        parts.reports.process()
        [duplicate] = sinks.events_of("DUPLICATE_REPORT")
        assert duplicate["payload"] == {
            "client_order_id": "a",
            "report": "FILL",
            "order": "DONE",
            "trade_id": "t1",
        }
        assert parts.lifecycle.reason == ""
        venue.queued = [_fill("a", "t1", "1", "101")]
        parts.reports.process()
        assert parts.lifecycle.reason == "BROKER_REPORT_INVALID"
        assert parts.lifecycle.detail == (
            "the venue's fill 't1' of a: its trade id repeats a fill of the order booked as "
            "1.000 at 100.00, with other numbers (1 at 101): not a re-delivery"
        )
        assert parts.book.position(SYMBOL) == D(1)

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

    def test_a_fill_28_digits_from_the_lot_faults_before_it_is_computed_with(self):
        """1E+25 is 10**28 lots of 0.001: more digits than Decimal keeps exactly (its
        remainder by the lot raises InvalidOperation), so it is refused as the venue's."""
        parts, venue, _ = _wired()
        _track(parts, "a")
        venue.queued = [_fill("a", "t1", "1E+25")]
        parts.reports.process()
        assert parts.lifecycle.reason == "BROKER_REPORT_INVALID"
        assert parts.lifecycle.detail.startswith(
            "the venue's fill 't1' of a: its quantity 10000000000000000000000000 is not"
        )
        assert parts.book.open["a"].filled == 0


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

    def test_an_order_finished_while_its_reports_are_held_holds_none_any_more(self):
        """Held reports of an order that is done are no longer awaited: nothing is owed."""
        parts, _, _ = _wired()
        parts.reports.set_state({"unmatched": [["b", [report_to_json(_ack("b"))]]]})
        assert parts.reports.owed()
        parts.reports.finish("b")
        assert parts.reports.held_orders() == frozenset()
        assert not parts.reports.owed()

    def test_a_report_on_an_order_sent_in_doubt_adopts_it_first(self):
        """The venue reports on it, so it has it: adopted (its evidence the report), then
        the report applies."""
        parts, venue, sinks = _wired()
        parts.idempotency.reserve("a", "fp")  # sent, its outcome unknown
        parts.book.add_order(
            Order(client_order_id="a", symbol=SYMBOL, side=Side.BUY, quantity=D(1)), in_doubt=True
        )
        venue.queued = [_ack("a")]
        parts.reports.process()
        [adopted] = sinks.events_of("RECONCILED")
        assert adopted["payload"] == {
            "action": "ADOPTED",
            "client_order_id": "a",
            "evidence": "report:AckReport",
        }
        [resolved] = sinks.events_of("ORDER_OUTCOME_RESOLVED")
        assert resolved["payload"] == {"client_order_id": "a", "resolution": "ADOPTED"}
        assert parts.book.open["a"].in_doubt is False
        assert len(sinks.events_of("ORDER_ACCEPTED")) == 1


class SendingVenue(ScriptedVenue):
    """Takes the orders and cancels the session sends (a protected entry's legs)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Order] = []
        self.cancelled: list[str] = []

    def submit(self, order: object, now_ns: int) -> None:
        assert isinstance(order, Order)
        self.sent.append(order)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self.cancelled.append(client_order_id)


def _protected(qty: str = "2") -> tuple[SessionParts, SendingVenue]:
    """A session with entry "a" (a BUY of ``qty``) resting, its exits asked for."""
    venue = SendingVenue()
    parts = assemble(
        DryrunConfig(run_id="t", strategy_id="s"),
        SessionEdges(broker=venue, **Sinks().kwargs()),  # type: ignore[arg-type]
        seal=lambda: None,
    )
    parts.lifecycle.transition(Trigger.PREFLIGHT_PASSED, "")
    parts.lifecycle.transition(Trigger.ACTIVATE, "")
    parts.idempotency.reserve("a", "fp")
    _track(parts, "a", qty=qty)
    protection = Protection(intent_seq=1, take_profit_pct=D("0.02"), stop_loss_pct=D("0.01"))
    parts.exits.watch("a", protection)
    return parts, venue


def _legs(venue: SendingVenue) -> list[tuple[Side, Decimal]]:
    return [(order.side, order.quantity) for order in venue.sent]


class TestExits:
    """A protected entry's legs follow what the venue reports of it."""

    def test_the_legs_go_out_once_the_entry_filled_in_full(self):
        parts, venue = _protected()
        venue.queued = [_fill("a", "t1", "1")]
        parts.reports.process()
        assert venue.sent == []  # half filled: no legs yet
        venue.queued = [_fill("a", "t2", "1")]
        parts.reports.process()
        assert _legs(venue) == [(Side.SELL, D(2)), (Side.SELL, D(2))]

    def test_an_entry_cancelled_after_a_partial_fill_protects_what_it_filled(self):
        parts, venue = _protected()
        venue.queued = [_fill("a", "t1", "0.5"), CancelReport(client_order_id="a", ts_ns=0)]
        parts.reports.process()
        assert _legs(venue) == [(Side.SELL, D("0.5")), (Side.SELL, D("0.5"))]

    def test_a_fill_after_the_strategy_s_cancel_still_gets_its_legs(self):
        parts, venue = _protected()
        assert parts.winddown.request_cancel("a", reason=STRATEGY_CANCEL) == "SENT"
        venue.queued = [CancelReport(client_order_id="a", ts_ns=0)]
        parts.reports.process()
        assert venue.sent == []  # nothing filled: nothing to protect, yet
        venue.queued = [_fill("a", "t1", "2")]  # it reached the venue before the cancel
        parts.reports.process()
        assert _legs(venue) == [(Side.SELL, D(2)), (Side.SELL, D(2))]

    def test_a_rejected_entry_s_exits_are_forgotten(self):
        parts, venue = _protected()
        assert list(parts.exits.get_state()["protect"]) == ["a"]
        venue.queued = [RejectReport(client_order_id="a", reason="VENUE_REJECT", ts_ns=0)]
        parts.reports.process()
        assert parts.exits.get_state()["protect"] == {}
        assert venue.sent == []


class TestBounds:
    """What the router keeps is bounded: 64 reports per order it does not know, 1024 such
    orders (the oldest dropped first), 512 finished orders (the oldest forgotten first)."""

    def test_at_most_64_reports_are_held_for_an_order_not_known(self):
        parts, venue, sinks = _wired()
        parts.idempotency.reserve("b", "fp")
        venue.queued = [_fill("b", f"t{n}", "1") for n in range(65)]
        parts.reports.process()
        _track(parts, "b", qty="100")
        parts.reports.process()
        assert len(sinks.events_of("ORDER_PARTIALLY_FILLED")) == 64
        assert parts.book.open["b"].filled == D(64)

    def test_at_most_1024_orders_not_known_are_held_the_oldest_dropped(self):
        parts, venue, _ = _wired()
        venue.queued = [_ack(f"o{n}") for n in range(1025)]
        parts.reports.process()
        assert parts.reports.held_orders() == frozenset(f"o{n}" for n in range(1, 1025))

    def test_the_512_orders_finished_last_are_remembered(self):
        """An order forgotten takes its booked fills with it."""
        parts, venue, _ = _wired()
        _track(parts, "o0")
        venue.queued = [_fill("o0", "t0", "1")]
        parts.reports.process()
        assert parts.reports.booked("o0") == {"t0": (D(1), D(100))}
        for n in range(1, 513):
            parts.reports.finish(f"o{n}")
        assert parts.reports.get_state()["finished"] == [f"o{n}" for n in range(1, 513)]
        assert parts.reports.booked("o0") == {}


class TestRemember:
    def test_the_fills_of_orders_the_session_knows_are_remembered_and_no_others(self):
        """A resume hands the router the run's fills: those of an order tracked or done
        (and not forgotten) are booked, so a repeat with other numbers is judged."""
        parts, _, _ = _wired()
        parts.reports.set_state({"finished": ["done"]})
        _track(parts, "open")
        parts.reports.remember(
            [
                ("done", "t1", D(1), D(100)),
                ("open", "t2", D(2), D(101)),
                ("gone", "t3", D(3), D(102)),
            ]
        )
        assert parts.reports.booked("done") == {"t1": (D(1), D(100))}
        assert parts.reports.booked("open") == {"t2": (D(2), D(101))}
        assert parts.reports.booked("gone") == {}


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
