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


def _fill(book: Book, cid: str, side: Side, qty: str, price: str) -> None:
    book.add_order(
        Order(
            client_order_id=cid,
            symbol="BTC/USDT",
            side=side,
            quantity=D(qty),
            order_type=OrderType.MARKET,
        )
    )
    assert book.apply_fill(cid, f"t-{cid}", D(qty), D(price))


class TestMoney:
    """Equity and PnL are money, not prices: the price tick must not round them."""

    def test_a_round_trip_s_profit_is_not_rounded_to_the_tick(self):
        """0.1 bought at 38000 and sold at 38020 made 2.0, under a tick of 5 too."""
        book = Book(initial_cash=D("10000000"), price_tick=D("5"))
        _fill(book, "b", Side.BUY, "0.1", "38000")
        book.mark("BTC/USDT", D("38020"))
        assert book.equity() == D("10000002.0")
        _fill(book, "s", Side.SELL, "0.1", "38020")
        view = book.view()
        assert (view.cash, view.equity, view.pnl) == (D("10000002.0"), D("10000002.0"), D("2.0"))

    def test_a_loss_below_the_tick_is_kept(self):
        """A loss of 0.0143 under a tick of 0.05 is -0.0143, not 0.00."""
        book = Book(initial_cash=D("1000"), price_tick=D("0.05"))
        _fill(book, "b", Side.BUY, "0.143", "10.15")
        book.mark("BTC/USDT", D("10.05"))
        assert book.view().pnl == D("-0.0143")
        assert str(book.view().equity) == "999.98570"
