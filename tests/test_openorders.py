"""The open orders' kept sums equal, digit for digit, the book's sums worked out anew.

``Book.open_quantity`` and ``Book.stop_risk`` reach the rails' context of every new order
(and so PORTFOLIO_HEAT rejections): kept as the orders open, fill and close
(``OpenOrders``), they must give what summing every open order from zero gave, written
the same (``100.0`` is not ``100``). The reference below is that code as it was.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livesession import Order, OrderType, Side
from livesession._domain.decimal import CONTEXT, ZERO
from livesession._session import openorders
from livesession._session.book import Book

D = Decimal
SYMBOLS = ("BTC/USDT", "ETH/USDT")
CIDS = tuple(f"c{i}" for i in range(5))  # few: orders close, the book empties, ids return
# Written in several ways (the exponents show in the sums), and two of 28 digits whose
# sums need more: the book then falls back to the scan, which rounds as it always did.
QUANTITIES = ("0.001", "0.010", "1", "2.50", "1E+1", "3", "9999999999999999999999999.999")
PRICES = (None, "100", "100.0", "99.50", "1E+2", "101", "0.01", "12345678901234567890123456.78")
MARKS = ("100", "100.00", "99.5", "1E+2", "250.25")


# -- the reference: Book.open_quantity and Book.stop_risk before they were kept ----------


def _open_quantity(book: Book, symbol: str, side: Side, reducing: bool | None) -> Decimal:
    left = ZERO
    if not book.open:
        return left
    for live in book.open.values():
        order = live.order
        if order.symbol != symbol or order.side is not side:
            continue
        if reducing is None or order.reduce_only is reducing:
            left += order.quantity - live.filled
    return left


def _stop_risk(book: Book) -> Decimal:
    if not book.open:
        return ZERO
    sides: dict[tuple[str, Side], list[tuple[Decimal, str, Decimal]]] = {}
    reducing: dict[tuple[str, Side], Decimal] = {}
    for cid, live in book.open.items():
        order = live.order
        key = (order.symbol, order.side)
        left = order.quantity - live.filled
        if order.reduce_only:
            reducing[key] = reducing.get(key, ZERO) + left
            continue
        price = order.limit_price or book.last_price.get(order.symbol, ZERO)
        sides.setdefault(key, []).append((price, cid, left))
    total = ZERO
    for (symbol, side), orders in sides.items():
        held = book.position(symbol)
        room = held if side is Side.SELL else -held
        room = room - reducing.get((symbol, side), ZERO)
        for price, _cid, left in sorted(orders):
            closing = min(left, room) if room > 0 else ZERO
            room -= closing
            if left - closing:
                total += (left - closing) * price
    return total


def _same(book: Book) -> None:
    """Every sum the rails ask for is the reference's, written alike."""
    for symbol in SYMBOLS:
        for side in Side:
            for reducing in (None, True, False):
                kept = book.open_quantity(symbol, side, reducing=reducing)
                want = _open_quantity(book, symbol, side, reducing)
                assert kept.as_tuple() == want.as_tuple(), (symbol, side, reducing, kept, want)
    kept, want = book.stop_risk(), _stop_risk(book)
    assert kept.as_tuple() == want.as_tuple(), (kept, want)


def _walked(*_args: object) -> None:
    raise AssertionError("walked over the open orders")


def _kept_without_a_walk(book: Book) -> None:
    """Every sum the rails ask for is the reference's, answered without summing anew over
    every open order (the book's orders cannot be walked from now on)."""
    want = {
        (symbol, side, reducing): _open_quantity(book, symbol, side, reducing).as_tuple()
        for symbol in SYMBOLS
        for side in Side
        for reducing in (None, True, False)
    }
    risk = _stop_risk(book).as_tuple()
    book.open.values = _walked  # type: ignore[method-assign]
    book.open.items = _walked  # type: ignore[method-assign]
    for (symbol, side, reducing), quantity in want.items():
        assert book.open_quantity(symbol, side, reducing=reducing).as_tuple() == quantity
    assert book.stop_risk().as_tuple() == risk


def _order(
    cid: str, symbol: str, side: Side, quantity: str, price: str | None, *, reduce_only: bool
) -> Order:
    return Order(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        quantity=D(quantity),
        order_type=OrderType.MARKET if price is None else OrderType.LIMIT,
        limit_price=None if price is None else D(price),
        reduce_only=reduce_only,
    )


_OPEN = st.tuples(
    st.just("open"),
    st.sampled_from(CIDS),
    st.sampled_from(SYMBOLS),
    st.sampled_from(list(Side)),
    st.sampled_from(QUANTITIES),
    st.sampled_from(PRICES),
    st.booleans(),
)
_FILL = st.tuples(
    st.just("fill"), st.sampled_from(CIDS), st.sampled_from(QUANTITIES), st.sampled_from(MARKS)
)
_CLOSE = st.tuples(st.just("close"), st.sampled_from(CIDS), st.booleans())
_MARK = st.tuples(st.just("mark"), st.sampled_from(SYMBOLS), st.sampled_from(MARKS))
_RESUME = st.tuples(st.just("resume"))
_MOVE = st.tuples(st.just("move"), st.sampled_from(CIDS), st.sampled_from(CIDS))


def _apply(book: Book, step: tuple[object, ...], trades: list[int]) -> Book:
    kind = step[0]
    if kind == "open":
        _, cid, symbol, side, quantity, price, reduce_only = step
        book.add_order(_order(cid, symbol, side, quantity, price, reduce_only=reduce_only))  # type: ignore[arg-type]
    elif kind == "fill":
        _, cid, quantity, price = step
        trades[0] += 1
        book.apply_fill(cid, f"t{trades[0]}", D(quantity), D(price))  # type: ignore[arg-type]
    elif kind == "close":
        _, cid, confirm = step
        book.close_order(cid, confirm=confirm)  # type: ignore[arg-type]
    elif kind == "mark":
        _, symbol, price = step
        book.mark(symbol, D(price))  # type: ignore[arg-type]
    elif kind == "move":  # the dict itself changed, as a test or a resume may change it
        _, source, target = step
        if source in book.open:
            book.open[target] = book.open.pop(source)  # type: ignore[index]
    else:
        resumed = Book(initial_cash=book.initial_cash)
        resumed.set_state(book.get_state())
        return resumed
    return book


@settings(max_examples=max(500, settings.default.max_examples), deadline=None)  # more when "deep"
@given(
    st.lists(st.one_of(_OPEN, _OPEN, _FILL, _FILL, _CLOSE, _MARK, _RESUME, _MOVE), max_size=40),
    st.sampled_from((0, 2, 5)),
)
def test_the_kept_sums_are_the_sums_worked_out_anew(steps, kept_from):
    """Kept from the first order (0), or from more than 2 or 5: filed then from orders
    partly filled, and dropped when the book empties."""
    with localcontext(CONTEXT), mock.patch.object(openorders, "_KEPT_FROM", kept_from):
        book = Book(initial_cash=D("100000"))
        trades = [0]
        for step in steps:
            book = _apply(book, step, trades)
            _same(book)


@pytest.fixture
def kept_always(monkeypatch):
    """The sums kept from the first open order (not only past ``_KEPT_FROM``)."""
    monkeypatch.setattr(openorders, "_KEPT_FROM", 0)


@pytest.mark.usefixtures("kept_always")
class TestCases:
    """Explicit cases the rails meet: each against the reference and its known value."""

    def _book(self) -> Book:
        book = Book(initial_cash=D("100000"))
        book.mark("BTC/USDT", D("100.00"))
        return book

    def _long(self, quantity: str) -> Book:
        """A book long ``quantity`` BTC/USDT, bought at 100.00."""
        book = self._book()
        book.add_order(_order("e", "BTC/USDT", Side.BUY, quantity, None, reduce_only=False))
        book.apply_fill("e", "t1", D(quantity), D("100.00"))
        return book

    def test_resting_reduce_only_legs_close_first(self):
        book = self._long("10")  # long 10
        book.add_order(_order("stop", "BTC/USDT", Side.SELL, "10", "90", reduce_only=True))
        book.add_order(_order("more", "BTC/USDT", Side.SELL, "10", "95", reduce_only=False))
        _same(book)
        assert book.stop_risk() == D(950)  # the leg closes the long: all of "more" adds
        book.close_order("stop")
        _same(book)
        assert book.stop_risk() == 0  # "more" only closes the long now
        assert book.open_quantity("BTC/USDT", Side.SELL, reducing=False) == D(10)

    def test_a_partial_fill_and_a_flip_of_the_position(self):
        book = self._book()
        book.add_order(_order("a", "BTC/USDT", Side.SELL, "4", "101", reduce_only=False))
        book.add_order(_order("b", "BTC/USDT", Side.SELL, "6", "99.50", reduce_only=False))
        book.add_order(_order("m", "BTC/USDT", Side.SELL, "2", None, reduce_only=False))
        _same(book)
        book.add_order(_order("buy", "BTC/USDT", Side.BUY, "7", None, reduce_only=False))
        book.apply_fill("buy", "t1", D(3), D("100.00"))  # long 3: the cheapest sell closes it
        _same(book)
        assert book.stop_risk() == D("3") * D("99.50") + D(2) * D("100.00") + 4 * D(101) + (
            D(4) * D("100.00")
        )
        book.apply_fill("b", "t2", D(5), D("99.50"))  # short 2: the sells only add
        _same(book)
        book.mark("BTC/USDT", D("1E+2"))  # the market orders count at the new last price
        _same(book)
        assert str(book.stop_risk()) == str(_stop_risk(book))

    def test_a_resumed_book_keeps_the_same_sums(self):
        book = self._book()
        for i, price in enumerate(("100", "100.0", "1E+2", None)):
            book.add_order(_order(f"c{i}", "BTC/USDT", Side.BUY, "0.010", price, reduce_only=False))
        book.apply_fill("c1", "t1", D("0.004"), D("100.0"))
        resumed = Book(initial_cash=D("100000"))
        resumed.set_state(book.get_state())
        _same(resumed)
        assert resumed.stop_risk().as_tuple() == book.stop_risk().as_tuple()
        assert str(resumed.stop_risk()) == "3.60000"  # 1.000 + 0.6000 + 1.0 + 1.00000

    def test_a_book_emptied_and_filled_again(self):
        book = self._book()
        book.add_order(_order("a", "BTC/USDT", Side.BUY, "1", "100", reduce_only=False))
        book.apply_fill("a", "t1", D(1), D("100.00"))  # filled: the book is empty
        book.add_order(_order("b", "BTC/USDT", Side.BUY, "2", "99.50", reduce_only=False))
        _same(book)
        book.close_order("b", confirm=True)
        book.add_order(_order("b", "BTC/USDT", Side.SELL, "3", None, reduce_only=True))
        _same(book)
        assert book.open_quantity("BTC/USDT", Side.BUY) == 0
        assert book.open_quantity("BTC/USDT", Side.SELL) == D(3)

    def test_an_order_walked_leaves_no_digits_in_the_sum(self):
        """The cheapest SELL (99.50) closes the long; the sum is written as the rest are."""
        book = self._long("1")
        book.add_order(_order("a", "BTC/USDT", Side.SELL, "1", "99.50", reduce_only=False))
        book.add_order(_order("b", "BTC/USDT", Side.SELL, "1", "101", reduce_only=False))
        _same(book)
        assert str(book.stop_risk()) == "101"

    def test_a_market_order_walked_whole_leaves_no_digits_in_the_sum(self):
        """The market SELL at 100.00 closes the long 1 whole: the sum is the limit's, 202."""
        book = self._long("1")
        book.add_order(_order("m", "BTC/USDT", Side.SELL, "1", None, reduce_only=False))
        book.add_order(_order("l", "BTC/USDT", Side.SELL, "2", "101", reduce_only=False))
        _same(book)
        assert str(book.stop_risk()) == "202"

    def test_a_room_of_as_many_digits_as_the_context_keeps_is_not_walked(self, monkeypatch):
        """Long 28 digits with a SELL of as much resting: no subtraction rounds, it only
        closes."""
        big = "9999999999999999999999999.999"
        book = self._long(big)
        book.add_order(_order("s", "BTC/USDT", Side.SELL, big, "101", reduce_only=False))
        monkeypatch.setattr(openorders._Kept, "_walk", _walked)
        _same(book)
        assert book.stop_risk() == 0

    def test_a_room_whose_subtractions_round_is_walked(self):
        """Long 1E+28 against SELLs of 0.6, 0.6, 0.6 and 9999999999999999999999999998: the
        exact sum fits the room, but each subtraction rounds the room down, and the last
        order keeps 1 it cannot close (as the scan always counted it)."""
        book = self._long("1E+28")
        for i, price in enumerate(("1", "2", "3")):
            book.add_order(_order(f"s{i}", "BTC/USDT", Side.SELL, "0.6", price, reduce_only=False))
        last = "9999999999999999999999999998"
        book.add_order(_order("s3", "BTC/USDT", Side.SELL, last, "4", reduce_only=False))
        _same(book)
        assert book.stop_risk() == D(4)

    def test_sums_past_the_context_s_digits_round_as_the_scan_does(self):
        book = self._book()
        big = "9999999999999999999999999.999"
        book.add_order(_order("a", "BTC/USDT", Side.BUY, big, "100", reduce_only=False))
        book.add_order(_order("b", "BTC/USDT", Side.BUY, "0.001", "100", reduce_only=False))
        book.add_order(_order("c", "BTC/USDT", Side.BUY, big, "100", reduce_only=False))
        _same(book)
        book.close_order("a")
        _same(book)
        assert book.open_quantity("BTC/USDT", Side.BUY) == D(big) + D("0.001")

    def test_a_sum_of_terms_of_a_positive_exponent_is_written_as_from_zero(self):
        """1 at 1E+2 is a term of exponent 2; summed from ``ZERO`` it is ``100``."""
        book = self._book()
        book.add_order(_order("a", "BTC/USDT", Side.BUY, "1", "1E+2", reduce_only=False))
        _same(book)
        assert str(book.stop_risk()) == "100"

    def test_an_order_of_less_than_one_closed_leaves_the_sums_kept(self):
        """Its term leaves the sums as it came: nothing makes them fall back to the scan."""
        book = self._book()
        for cid, quantity in (("a", "0.5"), ("b", "0.5"), ("c", "2")):
            book.add_order(_order(cid, "BTC/USDT", Side.BUY, quantity, "99.50", reduce_only=False))
        book.close_order("a")
        _same(book)
        _kept_without_a_walk(book)

    def test_a_sum_of_as_many_digits_as_the_context_keeps_is_kept(self):
        """28 digits fit a context of 28: no partial sum rounds, so the scan is not needed."""
        book = self._book()
        big = "9999999999999999999999999.999"
        book.add_order(_order("a", "BTC/USDT", Side.BUY, big, "1", reduce_only=False))
        _kept_without_a_walk(book)
        assert str(book.open_quantity("BTC/USDT", Side.BUY)) == big

    def test_reduce_only_orders_closing_first_leave_the_sums_kept(self):
        """Long 1 with a reduce-only SELL resting: the other SELLs' room is known exactly."""
        book = self._long("1")
        book.add_order(_order("stop", "BTC/USDT", Side.SELL, "0.5", "90", reduce_only=True))
        book.add_order(_order("s", "BTC/USDT", Side.SELL, "2", "101", reduce_only=False))
        _kept_without_a_walk(book)
        assert book.stop_risk() == D("1.5") * 101

    def test_no_order_is_walked_when_none_closes_or_each_only_closes(self, monkeypatch):
        """Nothing held: each adds all it has left. Long 0.5 with SELLs of 0.2 and 0.3: each
        only closes it, which the sum of what they have left shows."""
        book = self._book()
        book.add_order(_order("b", "BTC/USDT", Side.BUY, "0.2", "99", reduce_only=False))
        monkeypatch.setattr(openorders._Kept, "_walk", _walked)
        _same(book)
        book.add_order(_order("e", "BTC/USDT", Side.BUY, "0.5", None, reduce_only=False))
        book.apply_fill("e", "t1", D("0.5"), D("100.00"))
        for cid, quantity in (("s1", "0.2"), ("s2", "0.3")):
            book.add_order(_order(cid, "BTC/USDT", Side.SELL, quantity, "101", reduce_only=False))
        _same(book)
        assert book.stop_risk() == D("0.2") * 99

    def test_market_orders_are_priced_anew_only_when_the_last_price_moves(self, monkeypatch):
        """Or is written otherwise (``100.0`` after ``100.00``); a limit order more is not."""
        book = self._book()
        book.add_order(_order("m", "BTC/USDT", Side.BUY, "2", None, reduce_only=False))
        priced = []
        price_floating = openorders._price_floating
        monkeypatch.setattr(
            openorders,
            "_price_floating",
            lambda group, entries, price: (
                priced.append(price) or price_floating(group, entries, price)
            ),
        )
        _same(book)
        book.add_order(_order("l", "BTC/USDT", Side.BUY, "1", "99", reduce_only=False))
        book.mark("BTC/USDT", D("100.00"))
        _same(book)
        book.mark("BTC/USDT", D("100.0"))
        _same(book)
        assert [str(price) for price in priced] == ["100.00", "100.0"]

    def test_each_way_of_changing_the_dict_changes_it_as_a_dict_and_keeps_the_sums(self):
        """``popitem``, ``setdefault``, ``update``, ``|=``, ``pop`` and ``clear``, as a test or a
        resume may call them: the orders are a plain dict's, and the sums theirs."""
        book = self._book()
        for i, price in enumerate(("100", "99.50", None, "101", "1E+2")):
            book.add_order(_order(f"c{i}", "BTC/USDT", Side.BUY, "0.5", price, reduce_only=False))
        plain = dict(book.open)
        a, b = plain["c0"], plain["c1"]

        def alike(answer: object, want: object) -> None:
            assert answer == want
            assert dict(book.open) == plain
            _same(book)

        alike(book.open.popitem(), plain.popitem())
        alike(book.open.setdefault("c0", b), plain.setdefault("c0", b))
        alike(book.open.setdefault("x", a), plain.setdefault("x", a))
        alike(book.open.update({"y": b}, z=a), plain.update({"y": b}, z=a))
        book.open |= {"c0": b}
        alike(None, plain.update({"c0": b}))
        alike(book.open.pop("nothing", None), None)
        alike(book.open.pop("c1"), plain.pop("c1"))
        book.open.clear()
        alike(None, plain.clear())
        book.add_order(_order("again", "BTC/USDT", Side.SELL, "2", None, reduce_only=False))
        assert list(book.open) == ["again"]
        _same(book)


def test_the_sums_are_kept_past_a_few_orders_from_the_orders_then_open():
    """Up to ``_KEPT_FROM`` orders the book sums them anew; past it the sums are filed
    from every open order, partly filled ones too, and dropped once the book is empty."""
    with localcontext(CONTEXT):
        book = Book(initial_cash=D("100000"))
        book.mark("BTC/USDT", D("100.00"))
        cids = [f"c{i}" for i in range(openorders._KEPT_FROM + 1)]
        for i, cid in enumerate(cids[:-1]):
            book.add_order(_order(cid, "BTC/USDT", Side.SELL, "2", f"{100 + i}", reduce_only=False))
        book.apply_fill("c0", "t1", D(1), D("100.00"))  # short 1, c0 has 1 left
        assert book.open._kept is None
        book.add_order(_order(cids[-1], "BTC/USDT", Side.SELL, "1", None, reduce_only=True))
        assert book.open._kept is not None
        _same(book)
        for cid in cids:
            book.close_order(cid)
        assert book.open._kept is None
        book.add_order(_order("again", "BTC/USDT", Side.BUY, "1", "99", reduce_only=False))
        _same(book)


def test_a_new_order_s_sums_do_not_walk_every_resting_order():
    """A market maker's bar of new orders beside 1,000 resting ones: the rails' sums are
    kept, not summed anew over every open order for each (N x R a bar, issue 17)."""
    with localcontext(CONTEXT):
        book = Book(initial_cash=D("100000"))
        book.mark("BTC/USDT", D("100.00"))
        for i in range(1000):
            book.add_order(
                _order(f"r{i}", "BTC/USDT", Side.BUY, "0.001", "80.00", reduce_only=False)
            )
        book.add_order(_order("stop", "BTC/USDT", Side.SELL, "0.001", "70.00", reduce_only=True))
        _kept_without_a_walk(book)
        assert book.open_quantity("BTC/USDT", Side.SELL, reducing=True) == D("0.001")


def test_orders_that_only_close_a_position_are_not_walked(monkeypatch):
    """Long 10 with 1,000 SELL 0.001 resting: each only closes, which the exact sum of what
    they have left shows at once; they are not walked for every new order."""
    with localcontext(CONTEXT):
        book = Book(initial_cash=D("100000"))
        book.mark("BTC/USDT", D("100.00"))
        book.add_order(_order("e", "BTC/USDT", Side.BUY, "10", None, reduce_only=False))
        book.apply_fill("e", "t1", D(10), D("100.00"))
        for i in range(1000):
            price = f"{100 + i % 50}"
            book.add_order(
                _order(f"s{i}", "BTC/USDT", Side.SELL, "0.001", price, reduce_only=False)
            )
        book.add_order(_order("b", "BTC/USDT", Side.BUY, "0.5", "99", reduce_only=False))
        monkeypatch.setattr(openorders._Kept, "_walk", _walked)
        assert book.stop_risk().as_tuple() == _stop_risk(book).as_tuple()
        assert book.stop_risk() == D("49.5")


def test_an_answer_is_kept_until_an_order_a_position_or_a_last_price_changes(monkeypatch):
    """A grid whose heat is spent has every new intent refused in a bar: nothing changed
    between them, so the walk (``_Kept.stop_risk``) is not made again. Any change of the
    orders, of a position or of a last price (``100.0`` after ``100.00`` too) is."""
    with localcontext(CONTEXT):
        book = Book(initial_cash=D("100000"))
        book.mark("BTC/USDT", D("100.00"))
        book.add_order(_order("e", "BTC/USDT", Side.BUY, "3", None, reduce_only=False))
        book.apply_fill("e", "t1", D(2), D("100.00"))  # long 2, "e" has 1 left
        for i in range(openorders._KEPT_FROM + 4):
            book.add_order(
                _order(f"s{i}", "BTC/USDT", Side.SELL, "0.5", f"{101 + i}", reduce_only=False)
            )
        walks = [0]
        walk = openorders._Kept.stop_risk

        def counted(self, positions, last):
            walks[0] += 1
            return walk(self, positions, last)

        monkeypatch.setattr(openorders._Kept, "stop_risk", counted)

        def asked(walked: int) -> None:
            before = walks[0]
            for _ in range(3):  # three intents of one bar
                assert book.stop_risk().as_tuple() == _stop_risk(book).as_tuple()
            assert walks[0] - before == walked

        asked(1)
        asked(0)
        book.add_order(_order("b", "BTC/USDT", Side.BUY, "1", "99", reduce_only=False))
        asked(1)  # an order more
        book.apply_fill("e", "t2", D(1), D("100.00"))  # long 3: "e" is done
        asked(1)
        book.apply_fill("b", "t3", D("0.5"), D("99"))  # part of "b": the position moves
        asked(1)
        book.mark("BTC/USDT", D("100.0"))  # the same value, written otherwise
        asked(1)
        book.close_order("s0")
        asked(1)
        book.open["s1"] = book.open.pop("s1")  # the dict itself changed
        asked(1)
        asked(0)
