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
