"""The book's own interface: invariants and the read-only view."""

from __future__ import annotations

from decimal import Decimal

from livesession import Order, OrderType, Side
from livesession._session.book import Book

D = Decimal


def _book() -> Book:
    return Book(initial_cash=D("100000"), price_tick=D("0.01"))


def _order(cid: str = "c1") -> Order:
    return Order(
        client_order_id=cid,
        symbol="BTC/USDT",
        side=Side.BUY,
        quantity=D("0.010"),
        order_type=OrderType.MARKET,
    )


class TestInvariants:
    def test_a_book_built_from_fills_holds_its_invariants(self):
        book = _book()
        book.add_order(_order())
        assert book.apply_fill("c1", "t1", D("0.010"), D("40000.00"))
        assert book.invariant_violation() is None

    def test_a_position_that_is_not_the_sum_of_fills_is_named(self):
        book = _book()
        book.add_order(_order())
        book.apply_fill("c1", "t1", D("0.010"), D("40000.00"))
        book.positions["BTC/USDT"] = D("1.000")
        assert book.invariant_violation() == (
            "INVARIANT_POSITION",
            {"symbol": "BTC/USDT", "position": "1.000", "fills": "0.010"},
        )

    def test_an_order_filed_under_another_id_is_named(self):
        book = _book()
        book.add_order(_order("c1"))
        book.open["c2"] = book.open.pop("c1")
        assert book.invariant_violation() == ("INVARIANT_ORDER_ID", {"client_order_id": "c2"})


class TestView:
    def test_the_view_shows_ledger_and_day_peak(self):
        book = _book()
        book.add_order(_order())
        book.apply_fill("c1", "t1", D("0.010"), D("40000.00"))
        view = book.view()
        assert view.ledger == {"BTC/USDT": D("0.010")}
        assert view.positions == view.ledger
        assert view.day_peak_equity == D("100000")
        assert view.open_orders == ()


class TestReconcilerPictures:
    """The pictures the reconciler compares every step are kept while nothing changes; each
    change of what they show must show (a stale picture would hide a difference)."""

    def test_the_book_s_picture_follows_every_field_it_shows(self):
        book = _book()
        order = _order()
        book.add_order(order)
        live = book.open[order.client_order_id]
        first = live.local()
        assert live.local() is first  # kept: nothing changed
        assert (first.filled, first.in_doubt, first.cancel_requested) == (0, False, False)
        live.filled = D("0.005")
        assert live.local().filled == D("0.005")
        live.in_doubt = True
        assert live.local().in_doubt
        live.cancel_requested = True
        assert live.local().cancel_requested
        assert live.local(closed=True).closed
        assert not live.local().closed

    def test_the_venue_s_view_follows_its_fill_and_status(self):
        from livesession._domain.model import VenueOrderStatus
        from livesession.brokers._venue import VenueState

        venue = VenueState(order=_order())
        first = venue.view()
        assert venue.view() is first
        venue.filled = D("0.005")
        assert venue.view().filled_quantity == D("0.005")
        venue.status = VenueOrderStatus.PARTIALLY_FILLED
        assert venue.view().status is VenueOrderStatus.PARTIALLY_FILLED
