"""The book's own interface: invariants and the read-only view."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import orjson
from hypothesis import given
from hypothesis import strategies as st

from livesession import Order, OrderType, Side
from livesession._session.book import Book

from _helpers import book_fill

D = Decimal


def _book() -> Book:
    return Book(initial_cash=D("100000"))


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
    book_fill(book, cid, side, qty, price)


class TestMoney:
    """Equity and PnL are money, not prices: the price tick (of 5, of 0.05) must not round
    them; the book knows no tick at all."""

    def test_a_round_trip_s_profit_is_not_rounded_to_the_tick(self):
        """0.1 bought at 38000 and sold at 38020 made 2.0."""
        book = Book(initial_cash=D("10000000"))
        _fill(book, "b", Side.BUY, "0.1", "38000")
        book.mark("BTC/USDT", D("38020"))
        assert book.equity() == D("10000002.0")
        _fill(book, "s", Side.SELL, "0.1", "38020")
        view = book.view()
        assert (view.cash, view.equity, view.pnl) == (D("10000002.0"), D("10000002.0"), D("2.0"))

    def test_a_loss_below_the_tick_is_kept(self):
        """A loss of 0.0143 (under a tick of 0.05) is -0.0143, not 0.00."""
        book = Book(initial_cash=D("1000"))
        _fill(book, "b", Side.BUY, "0.143", "10.15")
        book.mark("BTC/USDT", D("10.05"))
        assert book.view().pnl == D("-0.0143")
        assert str(book.view().equity) == "999.98570"


class TestAveragePrice:
    """The average entry price is the volume-weighted average of the entries held."""

    def test_it_is_not_rounded_at_each_fill(self):
        """1 at 100.00 then four times 1 at 100.05: 100.025, 100.0333.., 100.0375, 100.04."""
        book = _book()
        _fill(book, "b0", Side.BUY, "1", "100.00")
        seen = []
        for n in range(1, 5):
            _fill(book, f"b{n}", Side.BUY, "1", "100.05")
            seen.append(book.avg_price["BTC/USDT"])
        assert seen[0] == D("100.025")
        assert seen[1] == D("100.0333333333333333333333333")  # 28 digits: it does not end
        assert seen[2:] == [D("100.0375"), D("100.04")]

    def test_reducing_keeps_it_flipping_restarts_it_and_flat_has_none(self):
        book = _book()
        _fill(book, "b1", Side.BUY, "0.3", "100.00")
        _fill(book, "b2", Side.BUY, "0.1", "100.40")
        assert book.avg_price["BTC/USDT"] == D("100.1")
        _fill(book, "s1", Side.SELL, "0.2", "101.00")  # reduces: the entries held stay
        assert book.avg_price["BTC/USDT"] == D("100.1")
        _fill(book, "s2", Side.SELL, "0.5", "99.00")  # flips to -0.3: opened at 99.00
        assert (book.position("BTC/USDT"), book.avg_price["BTC/USDT"]) == (D("-0.3"), D("99.00"))
        _fill(book, "b3", Side.BUY, "0.3", "98.00")
        assert book.position("BTC/USDT") == 0
        assert "BTC/USDT" not in book.avg_price
        assert book.strategy_view.avg_price("BTC/USDT") is None
        assert book.get_state()["avg_price"] == {}

    def test_adding_to_a_short_of_less_than_one_unit_moves_it(self):
        """A short of 0.3 sold 0.1 more: the entries held average 100.25 (a mutant took
        a position above -1 for a long, and left the average at the first entry's)."""
        book = _book()
        _fill(book, "s1", Side.SELL, "0.3", "100.00")
        _fill(book, "s2", Side.SELL, "0.1", "101.00")
        assert book.avg_price["BTC/USDT"] == D("100.25")

    def test_a_short_of_less_than_one_unit_flipped_long_opens_at_the_fill_s_price(self):
        book = _book()
        _fill(book, "s1", Side.SELL, "0.3", "100.00")
        _fill(book, "b1", Side.BUY, "0.5", "99.00")
        assert (book.position("BTC/USDT"), book.avg_price["BTC/USDT"]) == (D("0.2"), D("99.00"))

    def test_a_round_average_keeps_the_places_of_the_prices(self):
        """1 at 100.00 and 1 at 300.00 average 200.00, written so, never ``2E+2``."""
        book = _book()
        _fill(book, "b1", Side.BUY, "1", "100.00")
        _fill(book, "b2", Side.BUY, "1", "300.00")
        assert book.get_state()["avg_price"] == {"BTC/USDT": "200.00"}

    @staticmethod
    def _resumed(buys: list[tuple[str, str]], then: tuple[str, str]) -> tuple[Book, Book, dict]:
        """A book of ``buys``, and one resumed from its checkpoint; both then buy ``then``."""
        book = _book()
        for n, (qty, price) in enumerate(buys, 1):
            _fill(book, f"b{n}", Side.BUY, qty, price)
        state = book.get_state()
        again = _book()
        again.set_state(orjson.loads(orjson.dumps(state)))
        for one in (book, again):
            _fill(one, "then", Side.BUY, *then)
        return book, again, state

    def test_a_resumed_book_goes_on_with_the_same_digits(self):
        """The checkpoint holds the average as written: the next fill averages the same."""
        book, again, state = self._resumed([("1", "100.00"), ("2", "100.05")], ("3", "100.10"))
        assert state["avg_price"] == {"BTC/USDT": "100.0333333333333333333333333"}
        assert again.avg_price == book.avg_price
        assert again.get_state() == book.get_state()

    def test_a_resumed_book_keeps_the_average_whole(self):
        """An average with no end is checkpointed as a fraction: after a resume, the
        position that averages 10000.055 exactly is on 10000.06, as it is uninterrupted.
        A checkpoint without it (of before) is read as its avg_price writes it."""
        buys = [("0.005", "10000.09"), ("0.009", "10000.06")]
        book, again, state = self._resumed(buys, ("0.004", "10000.00"))
        assert state["exact_avg"] == {"BTC/USDT": "14000099/1400"}
        for one in (book, again):
            assert one.average_on("BTC/USDT", D("0.01")) == D("10000.06")
        assert again.get_state() == book.get_state()
        assert "exact_avg" not in book.get_state()  # 10000.055 ends
        older = _book()
        older.set_state({k: v for k, v in state.items() if k != "exact_avg"})
        assert older.exact_avg["BTC/USDT"] == Fraction("10000.07071428571428571428571")

    @given(
        st.lists(st.tuples(st.integers(1, 5000), st.integers(1, 10**7)), min_size=1, max_size=12)
    )
    def test_it_is_the_reference_average_and_written_plain(self, buys):
        """Lots of 0.001 at prices of 0.01: the book's average is the one a reviewer works
        out exactly from the fills (the cost over the quantity), to Decimal's 28 digits."""
        book = _book()
        held = cost = Fraction(0)
        for n, (lots, cents) in enumerate(buys):
            qty, price = D(lots).scaleb(-3), D(cents).scaleb(-2)
            _fill(book, f"b{n}", Side.BUY, str(qty), str(price))
            cost += Fraction(price) * Fraction(qty)
            held += Fraction(qty)
            assert book.exact_avg["BTC/USDT"] == cost / held
            quotient = D((cost / held).numerator) / D((cost / held).denominator)
            assert book.avg_price["BTC/USDT"] == quotient
            assert "E" not in book.get_state()["avg_price"]["BTC/USDT"]


def _rest(book: Book, cid: str, side: Side, qty: str, price: str, **kw) -> None:
    """Track a resting order of ``book`` (a LIMIT unless ``order_type`` says; nothing filled)."""
    book.add_order(
        Order(
            client_order_id=cid,
            symbol="BTC/USDT",
            side=side,
            quantity=D(qty),
            limit_price=D(price),
            **{"order_type": OrderType.LIMIT, **kw},
        )
    )


class TestStopRisk:
    """``stop_risk``: the notional the open orders add, which portfolio heat counts."""

    def test_a_resting_stop_entry_counts_at_its_stop_price(self):
        """Bug: every STOP was skipped, so three resting BUY STOP 480 @104 from flat passed
        the heat rail one by one and filled to 1440. A stop entry adds exposure once it
        triggers, valued (as a limit is at its limit) at its stop price."""
        book = _book()
        book.mark("BTC/USDT", D("100.00"))
        _rest(book, "s1", Side.BUY, "480", "104.00", order_type=OrderType.STOP)
        assert book.stop_risk() == D("49920.00")
        _rest(book, "s2", Side.BUY, "480", "104.00", order_type=OrderType.STOP)
        assert book.stop_risk() == D("99840.00")

    def test_a_protective_stop_leg_adds_nothing(self):
        """The stop-loss leg of an OCO exit is reduce-only: it closes, never adds."""
        book = _book()
        _fill(book, "b", Side.BUY, "10", "100.00")
        leg = {"reduce_only": True, "oco_group": "b"}
        _rest(book, "sl", Side.SELL, "10", "98.00", order_type=OrderType.STOP, **leg)
        _rest(book, "tp", Side.SELL, "10", "102.00", **leg)
        assert book.stop_risk() == 0

    def test_an_order_against_the_position_counts_only_what_it_adds_beyond_closing_it(self):
        """Bug: long 125 @100 with a resting SELL LIMIT 125 @105 counted the sell as 13125
        of added exposure, though filled it only closes the long. It adds nothing; one for
        200 adds the 75 beyond the position; an order on the position's side adds it all."""
        book = _book()
        _fill(book, "b", Side.BUY, "125", "100.00")
        _rest(book, "tp", Side.SELL, "125", "105.00")
        assert book.stop_risk() == 0
        _rest(book, "more", Side.BUY, "10", "99.00")
        assert book.stop_risk() == D("990.00")
        book.close_order("more")
        book.close_order("tp")
        _rest(book, "flip", Side.SELL, "200", "105.00")
        assert book.stop_risk() == D("7875.00")  # 75 at 105

    def test_orders_against_the_position_share_closing_it_the_dearest_part_adds(self):
        """Two SELL 125 against a long 125: together they close it and open a short 125,
        whichever fills first. The closing goes to the cheaper, the dearer counts in full
        (never under-counted), whatever order the book holds them in."""
        for order in (("a", "105.00", "b", "106.00"), ("b", "106.00", "a", "105.00")):
            book = _book()
            _fill(book, "long", Side.BUY, "125", "100.00")
            _rest(book, order[0], Side.SELL, "125", order[1])
            _rest(book, order[2], Side.SELL, "125", order[3])
            assert book.stop_risk() == D("13250.00")  # 125 at 106

    def test_a_reduce_only_order_closes_first(self):
        """Long 125 with a reduce-only SELL 125 resting: a SELL 125 more can only open a short.

        Bug: both counted the same 125 as theirs to close, so the heat had the SELL at 0;
        once the reduce-only order filled, it opened a short 125 no rail had measured.
        """
        book = _book()
        _fill(book, "long", Side.BUY, "125", "100.00")
        _rest(book, "leg", Side.SELL, "125", "90.00", reduce_only=True)
        _rest(book, "exit", Side.SELL, "125", "110.00")
        assert book.stop_risk() == D("13750.00")  # 125 at 110
        assert book.adding_orders() == ["exit"]
        _rest(book, "leg2", Side.SELL, "100", "95.00", reduce_only=True)  # legs: never counted
        assert book.stop_risk() == D("13750.00")

    def test_a_reduce_only_order_leaves_the_rest_to_close(self):
        book = _book()
        _fill(book, "long", Side.BUY, "125", "100.00")
        _rest(book, "leg", Side.SELL, "25", "90.00", reduce_only=True)
        _rest(book, "exit", Side.SELL, "100", "110.00")
        assert book.stop_risk() == 0
        assert book.adding_orders() == []

    def test_a_partly_filled_order_counts_what_is_left(self):
        book = _book()
        _rest(book, "buy", Side.BUY, "10", "100.00")
        assert book.apply_fill("buy", "t1", D("4"), D("100.00"))
        assert book.stop_risk() == D("600.00")  # 6 left; the 4 filled are the position now


class TestOpenQuantity:
    def test_what_the_open_orders_on_one_side_have_left_to_fill(self):
        """Reduce-only orders included (or asked apart); other symbols and sides aside.

        A reduce-only order counts: once it fills, what it closed is not there for another
        order on its side to close.
        """
        book = _book()
        assert book.open_quantity("BTC/USDT", Side.SELL) == 0
        _rest(book, "a", Side.SELL, "10", "100.00")
        _rest(book, "b", Side.SELL, "5", "101.00", order_type=OrderType.STOP)
        _rest(book, "c", Side.SELL, "7", "102.00", reduce_only=True)
        _rest(book, "d", Side.BUY, "3", "99.00")
        assert book.apply_fill("a", "t1", D("4"), D("100.00"))
        assert book.open_quantity("BTC/USDT", Side.SELL) == D("18")
        assert book.open_quantity("BTC/USDT", Side.SELL, reducing=True) == D("7")
        assert book.open_quantity("BTC/USDT", Side.SELL, reducing=False) == D("11")
        assert book.open_quantity("BTC/USDT", Side.BUY) == D("3")
        assert book.open_quantity("ETH/USDT", Side.SELL) == 0


class TestApplyFill:
    """A fill is applied once, never past what its order has left (found by mutating the
    book: each of these passed the book's own tests)."""

    def test_a_trade_reported_twice_is_applied_once(self):
        book = _book()
        book.add_order(_order())
        assert book.apply_fill("c1", "t1", D("0.004"), D("40000.00"))
        assert not book.apply_fill("c1", "t1", D("0.004"), D("40000.00"))
        assert book.position("BTC/USDT") == D("0.004")
        assert book.cash == D("100000") - D("160.00000")

    def test_a_fill_past_what_is_left_is_refused(self):
        book = _book()
        book.add_order(_order())
        assert book.apply_fill("c1", "t1", D("0.006"), D("40000.00"))
        assert not book.apply_fill("c1", "t2", D("0.005"), D("40000.00"))  # 0.004 left
        assert book.position("BTC/USDT") == D("0.006")
        assert book.apply_fill("c1", "t3", D("0.004"), D("40000.00"))
        assert book.tracked("c1") is None  # filled: no longer tracked

    def test_an_order_s_notional_is_the_sum_of_its_fills(self):
        book = _book()
        book.add_order(_order())
        book.apply_fill("c1", "t1", D("0.004"), D("40000.00"))
        book.apply_fill("c1", "t2", D("0.002"), D("40010.00"))
        live = book.tracked("c1")
        assert live is not None
        assert (live.filled, live.notional) == (D("0.006"), D("240.02000"))

    def test_a_late_fill_that_completes_a_cancelled_order_ends_its_tracking(self):
        """A fill that raced the cancel is applied; once the order is whole it is gone."""
        book = _book()
        book.add_order(_order())
        book.apply_fill("c1", "t1", D("0.004"), D("40000.00"))
        book.close_order("c1", confirm=True)
        assert book.tracked("c1") is not None  # closed, awaiting the venue's last word
        assert book.apply_fill("c1", "t2", D("0.006"), D("40000.00"))
        assert book.tracked("c1") is None
        assert book.local_orders() == ()


class TestOpenOrders:
    """What the book says of its open orders (found by mutating the book)."""

    def test_whether_a_symbol_has_a_live_order(self):
        book = _book()
        assert not book.has_open_orders("BTC/USDT")
        _rest(book, "b1", Side.BUY, "1", "99.00")
        assert book.has_open_orders("BTC/USDT")
        assert not book.has_open_orders("ETH/USDT")

    def test_a_rejected_order_is_dropped_a_cancelled_one_kept_until_confirmed(self):
        book = _book()
        _rest(book, "r1", Side.BUY, "1", "99.00")
        _rest(book, "c1", Side.BUY, "1", "98.00")
        rejected = book.close_order("r1")
        assert rejected is not None
        assert rejected.order.client_order_id == "r1"
        assert book.tracked("r1") is None
        assert book.close_order("c1", confirm=True) is not None
        assert book.tracked("c1") is not None
        assert not book.has_open_orders("BTC/USDT")

    def test_orders_against_a_position_close_it_cheapest_first_the_rest_add(self):
        """Long 125, two SELL 100 resting: the cheaper closes 100 of it, the dearer can
        close only 25 more, so it could add exposure: a halt cancels it, keeps the other."""
        book = _book()
        _fill(book, "b", Side.BUY, "125", "100.00")
        _rest(book, "cheap", Side.SELL, "100", "101.00")
        _rest(book, "dear", Side.SELL, "100", "102.00")
        assert book.adding_orders() == ["dear"]
