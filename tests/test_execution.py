"""Execution on its own: intents to orders, rails, the durable key, retries, doubt, flatten."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from _scripted import SYMBOL, buy, sell
from livesession import DryrunConfig, OrderType, TradingState
from livesession._artifacts.sinks import MemoryLineSink
from livesession._domain.ids import client_order_id
from livesession._domain.lifecycle import Trigger
from livesession._domain.model import Bar, Order, OrderIntent, Side
from livesession._domain.retry import RetryPolicy
from livesession._exceptions import SinkFailure
from livesession._risk.rails import execution_throttle, max_order_qty
from livesession._session.assembly import SessionEdges, SessionParts, assemble
from livesession.testing import FaultBroker

from _helpers import Sinks

D = Decimal
PRICE = D("100.00")
RETRY = RetryPolicy(max_attempts=3, base_delay_ns=1_000_000, max_delay_ns=8_000_000, seed=7)


def _wired(broker: FaultBroker, sinks: Sinks | None = None, **edges) -> tuple[SessionParts, Sinks]:
    """Collaborators wired by ``assemble`` around ``broker``, with a known last price."""
    sinks = Sinks() if sinks is None else sinks
    edges.setdefault("retry_policy", RETRY)
    parts = assemble(
        DryrunConfig(run_id="t", strategy_id="s"),
        SessionEdges(broker=broker, **edges, **sinks.kwargs()),
        seal=lambda: None,
    )
    ts = parts.time.ts_sim
    parts.time.set_time(ts)
    parts.book.mark(SYMBOL, PRICE)
    bar = Bar(symbol=SYMBOL, ts_ns=ts, open=PRICE, high=PRICE, low=PRICE, close=PRICE, volume=D(1))
    broker.on_market(bar)
    return parts, sinks


def _cid(seq: int, leg: str = "main") -> str:
    return client_order_id("t", "s", seq, leg)


def _order(seq: int, qty: str = "0.5", side: Side = Side.BUY) -> Order:
    return Order(client_order_id=_cid(seq), symbol=SYMBOL, side=side, quantity=D(qty))


class TestIntentToOrder:
    def test_signal_then_submitted_with_the_deterministic_client_id(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        parts.execution.handle_intent(buy("0.5", reason="cross"))
        assert parts.execution.intent_seq == 1
        [signal] = sinks.events_of("SIGNAL")
        assert signal["payload"] == {
            "intent_seq": 1,
            "symbol": SYMBOL,
            "side": "BUY",
            "quantity": "0.500",  # the lot's places (0.001)
            "reason": "cross",
        }
        [submitted] = sinks.events_of("ORDER_SUBMITTED")
        cid = _cid(1)
        assert submitted["payload"]["client_order_id"] == cid
        assert submitted["payload"]["intent_seq"] == 1
        assert submitted["payload"]["reason"] == "cross"
        assert submitted["payload"]["signal_id"] == sinks.events_of("SIGNAL")[0]["event_id"]
        assert "send_outcome" not in submitted["payload"]
        assert broker.recorded == {cid: 1}
        assert cid in parts.book.open
        assert parts.idempotency.get(cid).outcome == "submitted"

    def test_quantity_is_rounded_to_the_lot_and_dust_is_refused_on_the_record(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        parts.execution.handle_intent(buy("0.0004"))  # below one lot of 0.001: nothing sent
        parts.execution.handle_intent(buy("0.0124"))
        assert parts.execution.intent_seq == 2
        dust, signal = sinks.events_of("SIGNAL")
        assert (dust["payload"]["intent_seq"], dust["payload"]["quantity"]) == (1, "0.0004")
        [refused] = sinks.events_of("RISK_REJECTED")
        assert refused["payload"]["signal_id"] == dust["event_id"]
        assert (refused["payload"]["rule"], refused["payload"]["lot"]) == ("QTY_BELOW_LOT", "0.001")
        assert signal["payload"]["quantity"] == "0.012"
        assert broker.recorded == {_cid(2): 1}

    @pytest.mark.parametrize(
        ("asked", "sent"),
        [("0.0006", None), ("0.0019", "0.001"), ("0.0015", "0.001"), ("0.0025", "0.002")],
    )
    def test_a_quantity_is_rounded_down_to_the_lot_never_up(self, asked: str, sent: str | None):
        """Bug: the lot was reached half-even, so 0.0006 became an order for 0.001 and 0.0019
        one for 0.002, more than the strategy asked; a quantity is nothing below the lot
        (docs/risk.md: "nothing once rounded down to the lot")."""
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        parts.execution.handle_intent(buy(asked))
        [signal] = sinks.events_of("SIGNAL")
        if sent is None:
            assert signal["payload"]["quantity"] == asked  # the quantity asked, refused
            [refused] = sinks.events_of("RISK_REJECTED")
            assert refused["payload"]["rule"] == "QTY_BELOW_LOT"
            assert broker.recorded == {}
            return
        assert signal["payload"]["quantity"] == sent
        [submitted] = sinks.events_of("ORDER_SUBMITTED")
        assert submitted["payload"]["quantity"] == sent

    def test_a_rail_rejection_records_risk_rejected_and_sends_nothing(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker, rails=[max_order_qty(D("0.1"))])
        parts.execution.handle_intent(sell("0.5"))
        [signal] = sinks.events_of("SIGNAL")
        [rejected] = sinks.events_of("RISK_REJECTED")
        assert rejected["payload"] == {
            "intent_seq": 1,
            "signal_id": signal["event_id"],
            "rule": "MAX_ORDER_QTY",
            "symbol": SYMBOL,
            "side": "SELL",
            "quantity": "0.500",
            "limit": "0.1",
            "reason": "quantity 0.500 > max_order_qty 0.1",
        }
        assert sinks.events_of("ORDER_SUBMITTED") == []
        assert not broker.recorded
        assert not parts.book.open
        assert parts.governor.state is TradingState.ACTIVE

    def test_execution_throttle_halts_trading(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker, rails=[execution_throttle(2)])
        parts.governor.count_execution()
        parts.governor.count_execution()
        parts.execution.handle_intent(buy("0.5"))
        assert [e["payload"]["rule"] for e in sinks.events_of("RISK_REJECTED")] == [
            "EXECUTION_THROTTLE"
        ]
        assert parts.governor.state is TradingState.HALTED
        [changed] = sinks.events_of("TRADING_STATE_CHANGED")
        assert changed["payload"] == {
            "from": "ACTIVE",
            "to": "HALTED",
            "reason": "EXECUTION_THROTTLE",
        }
        assert not broker.recorded


class TestSendFaults:
    def test_transient_errors_are_retried_on_simulated_time(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        before = parts.time.ts_sim
        broker.arm("transient", times=2)
        parts.execution.handle_intent(buy("0.5"))
        assert broker.recorded == {_cid(1): 1}
        assert len(sinks.events_of("ORDER_SUBMITTED")) == 1
        waited = RETRY.delay_ns(_cid(1), 1) + RETRY.delay_ns(_cid(1), 2)
        assert parts.time.ts_sim == before + waited

    def test_transient_until_out_of_attempts_is_send_failed(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        broker.arm("transient", times=RETRY.max_attempts)
        parts.execution.handle_intent(buy("0.5"))
        assert not broker.armed  # every attempt was made
        assert not broker.recorded
        [rejected] = sinks.events_of("ORDER_REJECTED")
        assert rejected["payload"] == {
            "client_order_id": _cid(1),
            "intent_seq": 1,
            "reason": "SEND_FAILED",
            "error": "Transient",
            "signal_id": sinks.events_of("SIGNAL")[0]["event_id"],
        }
        assert sinks.events_of("ORDER_SUBMITTED") == []
        assert not parts.book.open
        assert parts.idempotency.get(_cid(1)).outcome == "not_sent"

    def test_venue_rejection_is_final(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        broker.arm("reject")
        assert parts.execution.send(_order(1), 1, reason="test") is False
        [rejected] = sinks.events_of("ORDER_REJECTED")
        assert rejected["payload"]["reason"] == "VENUE_REJECT"
        assert broker.recorded == {_cid(1): 1}
        assert parts.idempotency.get(_cid(1)).outcome == "rejected:VENUE_REJECT"

    def test_outcome_unknown_found_by_lookup_is_tracked_not_resent(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        broker.arm("timeout_after")  # the venue has it; the answer is lost
        assert parts.execution.send(_order(1), 1, reason="test") is True
        assert broker.recorded == {_cid(1): 1}
        assert parts.book.open[_cid(1)].in_doubt is False
        [submitted] = sinks.events_of("ORDER_SUBMITTED")
        assert "send_outcome" not in submitted["payload"]

    def test_outcome_unknown_not_at_the_venue_is_resent_once(self):
        broker = FaultBroker()
        parts, _ = _wired(broker)
        broker.arm("timeout_before")  # lost before the venue saw it; the lookup says so
        assert parts.execution.send(_order(1), 1, reason="test") is True
        assert broker.recorded == {_cid(1): 1}
        assert parts.book.open[_cid(1)].in_doubt is False

    def test_outcome_unknown_without_an_answer_is_tracked_in_doubt(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        broker.arm("timeout_before")
        broker.arm("lookup_down", times=RETRY.max_attempts + 1)
        assert parts.execution.send(_order(1), 1, reason="test") is True
        assert broker.recorded == {}  # never resent blindly
        assert parts.book.open[_cid(1)].in_doubt is True
        [submitted] = sinks.events_of("ORDER_SUBMITTED")
        assert submitted["payload"]["send_outcome"] == "UNKNOWN"
        assert parts.idempotency.get(_cid(1)).outcome == "unknown"


class TestReservedBefore:
    def test_a_key_the_venue_has_is_recovered_not_resent(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        order = _order(1)
        parts.idempotency.reserve(order.client_order_id, order.fingerprint())
        broker.submit(order, parts.time.ts_sim)  # the crashed run had sent it
        assert parts.execution.send(order, 1, reason="test") is True
        assert broker.recorded == {_cid(1): 1}
        assert parts.book.open[_cid(1)].in_doubt is False
        assert len(sinks.events_of("ORDER_SUBMITTED")) == 1
        assert parts.idempotency.get(_cid(1)).outcome == "recovered"

    def test_a_key_the_venue_cannot_answer_for_is_in_doubt(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        order = _order(1)
        parts.idempotency.reserve(order.client_order_id, order.fingerprint())
        broker.arm("lookup_down")
        assert parts.execution.send(order, 1, reason="test") is True
        assert broker.recorded == {}
        assert parts.book.open[_cid(1)].in_doubt is True
        [submitted] = sinks.events_of("ORDER_SUBMITTED")
        assert submitted["payload"]["send_outcome"] == "UNKNOWN"
        assert parts.idempotency.get(_cid(1)).outcome == "unknown"

    def test_a_key_the_venue_confirms_absent_is_sent(self):
        broker = FaultBroker()
        parts, _ = _wired(broker)
        order = _order(1)
        parts.idempotency.reserve(order.client_order_id, order.fingerprint())
        assert parts.execution.send(order, 1, reason="test") is True
        assert broker.recorded == {_cid(1): 1}
        assert parts.idempotency.get(_cid(1)).outcome == "submitted"

    def test_a_key_the_venue_cannot_answer_for_is_said_unknown_at_attempt_0(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        order = _order(1)
        parts.idempotency.reserve(order.client_order_id, order.fingerprint())
        broker.arm("lookup_down")
        parts.execution.send(order, 1, reason="test")
        [unknown] = sinks.events_of("ORDER_OUTCOME_UNKNOWN")
        assert unknown["payload"] == {
            "client_order_id": _cid(1),
            "operation": "submit",
            "attempt": 0,
        }

    def test_an_unknown_outcome_the_sink_refuses_leaves_the_order_tracked_in_doubt(self):
        """Recording that the venue may have it failed: the book tracks it in doubt before
        the failure goes on, so the wind-down's reconciler finds it."""
        broker = FaultBroker()
        sinks = Sinks()
        sinks.events = FailsOn("ORDER_OUTCOME_UNKNOWN")
        parts, _ = _wired(broker, sinks=sinks)
        order = _order(1)
        parts.idempotency.reserve(order.client_order_id, order.fingerprint())
        broker.arm("lookup_down")
        with pytest.raises(SinkFailure):
            parts.execution.send(order, 1, reason="test")
        assert parts.book.open[_cid(1)].in_doubt is True


class TestFlatten:
    def test_reduce_only_market_orders_against_every_position(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        book = parts.book
        for n, (symbol, side) in enumerate((("ETH/USDT", Side.SELL), (SYMBOL, Side.BUY)), 1):
            order = Order(client_order_id=f"c{n}", symbol=symbol, side=side, quantity=D("0.25"))
            book.add_order(order)
            assert book.apply_fill(order.client_order_id, f"x{n}", order.quantity, PRICE)
        book.positions["LTC/USDT"] = D(0)  # flat: no order
        parts.execution.intent_seq = 4
        parts.execution.flatten()
        submitted = [e["payload"] for e in sinks.events_of("ORDER_SUBMITTED")]
        assert [(p["symbol"], p["side"], p["quantity"]) for p in submitted] == [
            (SYMBOL, "SELL", "0.25"),
            ("ETH/USDT", "BUY", "0.25"),
        ]
        assert all(p["reduce_only"] is True for p in submitted)
        assert all(p["order_type"] == OrderType.MARKET.value for p in submitted)
        assert all(p["reason"] == "flatten" for p in submitted)
        assert [p["client_order_id"] for p in submitted] == [_cid(5, "flatten"), _cid(6, "flatten")]
        assert parts.execution.intent_seq == 6
        assert sinks.events_of("SIGNAL") == []

    def test_nothing_to_flatten_sends_nothing(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        parts.execution.flatten()
        assert sinks.events_of("ORDER_SUBMITTED") == []
        assert parts.execution.intent_seq == 0

    def test_a_flat_symbol_is_passed_over_to_the_ones_after_it(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        parts.book.positions["ADA/USDT"] = D(0)  # flat, and first in order
        parts.book.positions[SYMBOL] = D("0.25")
        parts.execution.flatten()
        [submitted] = [e["payload"] for e in sinks.events_of("ORDER_SUBMITTED")]
        assert (submitted["symbol"], submitted["side"]) == (SYMBOL, "SELL")


class FailsOn(MemoryLineSink):
    """An events sink the system refuses a line of ``event_type`` (a full disk)."""

    def __init__(self, event_type: str) -> None:
        super().__init__()
        self._refused = f'"event_type":"{event_type}"'.encode()

    def write_line(self, line: bytes) -> None:
        if self._refused in line:
            raise OSError(28, "No space left on device")
        super().write_line(line)


class TestRefusedSends:
    def test_an_intent_without_a_market_price_is_refused_on_the_record(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker, rails=[])
        no_price = OrderIntent(symbol="ETH/USDT", side=Side.BUY, quantity=D("0.5"))
        parts.execution.handle_intent(no_price)  # the feed gave no ETH price yet
        [refused] = sinks.events_of("RISK_REJECTED")
        assert refused["payload"]["rule"] == "NO_MARKET_PRICE"
        assert not broker.recorded

    def test_a_limit_price_off_the_tick_is_refused_on_the_record(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        intent = buy("0.5", order_type=OrderType.LIMIT, limit_price=D("99.005"))
        parts.execution.handle_intent(intent)
        [refused] = sinks.events_of("RISK_REJECTED")
        assert refused["payload"]["rule"] == "PRICE_OFF_TICK"
        assert not broker.recorded

    def test_a_send_whose_record_the_sink_refuses_leaves_the_order_tracked_in_doubt(self):
        """The retry of a failed send could not be recorded, after the venue may have got
        an attempt: the book tracks the order in doubt before the failure goes on."""
        broker = FaultBroker()
        sinks = Sinks()
        sinks.events = FailsOn("BROKER_CALL_RETRIED")
        parts, _ = _wired(broker, sinks=sinks)
        broker.arm("transient")
        with pytest.raises(SinkFailure):
            parts.execution.send(_order(1), 1, reason="test")
        assert parts.book.open[_cid(1)].in_doubt is True

    def test_a_send_that_raised_what_no_broker_should_is_tracked_and_recorded_in_doubt(self):
        """A broker of the caller's that raised a plain error (no BrokerError) from submit may
        have sent the order: it is tracked in doubt and its ORDER_SUBMITTED says so, with
        its links, before the error goes on."""
        broker = FaultBroker()
        parts, sinks = _wired(broker)

        def raises(order: Order) -> None:
            raise RuntimeError("the adapter's own bug")

        broker.on_submit = raises
        with pytest.raises(RuntimeError):
            parts.execution.send(_order(1), 1, reason="test", links={"signal_id": "s1"})
        assert parts.book.open[_cid(1)].in_doubt is True
        [submitted] = sinks.events_of("ORDER_SUBMITTED")
        assert submitted["payload"]["send_outcome"] == "UNKNOWN"
        assert submitted["payload"]["signal_id"] == "s1"
        assert parts.book.open[_cid(1)].event_id == submitted["event_id"]


class TestResendsWhileHalted:
    """A send that failed before reaching the venue, retried once trading is HALTED: what
    adds exposure and a protective leg are given up, a flatten order (reduce-only, no leg)
    is sent again."""

    @pytest.mark.parametrize(
        ("reduce_only", "oco_group", "resent"),
        [(False, None, False), (True, None, True), (True, "g", False)],
    )
    def test_only_a_flatten_order_is_sent_again(self, reduce_only, oco_group, resent):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        parts.book.positions[SYMBOL] = D("0.5")
        halted = []

        def halt_at_the_first_send(order: Order) -> None:
            if not halted:
                halted.append(order.client_order_id)
                parts.governor.halt()

        broker.on_submit = halt_at_the_first_send
        broker.arm("transient")
        order = Order(
            client_order_id=_cid(1),
            symbol=SYMBOL,
            side=Side.SELL,
            quantity=D("0.5"),
            order_type=OrderType.MARKET,
            reduce_only=reduce_only,
            oco_group=oco_group,
        )
        assert parts.execution.send(order, 1, reason="test") is resent
        assert broker.recorded == ({_cid(1): 1} if resent else {})
        if not resent:
            [rejected] = sinks.events_of("ORDER_REJECTED")
            assert rejected["payload"]["reason"] == "SEND_FAILED"


class TestWhatASendSays:
    """The records of a send's failures and of what became of it, and the broker's health
    (a failed call counts against it, an answer ends the streak)."""

    def test_each_retry_is_said_with_its_attempt_error_and_delay(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        broker.arm("transient", times=2)
        parts.execution.handle_intent(buy("0.5"))
        retried = [e["payload"] for e in sinks.events_of("BROKER_CALL_RETRIED")]
        assert retried == [
            {
                "operation": "submit",
                "client_order_id": _cid(1),
                "attempt": n,
                "error": "Transient",
                "delay_ns": RETRY.delay_ns(_cid(1), n),
            }
            for n in (1, 2)
        ]

    def test_failed_sends_count_against_the_broker_and_an_answer_ends_the_streak(self):
        broker = FaultBroker()
        parts, _ = _wired(broker)
        health = parts.broker_health
        broker.arm("transient")
        parts.execution.send(_order(1), 1, reason="test")
        assert (health.failures, health.failed_calls["submit"]) == (0, 1)  # sent at last
        broker.arm("timeout_after")  # recorded, the answer lost
        parts.execution.send(_order(2), 2, reason="test")
        assert (health.failures, health.failed_calls["submit"]) == (0, 2)  # the lookup answered
        broker.arm("transient")
        broker.arm("reject")
        assert parts.execution.send(_order(3), 3, reason="test") is False
        assert (health.failures, health.failed_calls["submit"]) == (0, 3)  # refused: an answer

    def test_a_lookup_that_fails_counts_against_the_broker(self):
        broker = FaultBroker()
        parts, _ = _wired(broker)
        health = parts.broker_health
        order = _order(1)
        parts.idempotency.reserve(order.client_order_id, order.fingerprint())
        broker.arm("lookup_down")
        parts.execution.send(order, 1, reason="test")
        assert (health.failures, health.failed_calls["lookup"]) == (1, 1)
        again = _order(2)
        parts.idempotency.reserve(again.client_order_id, again.fingerprint())
        parts.execution.send(again, 2, reason="test")  # the venue answers: not there
        assert health.failures == 0

    @pytest.mark.parametrize(
        ("fault", "resolution"), [("timeout_after", "AT_VENUE"), ("timeout_before", "NOT_AT_VENUE")]
    )
    def test_a_timed_out_send_is_said_unknown_then_resolved(self, fault, resolution):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        broker.arm(fault)
        parts.execution.send(_order(1), 1, reason="test")
        [unknown] = sinks.events_of("ORDER_OUTCOME_UNKNOWN")
        assert unknown["payload"] == {
            "client_order_id": _cid(1),
            "operation": "submit",
            "attempt": 1,
        }
        [resolved] = sinks.events_of("ORDER_OUTCOME_RESOLVED")
        assert resolved["payload"] == {"client_order_id": _cid(1), "resolution": resolution}

    def test_a_timed_out_send_the_venue_cannot_answer_for_is_not_resolved(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        broker.arm("timeout_before")
        broker.arm("lookup_down", times=RETRY.max_attempts + 1)
        parts.execution.send(_order(1), 1, reason="test")
        assert len(sinks.events_of("ORDER_OUTCOME_UNKNOWN")) == 1
        assert sinks.events_of("ORDER_OUTCOME_RESOLVED") == []

    def test_an_order_sent_counts_for_the_pace_rail(self):
        broker = FaultBroker()
        parts, _ = _wired(broker)
        parts.execution.handle_intent(buy("0.5"))
        assert parts.governor.orders_this_second(parts.time.ts_sim) == 1

    def test_a_lookup_that_gets_no_answer_is_asked_again_after_a_wait_said_each_time(self):
        """A timed-out send: one lookup and ``max_attempts`` more, each after a wait on
        simulated time and a BROKER_CALL_RETRIED; none answered, so nothing is resolved."""
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        before = parts.time.ts_sim
        broker.arm("timeout_before")
        broker.arm("lookup_down", times=RETRY.max_attempts + 1)
        parts.execution.send(_order(1), 1, reason="test")
        assert list(broker.armed) == []  # every lookup was made, and no more
        delays = [RETRY.delay_ns(f"lookup:{_cid(1)}", n) for n in range(1, RETRY.max_attempts + 1)]
        retried = [e["payload"] for e in sinks.events_of("BROKER_CALL_RETRIED")]
        assert retried == [
            {
                "operation": "lookup",
                "client_order_id": _cid(1),
                "attempt": n,
                "error": "OutcomeUnknown",
                "delay_ns": delay,
            }
            for n, delay in enumerate(delays, 1)
        ]
        assert parts.time.ts_sim == before + sum(delays)
        assert sinks.events_of("ORDER_OUTCOME_RESOLVED") == []


class TestWhatTheRailsSee:
    def test_open_exposure_counts_what_resting_orders_add(self):
        broker = FaultBroker()
        seen = []

        def looks(intent, ctx):
            seen.append(ctx)

        parts, _ = _wired(broker, rails=[looks])
        parts.execution.handle_intent(buy("0.2", order_type=OrderType.LIMIT, limit_price=D("99")))
        parts.execution.handle_intent(buy("0.1", order_type=OrderType.LIMIT, limit_price=D("98")))
        assert seen[-1].open_exposure == D("19.8")

    def test_a_reduce_only_intent_counts_what_the_other_orders_close_first(self):
        """Long 0.5 with a SELL 0.5 limit resting: a reduce-only SELL 0.5 would leave the
        limit to open a short, so it is refused (REDUCE_ONLY)."""
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        parts.book.positions[SYMBOL] = D("0.5")
        parts.execution.handle_intent(sell("0.5", order_type=OrderType.LIMIT, limit_price=D("101")))
        parts.execution.handle_intent(sell("0.5", reduce_only=True))
        [refused] = sinks.events_of("RISK_REJECTED")
        assert (refused["payload"]["rule"], refused["payload"]["intent_seq"]) == ("REDUCE_ONLY", 2)
        assert list(broker.recorded) == [_cid(1)]


class TestProtectionAsked:
    """An entry that asks for a stop loss or a take profit gets its legs once it fills; an
    exit (reduce-only) gets none, whatever it asked."""

    @staticmethod
    def _leg_events(sinks: Sinks, cid: str) -> list[str]:
        return [
            e["event_type"]
            for e in map(orjson.loads, sinks.events.lines)
            if e["payload"].get("client_order_id") == cid
        ]

    def test_an_entry_asking_only_for_a_stop_gets_its_stop(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        parts.lifecycle.transition(Trigger.PREFLIGHT_PASSED, "test")
        parts.lifecycle.transition(Trigger.ACTIVATE, "test")
        parts.execution.handle_intent(buy("0.5", stop_loss_pct=D("0.01")))
        parts.reports.process()
        assert parts.book.position(SYMBOL) == D("0.5")
        assert self._leg_events(sinks, _cid(1, "sl"))[:1] == ["ORDER_SUBMITTED"]
        assert self._leg_events(sinks, _cid(1, "tp")) == []

    def test_an_exit_asking_for_a_take_profit_gets_none(self):
        broker = FaultBroker()
        parts, sinks = _wired(broker)
        parts.lifecycle.transition(Trigger.PREFLIGHT_PASSED, "test")
        parts.lifecycle.transition(Trigger.ACTIVATE, "test")
        parts.execution.handle_intent(buy("0.5"))
        parts.reports.process()
        parts.execution.handle_intent(sell("0.5", reduce_only=True, take_profit_pct=D("0.01")))
        parts.reports.process()
        assert parts.book.position(SYMBOL) == 0
        assert self._leg_events(sinks, _cid(2, "tp")) == []

    def test_an_entry_the_venue_refuses_later_leaves_no_protection_behind(self):
        """Its protection is forgotten with it: nothing is left for the checkpoint."""
        broker = FaultBroker()
        parts, _ = _wired(broker)
        parts.lifecycle.transition(Trigger.PREFLIGHT_PASSED, "test")
        parts.lifecycle.transition(Trigger.ACTIVATE, "test")
        broker.arm("reject_later")
        parts.execution.handle_intent(buy("0.5", stop_loss_pct=D("0.01")))
        assert list(parts.exits.get_state()["protect"]) == [_cid(1)]
        parts.reports.process()
        assert not parts.book.open
        assert parts.exits.get_state()["protect"] == {}


class TestState:
    def test_intent_seq_round_trip(self):
        first, _ = _wired(FaultBroker())
        first.execution.handle_intent(buy("0.5"))
        first.execution.handle_intent(buy("0.5"))
        state = first.execution.get_state()
        assert state == {"intent_seq": 2}
        broker = FaultBroker()
        second, sinks = _wired(broker)
        second.execution.set_state(state)
        assert second.execution.get_state() == state
        second.execution.handle_intent(buy("0.5"))
        [submitted] = sinks.events_of("ORDER_SUBMITTED")
        assert submitted["payload"]["intent_seq"] == 3
        assert broker.recorded == {_cid(3): 1}
