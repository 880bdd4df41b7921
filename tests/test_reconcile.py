"""The reconciler: pure classification and planning, then the session's use of it."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import attrs
import orjson
import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import (
    LiveSessionOrchestrator,
    Order,
    OrderType,
    SessionState,
    SessionStatus,
    Side,
    TradingState,
)
from livesession._domain.model import FillReport, VenueOrder, VenueOrderStatus
from livesession._reconcile.reconciler import (
    Comparison,
    Discrepancy,
    DiscrepancyKind,
    LocalOrder,
    ReconcilePlan,
    compare,
    distinct_fills,
    lookups_needed,
    plan,
    position_doubts,
)
from livesession._session.assembly import reconcile_grace_ns
from livesession.brokers.mock import FillModel, MockBroker
from livesession.testing import FaultBroker

from _helpers import Sinks, audit_chain_ok, session

D = Decimal
K = DiscrepancyKind
V = VenueOrderStatus
GRACE = 300
NOW = 1_000


def _local(cid: str = "a", *, qty: str = "1", filled: str = "0", **extra) -> LocalOrder:
    values = {
        "client_order_id": cid,
        "symbol": "BTC/USDT",
        "side": Side.BUY,
        "quantity": D(qty),
        "filled": D(filled),
    }
    values.update(extra)
    return LocalOrder(**values)


def _venue(cid: str = "a", *, qty: str = "1", filled: str = "0", status=V.NEW, **extra):
    values = {
        "client_order_id": cid,
        "symbol": "BTC/USDT",
        "side": Side.BUY,
        "quantity": D(qty),
        "filled_quantity": D(filled),
        "status": status,
    }
    values.update(extra)
    return VenueOrder(**values)


def _kinds(comparison) -> list[tuple[DiscrepancyKind, str]]:
    return [(d.kind, d.client_order_id) for d in comparison.discrepancies]


def _compare(local, venue_open=(), looked_up=None, positions=None, oco_filled=()):
    return compare(
        local,
        venue_open,
        looked_up or {},
        positions=positions if positions is not None else {"BTC/USDT": D(0)},
        oco_filled=oco_filled,
    )


class TestCompare:
    def test_agreement_finds_nothing(self):
        """An open order the venue lists as open, with equal fills, is no discrepancy."""
        comparison = _compare([_local(filled="0.4")], [_venue(filled="0.4")])
        assert comparison.discrepancies == ()

    def test_only_unlisted_orders_are_looked_up(self):
        """Lookups cost one call per tracked order the venue does not list as open."""
        local = [_local("a"), _local("b"), _local("c", closed=True)]
        assert lookups_needed(local, [_venue("a")]) == ("b", "c")

    def test_lookups_go_in_the_books_order(self):
        """Not by client order id (a hash): a venue that reports on an order once a lookup
        finds it (the ccxt broker) reports the fills of orders in doubt in the book's order."""
        local = [_local("c"), _local("a"), _local("b", closed=True)]
        assert lookups_needed(local, []) == ("c", "a", "b")

    def test_order_missing_at_venue(self):
        """The venue does not know an order the book has open."""
        comparison = _compare([_local("a")], looked_up={"a": None})
        assert _kinds(comparison) == [(K.ORDER_MISSING_AT_VENUE, "a")]
        assert comparison.discrepancies[0].detail["venue_status"] == "UNKNOWN"

    def test_order_closed_at_venue_without_a_report_is_missing(self):
        """The venue cancelled an order the book still has open."""
        comparison = _compare([_local("a")], looked_up={"a": _venue(status=V.CANCELED)})
        assert _kinds(comparison) == [(K.ORDER_MISSING_AT_VENUE, "a")]

    def test_order_unknown_locally(self):
        """The venue has an open order the book does not track."""
        comparison = _compare([], [_venue("x")])
        assert _kinds(comparison) == [(K.ORDER_UNKNOWN_LOCALLY, "x")]
        assert comparison.discrepancies[0].detail["local_state"] == "untracked"

    def test_quantity_mismatch(self):
        """Different quantities, or more fills here than at the venue, are a mismatch."""
        assert _kinds(_compare([_local(qty="2")], [_venue(qty="1")])) == [
            (K.QUANTITY_MISMATCH, "a")
        ]
        assert _kinds(_compare([_local(filled="0.5")], [_venue(filled="0.2")])) == [
            (K.QUANTITY_MISMATCH, "a")
        ]

    def test_fill_not_seen(self):
        """The venue executed more than the book has fills for."""
        comparison = _compare(
            [_local(filled="0.2")], [_venue(filled="0.5", status=V.PARTIALLY_FILLED)]
        )
        (item,) = comparison.discrepancies
        assert item.kind is K.FILL_NOT_SEEN
        assert (item.detail["local_filled"], item.detail["venue_filled"]) == ("0.2", "0.5")

    def test_closed_order_is_confirmed_when_the_venue_agrees(self):
        """A cancelled order whose venue fills equal the book's is confirmed, not reported."""
        comparison = _compare(
            [_local("a", filled="0.3", closed=True)],
            looked_up={"a": _venue(filled="0.3", status=V.CANCELED)},
        )
        assert comparison.discrepancies == ()
        assert comparison.confirmed_closed == ("a",)

    def test_order_in_doubt_that_the_venue_has_is_adoptable(self):
        """An order sent in doubt and found by client id can be adopted."""
        comparison = _compare([_local("a", in_doubt=True)], [_venue("a")])
        assert comparison.adoptable == ("a",)
        assert comparison.discrepancies == ()

    def test_orphan_oco_sibling_after_a_fill(self):
        """In a group where a leg filled, the unfilled leg is an orphan; the filled one is not."""
        legs = [
            _local("sl", side=Side.SELL, oco_group="g", reduce_only=True),
            _local("tp", side=Side.SELL, oco_group="g", reduce_only=True, filled="0.5"),
        ]
        venue = [_venue("sl", side=Side.SELL), _venue("tp", side=Side.SELL, filled="0.5")]
        comparison = _compare(legs, venue, positions={"BTC/USDT": D("0.5")}, oco_filled=["g"])
        assert _kinds(comparison) == [(K.ORPHAN_OCO_SIBLING, "sl")]
        assert comparison.discrepancies[0].detail["why"] == "sibling_filled"

    def test_orphan_oco_leg_without_a_position(self):
        """A reduce-only leg with nothing left to protect is an orphan."""
        leg = _local("sl", side=Side.SELL, oco_group="g", reduce_only=True)
        comparison = _compare([leg], [_venue("sl", side=Side.SELL)])
        assert comparison.discrepancies[0].detail["why"] == "position_gone"

    def test_a_leg_in_a_symbol_the_book_never_held_has_nothing_to_protect(self):
        """No position recorded for the leg's symbol is no position: the leg is an orphan."""
        leg = _local("sl", side=Side.SELL, oco_group="g", reduce_only=True)
        comparison = _compare([leg], [_venue("sl", side=Side.SELL)], positions={})
        assert comparison.discrepancies[0].detail == {
            "oco_group": "g",
            "why": "position_gone",
            "position": "0",
        }

    def test_a_leg_protecting_a_short_below_one_lot_is_no_orphan(self):
        """A reduce-only BUY leg while short 0.5 (or a SELL leg while long 0.5) still has a
        position to protect."""
        buy_leg = _local("sl", oco_group="g", reduce_only=True)
        short = _compare([buy_leg], [_venue("sl")], positions={"BTC/USDT": D("-0.5")})
        assert short.discrepancies == ()
        sell_leg = _local("sl", side=Side.SELL, oco_group="g", reduce_only=True)
        long = _compare(
            [sell_leg], [_venue("sl", side=Side.SELL)], positions={"BTC/USDT": D("0.5")}
        )
        assert long.discrepancies == ()

    @pytest.mark.parametrize("position", ["0", "0.5"])
    def test_a_buy_leg_without_a_short_to_protect_is_an_orphan(self, position):
        """Flat, or long 0.5: a reduce-only BUY leg protects nothing."""
        leg = _local("sl", oco_group="g", reduce_only=True)
        found = _compare([leg], [_venue("sl")], positions={"BTC/USDT": D(position)})
        assert found.discrepancies[0].detail["why"] == "position_gone"

    def test_every_leg_is_looked_at_past_orders_that_are_no_legs(self):
        """An order of no OCO group, or a leg being cancelled, before an orphan leg."""
        local = [
            _local("a"),
            _local("b", side=Side.SELL, oco_group="g", reduce_only=True, cancel_requested=True),
            _local("c", side=Side.SELL, oco_group="g", reduce_only=True),
        ]
        venue = [_venue("a"), _venue("b", side=Side.SELL), _venue("c", side=Side.SELL)]
        assert _kinds(_compare(local, venue)) == [(K.ORPHAN_OCO_SIBLING, "c")]

    def test_a_leg_being_cancelled_is_no_orphan(self):
        """A leg with a cancel request already out is left alone."""
        leg = _local("sl", side=Side.SELL, oco_group="g", reduce_only=True, cancel_requested=True)
        assert _compare([leg], [_venue("sl", side=Side.SELL)]).discrepancies == ()

    def test_every_order_is_compared_past_one_in_doubt_to_adopt(self):
        """An order sent in doubt that the venue has is adoptable, and the orders after it
        are compared as their own."""
        local = [_local("a", in_doubt=True), _local("b", filled="0.5")]
        comparison = _compare(local, [_venue("a"), _venue("b", filled="0.7")])
        assert comparison.adoptable == ("a",)
        assert _kinds(comparison) == [(K.FILL_NOT_SEEN, "b")]

    def test_an_order_the_book_closed_and_the_venue_lists_open_is_unknown_locally(self):
        """The book closed it (its cancel report came), yet the venue lists it open."""
        comparison = _compare([_local("a", closed=True)], [_venue("a")])
        assert _kinds(comparison) == [(K.ORDER_UNKNOWN_LOCALLY, "a")]
        assert comparison.discrepancies[0].detail["local_state"] == "closed"

    def test_differences_come_sorted_by_client_order_id_then_kind(self):
        """The order the events record them in: by client id (a position's has none, so it
        comes first), then kind, whatever found them first."""
        leg = _local("a", side=Side.SELL, oco_group="g", reduce_only=True)
        local = [leg, _local("b", filled="0.5")]
        comparison = compare(
            local,
            [_venue("a", side=Side.SELL), _venue("b", filled="0.7"), _venue("c")],
            {},
            positions={"BTC/USDT": D(0)},
            venue_positions={"BTC/USDT": D(1)},
        )
        assert _kinds(comparison) == [
            (K.POSITION_MISMATCH, ""),
            (K.ORPHAN_OCO_SIBLING, "a"),
            (K.FILL_NOT_SEEN, "b"),
            (K.ORDER_UNKNOWN_LOCALLY, "c"),
        ]

    def test_every_leg_is_looked_at_past_a_leg_that_still_protects(self):
        """A leg whose position is held and whose group had no fill, before an orphan."""
        local = [
            _local("a", side=Side.SELL, oco_group="g1", reduce_only=True),
            _local("b", side=Side.SELL, oco_group="g2", reduce_only=True),
        ]
        venue = [_venue("a", side=Side.SELL), _venue("b", side=Side.SELL)]
        found = _compare(local, venue, positions={"BTC/USDT": D(1)}, oco_filled=["g2"])
        assert _kinds(found) == [(K.ORPHAN_OCO_SIBLING, "b")]

    def test_no_verdict_without_an_answer(self):
        """An order neither listed nor looked up (the venue did not answer) yields nothing."""
        assert _compare([_local("a")]).discrepancies == ()


def _item(kind: DiscrepancyKind, cid: str = "a", **detail) -> Discrepancy:
    return Discrepancy(kind=kind, client_order_id=cid, detail=detail)


def _plan(
    *items,
    pending=None,
    escalated=(),
    adoptable=(),
    confirmed=(),
    now=NOW,
    grace=GRACE,
    hold_until_ns=0,
):
    comparison = Comparison(
        discrepancies=tuple(items), confirmed_closed=tuple(confirmed), adoptable=tuple(adoptable)
    )
    return plan(
        comparison,
        pending=pending or {},
        escalated=escalated,
        now_ns=now,
        grace_ns=grace,
        hold_until_ns=hold_until_ns,
    )


class TestPositions:
    """A venue that reports its positions: the book's must be what it holds, fills in flight
    counted. No order's comparison shows a fill the book never heard of."""

    def test_fills_in_flight_count_past_an_order_the_venue_gave_no_answer_about(self):
        """An ETH order the venue did not answer about leaves ETH without a verdict, and
        the BTC order after it still counts its fill in flight: no BTC difference."""
        local = [
            _local("a", symbol="ETH/USDT"),
            _local("b", filled="0"),
        ]
        found = compare(
            local,
            [_venue("b", filled="0.3")],
            {},
            positions={"BTC/USDT": D(0), "ETH/USDT": D(0)},
            venue_positions={"BTC/USDT": D("0.3"), "ETH/USDT": D(1)},
        )
        assert [d.kind for d in found.discrepancies] == [K.FILL_NOT_SEEN]

    def test_a_symbol_only_one_side_knows_is_held_at_nothing_on_the_other(self):
        found = compare(
            (),
            (),
            {},
            positions={"ETH/USDT": D("2")},
            venue_positions={"BTC/USDT": D("0.5")},
        )
        assert [d.detail for d in found.discrepancies] == [
            {
                "symbol": "BTC/USDT",
                "local_position": "0",
                "venue_position": "0.5",
                "fills_in_flight": "0",
            },
            {
                "symbol": "ETH/USDT",
                "local_position": "2",
                "venue_position": "0",
                "fills_in_flight": "0",
            },
        ]

    def test_a_position_the_venue_does_not_hold(self):
        found = compare(
            (),
            (),
            {},
            positions={"BTC/USDT": D("0.010")},
            venue_positions={"BTC/USDT": D("0.000")},
        )
        (item,) = found.discrepancies
        assert item.kind is K.POSITION_MISMATCH
        assert item.key == "POSITION_MISMATCH:BTC/USDT"
        assert item.to_json() == {
            "kind": "POSITION_MISMATCH",
            "symbol": "BTC/USDT",
            "local_position": "0.010",
            "venue_position": "0.000",
            "fills_in_flight": "0",
        }

    def test_a_venue_position_the_book_does_not_know(self):
        found = compare((), (), {}, positions={}, venue_positions={"ETH/USDT": D("-2")})
        assert [(d.kind, d.detail["symbol"]) for d in found.discrepancies] == [
            (K.POSITION_MISMATCH, "ETH/USDT")
        ]

    def test_fills_still_to_be_reported_explain_the_venue_s_position(self):
        """Bought 1 and sold 0.4 at the venue, nothing reported yet: the venue holds 0.6."""
        local = [_local("a"), _local("b", qty="0.4", side=Side.SELL)]
        looked_up = {
            "a": _venue("a", filled="1", status=V.FILLED),
            "b": _venue("b", qty="0.4", filled="0.4", status=V.FILLED, side=Side.SELL),
        }
        found = _compare(local, looked_up=looked_up, positions={"BTC/USDT": D(0)})
        plain_compare = found.discrepancies
        found = compare(
            local,
            (),
            looked_up,
            positions={"BTC/USDT": D(0)},
            venue_positions={"BTC/USDT": D("0.6")},
        )
        assert found.discrepancies == plain_compare  # the two FILL_NOT_SEEN, nothing more
        assert {d.kind for d in found.discrepancies} == {K.FILL_NOT_SEEN}

    def test_a_fill_in_flight_is_what_the_venue_filled_beyond_the_book(self):
        """The book has 0.3 of an order the venue filled 0.5 of: 0.2 on its way, and the
        venue's 0.5 is the book's 0.3 plus that."""
        found = compare(
            [_local("a", filled="0.3")],
            [_venue("a", filled="0.5")],
            {},
            positions={"BTC/USDT": D("0.3")},
            venue_positions={"BTC/USDT": D("0.5")},
        )
        assert _kinds(found) == [(K.FILL_NOT_SEEN, "a")]

    def test_no_position_verdict_without_an_answer_about_an_order(self):
        found = compare(
            [_local("a")],
            (),
            {},
            positions={"BTC/USDT": D(0)},
            venue_positions={"BTC/USDT": D("1")},
        )
        assert found.discrepancies == ()

    def test_a_venue_that_cannot_say_is_not_asked(self):
        found = compare((), (), {}, positions={"BTC/USDT": D("0.010")})
        assert found.discrepancies == ()

    def test_a_position_difference_waits_for_the_grace_and_the_resume_hold(self):
        comparison = compare((), (), {}, positions={"BTC/USDT": D("0.010")}, venue_positions={})
        key = "POSITION_MISMATCH:BTC/USDT"
        waiting = plan(comparison, pending={}, escalated=(), now_ns=NOW, grace_ns=GRACE)
        assert waiting.pending == {key: NOW}
        held = plan(
            comparison,
            pending={key: NOW},
            escalated=(),
            now_ns=NOW + GRACE,
            grace_ns=GRACE,
            hold_until_ns=NOW + GRACE,
        )
        assert held.escalate == ()  # a venue ahead of a resumed session could show it
        late = plan(
            comparison, pending={key: NOW}, escalated=(), now_ns=NOW + GRACE, grace_ns=GRACE
        )
        assert [d.key for d in late.escalate] == [key]

    def test_a_rewound_venue_s_position_difference_waits_for_the_grace_alone(self):
        """A venue a resume rewinds to the checkpoint (a simulated one) is never ahead of the
        run: one holding another position lost what it held at the crash, and no resume hold
        keeps the difference from the operator past its grace."""
        comparison = compare((), (), {}, positions={"BTC/USDT": D("0.010")}, venue_positions={})
        key = "POSITION_MISMATCH:BTC/USDT"
        hold = {"hold_until_ns": NOW + 10 * GRACE, "rewound": True}
        waiting = plan(comparison, pending={}, escalated=(), now_ns=NOW, grace_ns=GRACE, **hold)
        assert waiting.pending == {key: NOW}
        late = plan(
            comparison, pending={key: NOW}, escalated=(), now_ns=NOW + GRACE, grace_ns=GRACE, **hold
        )
        assert [d.key for d in late.escalate] == [key]


class TestPlan:
    def test_a_clean_comparison_needs_nothing(self):
        """No discrepancies: a clean plan with nothing pending."""
        decided = _plan()
        assert decided.clean
        assert decided.pending == {}

    def test_explainable_differences_wait_for_the_grace_period(self):
        """A fill not seen yet is pending first, escalated once it outlasts the grace."""
        item = _item(K.FILL_NOT_SEEN)
        first = _plan(item)
        assert first.clean
        assert first.pending == {"FILL_NOT_SEEN:a": NOW}
        later = _plan(item, pending=first.pending, now=NOW + GRACE)
        assert later.escalate == (item,)

    def test_a_difference_that_went_away_is_forgotten(self):
        """Pending keys not seen again are dropped."""
        assert _plan(pending={"FILL_NOT_SEEN:a": 0}).pending == {}

    def test_quantity_mismatch_is_escalated_at_once(self):
        """No report in flight explains different quantities."""
        item = _item(K.QUANTITY_MISMATCH)
        assert _plan(item).escalate == (item,)

    def test_adoption_and_orphan_cancels_happen_at_once(self):
        """Adopting an order in doubt and cancelling an orphan leg need no grace."""
        orphan = _item(K.ORPHAN_OCO_SIBLING, "leg", oco_group="g", why="sibling_filled")
        decided = _plan(orphan, adoptable=("a",))
        assert decided.adopt == ("a",)
        assert decided.cancel == (orphan,)

    def test_an_order_in_doubt_the_venue_never_shows_was_not_sent(self):
        """After the grace, an order in doubt the venue does not know counts as never sent."""
        item = _item(K.ORDER_MISSING_AT_VENUE, venue_status="UNKNOWN", in_doubt="true")
        decided = _plan(item, pending={item.key: 0}, now=GRACE)
        assert decided.not_sent == ("a",)
        assert decided.escalate == ()

    def test_an_order_the_venue_closed_is_closed_as_the_venue_says(self):
        """After the grace, an order cancelled at the venue (fills equal) is closed here too."""
        item = _item(K.ORDER_MISSING_AT_VENUE, venue_status="CANCELED")
        assert _plan(item, pending={item.key: 0}, now=GRACE).close == ("a",)

    def test_an_order_the_venue_does_not_know_is_escalated(self):
        """After the grace, an acknowledged order the venue never heard of goes to an operator."""
        item = _item(K.ORDER_MISSING_AT_VENUE, venue_status="UNKNOWN")
        assert _plan(item, pending={item.key: 0}, now=GRACE).escalate == (item,)

    def test_zero_grace_decides_now(self):
        """At activation nothing is in flight: grace 0 escalates at once."""
        item = _item(K.ORDER_UNKNOWN_LOCALLY, "x")
        assert _plan(item, grace=0).escalate == (item,)

    def test_a_resume_holds_only_what_a_venue_ahead_explains(self):
        """After a resume a fill not seen waits out the hold; an unknown order does not."""
        ahead = _item(K.FILL_NOT_SEEN, "f")
        lost = _item(K.ORDER_MISSING_AT_VENUE, "m", venue_status="UNKNOWN")
        closed = _item(K.ORDER_MISSING_AT_VENUE, "c", venue_status="CANCELED")
        pending = {ahead.key: 0, lost.key: 0, closed.key: 0}
        decided = _plan(ahead, lost, closed, pending=pending, now=GRACE, hold_until_ns=GRACE)
        assert decided.escalate == (lost,)
        assert decided.close == ()
        assert set(decided.pending) == {ahead.key, closed.key}

    def test_each_difference_is_decided_past_one_already_decided(self):
        """A difference already put to an operator, or a quantity mismatch escalated at
        once, leaves the differences after it to be decided as their own."""
        told = _item(K.FILL_NOT_SEEN, "a")
        mismatch = _item(K.QUANTITY_MISMATCH, "b")
        later = _item(K.FILL_NOT_SEEN, "c")
        decided = _plan(told, mismatch, later, escalated=("FILL_NOT_SEEN:a",), grace=0)
        assert decided.escalate == (mismatch, later)

    def test_each_difference_is_decided_past_an_orphan_to_cancel(self):
        """An orphan leg to cancel leaves the differences after it to be decided too."""
        orphan = _item(K.ORPHAN_OCO_SIBLING, "a")
        mismatch = _item(K.QUANTITY_MISMATCH, "b")
        decided = _plan(orphan, mismatch)
        assert decided.cancel == (orphan,)
        assert decided.escalate == (mismatch,)

    def test_a_plan_is_clean_only_with_nothing_to_do(self):
        """Any one thing to do makes a plan not clean."""
        item = _item(K.FILL_NOT_SEEN)
        for field, value in [
            ("adopt", ("a",)),
            ("not_sent", ("a",)),
            ("close", ("a",)),
            ("cancel", (item,)),
            ("escalate", (item,)),
            ("confirmed_closed", ("a",)),
        ]:
            assert not ReconcilePlan(**{field: value}).clean, field
        assert ReconcilePlan(pending={"FILL_NOT_SEEN:a": NOW}).clean

    def test_escalated_keys_are_not_escalated_again(self):
        """An operator hears about a difference once."""
        item = _item(K.QUANTITY_MISMATCH)
        decided = _plan(item, escalated={item.key})
        assert decided.escalate == ()
        assert decided.pending == {}

    def test_fills_are_deduplicated_by_trade_id(self):
        """The first report of each trade id counts; repeats are dropped."""
        fill = FillReport(client_order_id="a", trade_id="t1", quantity=D(1), price=D(1), ts_ns=0)
        other = FillReport(client_order_id="a", trade_id="t2", quantity=D(1), price=D(1), ts_ns=0)
        assert distinct_fills([fill, fill, other, fill]) == (fill, other)
        # Another order's fill with the same trade id (a self-trade's other side) is its own.
        mirror = attrs.evolve(fill, client_order_id="b")
        assert distinct_fills([fill, mirror, fill]) == (fill, mirror)


# -- the session ----------------------------------------------------------------------------------


def _running(broker: FaultBroker, script=None, **cfg) -> tuple[LiveSessionOrchestrator, Sinks]:
    orch, sinks = session(
        feed=ScriptedFeed(["40000.00"]),
        strategy=ScriptedStrategy(script or at({})),
        broker=broker,
        **cfg,
    )
    orch.preflight()
    orch.activate()
    return orch, sinks


def _foreign(cid: str = "lsforeign") -> Order:
    return Order(client_order_id=cid, symbol="BTC/USDT", side=Side.BUY, quantity=D("0.5"))


def _assert_escalated_at_the_end(orch: LiveSessionOrchestrator, sinks: Sinks) -> None:
    """Run ``orch`` to its end: the foreign order is escalated there, never sealed over."""
    orch.run_to_end(orch.config.steps)
    assert (orch.state, orch.status) == (
        SessionState.ERROR_REQUIRES_OPERATOR,
        SessionStatus.FAILED,
    )
    (escalated,) = sinks.events_of("RECONCILE_ESCALATED")
    (item,) = escalated["payload"]["discrepancies"]
    assert (item["kind"], item["client_order_id"]) == ("ORDER_UNKNOWN_LOCALLY", "lsforeign")
    fault = sinks.events_of("STATE_CHANGED")[-1]["payload"]
    assert (fault["from_state"], fault["trigger"], fault["reason"]) == (
        "STOPPING",
        "fault",
        "RECONCILE_MISMATCH",
    )
    assert "C2_OPERATOR_REQUIRED" in sinks.audit_codes()
    assert orch.get_state()["reconcile"]["pending"] == {}


class TestPositionDoubts:
    """What the session, status, report and evidence say of a venue that may hold another
    position than the book, from the escalated differences' JSON."""

    def test_a_position_mismatch_says_what_each_side_holds(self):
        item = Discrepancy(
            kind=K.POSITION_MISMATCH,
            client_order_id="",
            detail={
                "symbol": "BTC/USDT",
                "local_position": "0.000",
                "venue_position": "0.500",
                "fills_in_flight": "0",
            },
        )
        assert position_doubts([item.to_json()]) == (
            "the venue holds BTC/USDT 0.500, the book 0.000 (POSITION_MISMATCH)"
        )
        coming = attrs.evolve(item, detail={**item.detail, "fills_in_flight": "0.100"})
        assert position_doubts([coming.to_json()]) == (
            "the venue holds BTC/USDT 0.500, the book 0.000 and 0.100 in flight (POSITION_MISMATCH)"
        )

    def test_fills_the_venue_is_ahead_by_are_said_past_any_other_difference(self):
        """A difference without fills to compare (an order the venue does not know) says
        nothing, and the ones after it are still read."""
        unknown = _item(K.ORDER_MISSING_AT_VENUE, "a", venue_status="UNKNOWN")
        ahead = _item(K.FILL_NOT_SEEN, "b", local_filled="0.1", venue_filled="0.3")
        behind = _item(K.FILL_NOT_SEEN, "c", local_filled="0.3", venue_filled="0.3")
        assert position_doubts([d.to_json() for d in (unknown, ahead, behind)]) == (
            "the venue's fills of b: 0.3 filled at the venue, 0.1 in the book (FILL_NOT_SEEN)"
        )

    def test_every_difference_is_said_past_a_position_mismatch(self):
        position = _item(
            K.POSITION_MISMATCH,
            "",
            symbol="BTC/USDT",
            local_position="0",
            venue_position="0.5",
            fills_in_flight="0",
        )
        ahead = _item(K.FILL_NOT_SEEN, "b", local_filled="0.1", venue_filled="0.3")
        assert position_doubts([d.to_json() for d in (position, ahead)]) == (
            "the venue holds BTC/USDT 0.5, the book 0 (POSITION_MISMATCH); "
            "the venue's fills of b: 0.3 filled at the venue, 0.1 in the book (FILL_NOT_SEEN)"
        )

    def test_fills_in_flight_that_are_no_number_are_said_as_written(self):
        """A record whose fills_in_flight is no number (edited, another release's): said,
        never read as none."""
        item = {
            "kind": "POSITION_MISMATCH",
            "symbol": "BTC/USDT",
            "local_position": "0",
            "venue_position": "0.5",
            "fills_in_flight": "some",
        }
        assert position_doubts([item]) == (
            "the venue holds BTC/USDT 0.5, the book 0 and some in flight (POSITION_MISMATCH)"
        )


class TestReconcileInASession:
    def test_a_clean_session_emits_no_reconcile_events(self):
        """While book and venue agree, reconciliation writes nothing at all."""
        orch, sinks = session(
            steps=300, fill_model={"latency_ms": 90_000, "partial_fill_ratio": "0.5"}
        )
        orch.run_to_end(300)
        kinds = {orjson.loads(line)["event_type"] for line in sinks.events.lines}
        assert not kinds & {"RECONCILED", "RECONCILE_ESCALATED"}

    def test_a_foreign_order_at_start_is_escalated_at_once(self):
        """At activation an open order the session does not know needs an operator."""
        broker = FaultBroker()
        broker.plant(_foreign())
        orch, sinks = _running(broker)
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        (escalated,) = sinks.events_of("RECONCILE_ESCALATED")
        (item,) = escalated["payload"]["discrepancies"]
        assert (item["kind"], item["client_order_id"]) == ("ORDER_UNKNOWN_LOCALLY", "lsforeign")

    def test_escalation_path_events_audit_and_operator(self):
        """Unexplained difference: RECONCILE_ESCALATED, then the fault, audited in that order."""
        broker = FaultBroker()
        orch, sinks = _running(broker)
        orch.step()
        broker.plant(_foreign())
        orch.run_n_steps(10)
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert orch.status is SessionStatus.FAILED
        fault = sinks.events_of("STATE_CHANGED")[-1]["payload"]
        assert (fault["trigger"], fault["reason"]) == ("fault", "RECONCILE_MISMATCH")
        codes = sinks.audit_codes()
        escalated = codes.index("C2_RECONCILE_ESCALATED")
        assert codes[escalated + 1] == "C2_OPERATOR_REQUIRED"
        waited = (
            sinks.events_of("RECONCILE_ESCALATED")[0]["ts_sim"]
            - sinks.events_of("BAR")[1]["ts_sim"]
        )
        assert waited >= 300 * 1_000_000_000  # the grace period

    def test_operator_acknowledge_is_audited_and_stops(self):
        """acknowledge(): OPERATOR_ACK audited, STOPPING, STOPPED; status stays FAILED."""
        broker = FaultBroker()
        broker.plant(_foreign())
        orch, sinks = _running(broker)
        orch.acknowledge("ops-7")  # activation escalated; the operator takes it from here
        assert orch.state is SessionState.STOPPED
        assert orch.status is SessionStatus.FAILED
        (ack,) = sinks.events_of("OPERATOR_ACK")
        assert ack["payload"] == {"operator": "ops-7"}
        codes = sinks.audit_codes()
        assert codes.index("C2_OPERATOR_REQUIRED") < codes.index("C2_OPERATOR_ACK")
        assert codes[-1] == "C2_DRYRUN_STOP"
        assert audit_chain_ok(sinks.audit.lines)
        ack_record = next(orjson.loads(x) for x in sinks.audit.lines if b"C2_OPERATOR_ACK" in x)
        assert ack_record["payload"]["operator"] == "ops-7"

    @pytest.mark.parametrize(
        ("latency_s", "evidence"), [(0, "report:AckReport"), (90, "lookup:FILLED")]
    )
    def test_an_order_in_doubt_is_adopted_not_resent(self, latency_s, evidence):
        """Send timed out after the venue recorded it, lookups timed out: adopted, sent once."""
        broker = FaultBroker(latency_ns=latency_s * 1_000_000_000)
        orch, sinks = _running(broker, at({1: [buy("0.010")]}))
        broker.arm("timeout_after")
        broker.arm("lookup_down", 6)
        orch.step()
        (submitted,) = sinks.events_of("ORDER_SUBMITTED")
        assert submitted["payload"]["send_outcome"] == "UNKNOWN"
        orch.run_n_steps(2)
        (adopted,) = sinks.events_of("RECONCILED")
        assert adopted["payload"]["action"] == "ADOPTED"
        assert adopted["payload"]["evidence"] == evidence
        assert broker.recorded[submitted["payload"]["client_order_id"]] == 1
        assert orch.book.positions["BTC/USDT"] == D("0.010")

    def test_an_order_in_doubt_the_venue_never_got_is_given_up(self):
        """Every send attempt lost before the venue: after the grace, NOT_SENT, never resent."""
        broker = FaultBroker()
        orch, sinks = _running(broker, at({1: [buy("0.010")]}))
        broker.arm("timeout_before", 5)
        orch.step()
        cid = sinks.events_of("ORDER_SUBMITTED")[0]["payload"]["client_order_id"]
        assert orch.book.open_orders == (cid,)
        orch.run_n_steps(7)
        (given_up,) = sinks.events_of("RECONCILED")
        assert given_up["payload"]["action"] == "NOT_SENT"
        assert sinks.events_of("ORDER_REJECTED")[-1]["payload"]["reason"] == "SEND_FAILED"
        assert orch.book.open_orders == ()
        assert cid not in broker.recorded
        assert orch.state is SessionState.DRYRUN_ACTIVE

    def test_a_lost_cancel_report_is_closed_as_the_venue_says(self):
        """The venue cancelled an order but its report never came: closed after the grace."""
        broker = FaultBroker()
        orch, sinks = _running(
            broker, at({1: [buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39000.00"))]})
        )
        orch.step()
        (cid,) = orch.book.open_orders
        broker._cancel(broker._open[cid], 0)
        broker._due.clear()  # the cancel report is lost
        orch.run_n_steps(7)
        reconciled = sinks.events_of("RECONCILED")[0]["payload"]
        assert (reconciled["action"], reconciled["venue_status"]) == ("CLOSED", "CANCELED")
        assert orch.book.open_orders == ()
        assert orch.state is SessionState.DRYRUN_ACTIVE

    @pytest.mark.broken_run(
        "the resumed session writes the run's tail into fresh sinks: a partial run by design"
    )
    def test_resume_reconciles_before_the_first_step(self):
        """restore_state: the next step() reconciles first; a lost order escalates in grace."""
        broker = FaultBroker()
        script = at({1: [buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39000.00"))]})
        orch, _ = _running(broker, script)
        orch.step()
        state = orch.get_state()
        (cid,) = orch.book.open_orders
        broker.forget(cid)  # the venue lost an acknowledged order while the session was down
        again, sinks = session(
            feed=ScriptedFeed(["40000.00"]), strategy=ScriptedStrategy(at({})), broker=broker
        )
        again.restore_state(state, dict(orch.recorder.digests))
        again.step()
        key = f"ORDER_MISSING_AT_VENUE:{cid}"
        reconcile = again.get_state()["reconcile"]
        assert reconcile["pending"] == {key: state["ts_sim"]}  # seen before the step ran
        assert reconcile["hold_until_ns"] > state["ts_sim"]  # a replay hold is on...
        while again.state is SessionState.DRYRUN_ACTIVE:
            again.step()
        (escalated,) = sinks.events_of("RECONCILE_ESCALATED")
        # ...but a venue that does not know an order is never "ahead": no hold for that.
        assert escalated["ts_sim"] == state["ts_sim"] + reconcile_grace_ns(again.config)
        (item,) = escalated["payload"]["discrepancies"]
        assert (item["kind"], item["venue_status"]) == ("ORDER_MISSING_AT_VENUE", "UNKNOWN")

    @pytest.mark.broken_run(
        "the resumed session writes the run's tail into fresh sinks: a partial run by design"
    )
    def test_only_the_first_step_after_a_resume_reconciles_first(self):
        """restore_state: the first step asks the venue's open orders twice (its pass before
        the step, and the step's own); every later step once, as in an unresumed run."""

        class _Counting(FaultBroker):
            simulated = True  # a broker of the test's own declares itself

            def __init__(self) -> None:
                super().__init__()
                self.asked = 0

            def open_orders(self) -> Sequence[VenueOrder]:
                self.asked += 1
                return super().open_orders()

        orch, _ = _running(FaultBroker())
        orch.run_n_steps(2)
        state = orch.get_state()
        broker = _Counting()
        again, _sinks = session(
            feed=ScriptedFeed(["40000.00"]), strategy=ScriptedStrategy(at({})), broker=broker
        )
        again.restore_state(state, dict(orch.recorder.digests))
        asked = []
        for _ in range(4):
            before = broker.asked
            again.step()
            asked.append(broker.asked - before)
        assert asked == [2, 1, 1, 1]

    @pytest.mark.broken_run(
        "the resumed session writes the run's tail into fresh sinks: a partial run by design"
    )
    def test_resume_tells_a_recovering_venue_the_orders_of_the_book(self):
        """restore_state: a real venue's new broker (``RecoveringVenue``) hears of every
        order the checkpoint's book holds, with what the book has of it, so their reports
        after the checkpoint reach the book (the crashed process's broker tracked them)."""

        class _Recovering(FaultBroker):
            simulated = True  # a broker of the test's own declares itself

            def __init__(self) -> None:
                super().__init__()
                self.recovered: list[tuple[Order, dict[str, object]]] = []

            def recover(self, order: Order, **known: object) -> None:
                self.recovered.append((order, known))

        script = at({1: [buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39000.00"))]})
        orch, _ = _running(FaultBroker(), script)
        orch.step()
        orch.step()
        state = orch.get_state()
        (cid,) = orch.book.open_orders
        broker = _Recovering()
        again, _sinks = session(
            feed=ScriptedFeed(["40000.00"]), strategy=ScriptedStrategy(at({})), broker=broker
        )
        again.restore_state(state, dict(orch.recorder.digests))
        ((order, known),) = broker.recovered
        assert order.client_order_id == cid
        assert known == {
            "acked": True,
            "trade_ids": [],
            "filled": D(0),
            "closed": False,
            "booked": {},  # restored in process: no run's fills to read the numbers from
        }

    def test_a_foreign_order_in_the_last_steps_is_escalated_by_the_wind_down(self):
        """An order the session does not know, placed at the venue within the grace of the
        run's end: the wind-down waits the grace out and escalates it; the run never seals
        COMPLETED with the difference pending (it did, saying nothing)."""
        broker = FaultBroker()
        orch, sinks = _running(broker, steps=10)
        orch.run_n_steps(9)
        broker.plant(_foreign())
        _assert_escalated_at_the_end(orch, sinks)

    @pytest.mark.broken_run(
        "the resumed session writes the run's tail into fresh sinks: a partial run by design"
    )
    def test_a_foreign_order_placed_while_down_is_escalated_after_a_resume(self):
        """An order someone else placed while the run was down: the resume's hold keeps the
        difference pending past the run's end (the venue may be ahead of a re-run), so the
        run sealed COMPLETED with it pending in the checkpoint and no event, audit record or
        log line naming it. The wind-down decides on the grace alone: escalated."""
        orch, _ = _running(FaultBroker(), steps=20)
        orch.run_n_steps(2)
        state = orch.get_state()
        broker = FaultBroker()
        broker.plant(_foreign())  # while the run was down
        again, sinks = session(
            feed=ScriptedFeed(["40000.00"]),
            strategy=ScriptedStrategy(at({})),
            broker=broker,
            steps=20,
        )
        again.restore_state(state, dict(orch.recorder.digests))
        again.step()
        assert again.get_state()["reconcile"]["pending"] == {
            "ORDER_UNKNOWN_LOCALLY:lsforeign": state["ts_sim"]
        }
        _assert_escalated_at_the_end(again, sinks)

    def test_reconcile_state_survives_a_checkpoint(self):
        """Pending and escalated keys are part of get_state."""
        broker = FaultBroker()
        broker.plant(_foreign())
        orch, _ = _running(broker)
        state = orch.get_state()
        assert state["reconcile"]["escalated"] == ["ORDER_UNKNOWN_LOCALLY:lsforeign"]
        assert orch.trading_state is TradingState.ACTIVE

    def test_a_fill_the_book_never_heard_of_is_escalated(self):
        """The venue sold what the book holds, for an order the session never recorded.

        As after a crash inside a stop's wind-down whose flatten the resumed venue kept: the
        book held 0.010 while the venue was flat, every reduce-only sell after was cancelled
        at the venue, and no reconcile said so. The venue's position now says so.
        """
        broker = MockBroker()
        orch, sinks = session(
            feed=ScriptedFeed(["40000.00"]),
            strategy=ScriptedStrategy(at({1: [buy("0.010")]})),
            broker=broker,
        )
        orch.preflight()
        orch.activate()
        orch.run_n_steps(3)
        assert orch.book.positions["BTC/USDT"] == D("0.010")
        flatten = Order(
            client_order_id="lsnotinthebook",
            symbol="BTC/USDT",
            side=Side.SELL,
            quantity=D("0.010"),
            reduce_only=True,
        )
        broker.submit(flatten, orch.ts_sim)
        orch.run_n_steps(10)
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        (escalated,) = sinks.events_of("RECONCILE_ESCALATED")
        (item,) = escalated["payload"]["discrepancies"]
        assert item == {
            "kind": "POSITION_MISMATCH",
            "symbol": "BTC/USDT",
            "local_position": "0.010",
            "venue_position": "0.000",
            "fills_in_flight": "0",
        }
        fault = sinks.events_of("STATE_CHANGED")[-1]["payload"]
        assert (fault["trigger"], fault["reason"]) == ("fault", "RECONCILE_MISMATCH")

    def test_a_clean_mock_session_sees_no_position_difference(self):
        """Fills in flight for minutes (latency, partial fills) are no position difference."""
        orch, sinks = session(
            steps=300,
            broker=MockBroker(
                fill_model=FillModel(latency_ns=90_000_000_000, partial_fill_ratio=D("0.5"))
            ),
        )
        orch.run_to_end(300)
        kinds = {orjson.loads(line)["event_type"] for line in sinks.events.lines}
        assert not kinds & {"RECONCILED", "RECONCILE_ESCALATED"}
        assert orch.status is SessionStatus.COMPLETED


class TestKinds:
    @pytest.mark.parametrize("kind", list(DiscrepancyKind))
    def test_every_kind_has_a_stable_code(self, kind):
        """The kind's value is the code written into events."""
        assert kind.value == kind.name
