"""The session's book: positions, cash, open orders and the fill ledger.

Fills are applied once each (de-duplicated by trade id while their order is tracked), and
the ledger of signed fill quantities is kept apart from positions so the runtime check
"position = sum of fills" compares two independent sums.

A cancelled order is not forgotten at once: it moves to ``closed`` until the reconciler
has seen the venue confirm its final fill quantity, so a fill that raced the cancel (and
arrives after the cancel report) is still applied, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._domain.decimal import ZERO, plain
from .._domain.model import Order, Side, order_from_json, order_to_json
from .._reconcile.reconciler import LocalOrder
from .._support.fielddocs import fields_in_doc
from .openorders import OpenOrders, against_positions
from .strategy_view import ReadOnlyBook

if TYPE_CHECKING:
    from .aftercheckpoint import Looked

__all__ = ["Book", "BookView", "OpenOrder"]


def submitted_payload(
    order: Order, reason: str, *, intent_seq: int | None, in_doubt: bool
) -> dict[str, Any]:
    """The ``ORDER_SUBMITTED`` payload of ``order``.

    Its terms (no limit price or OCO group it does not have), ``reason``, the intent it
    serves (``intent_seq``; None: none known) and, for an order sent in doubt,
    ``send_outcome`` UNKNOWN.
    """
    payload = {k: v for k, v in order_to_json(order).items() if v is not None}
    payload["reason"] = reason
    if intent_seq is not None:
        payload["intent_seq"] = intent_seq
    if in_doubt:
        payload["send_outcome"] = "UNKNOWN"
    return payload


@attrs.define
class OpenOrder:
    """An order the session tracks.

    ``in_doubt``: sent, but the venue's answer was lost and no lookup has confirmed it yet.
    ``cancel_requested``: the venue accepted a cancel request (or said it is not open).
    ``cancel_reason``: why the session asked, when its ``ORDER_CANCELED`` must say so
    (``TRADING_HALTED``: an entry cancelled because trading halted); empty otherwise.
    ``notional``: the sum of quantity times price over its fills (for the average price).
    ``event_id``: its ``ORDER_SUBMITTED`` event, which the venue's reports on it link to.
    ``fill_event_id``: its latest fill event, which its protective legs link to.
    """

    order: Order
    acked: bool = False
    filled: Decimal = ZERO
    trade_ids: list[str] = attrs.Factory(list)
    in_doubt: bool = False
    cancel_requested: bool = False
    cancel_reason: str = ""
    notional: Decimal = ZERO
    event_id: str = ""
    fill_event_id: str = ""
    _seen: LocalOrder | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def local(self, *, closed: bool = False) -> LocalOrder:
        """The reconciler's picture of this order.

        Kept until what it shows changes: a resting order is reconciled every step.
        """
        seen = self._seen
        if (
            seen is not None
            and seen.closed == closed
            and seen.filled == self.filled
            and seen.in_doubt == self.in_doubt
            and seen.cancel_requested == self.cancel_requested
        ):
            return seen
        order = self.order
        seen = self._seen = LocalOrder(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            filled=self.filled,
            reduce_only=order.reduce_only,
            oco_group=order.oco_group,
            closed=closed,
            in_doubt=self.in_doubt,
            cancel_requested=self.cancel_requested,
        )
        return seen

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible form (for checkpoints)."""
        data: dict[str, Any] = {
            "order": order_to_json(self.order),
            "acked": self.acked,
            "filled": plain(self.filled),
            "trade_ids": list(self.trade_ids),
        }
        if self.in_doubt:
            data["in_doubt"] = True
        if self.cancel_requested:
            data["cancel_requested"] = True
        if self.cancel_reason:
            data["cancel_reason"] = self.cancel_reason
        if self.notional:
            data["notional"] = plain(self.notional)
        if self.event_id:
            data["event_id"] = self.event_id
        if self.fill_event_id:
            data["fill_event_id"] = self.fill_event_id
        return data

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> OpenOrder:
        """The order ``to_json`` described."""
        return cls(
            order=order_from_json(item["order"]),
            acked=item["acked"],
            filled=Decimal(item["filled"]),
            trade_ids=list(item["trade_ids"]),
            in_doubt=bool(item.get("in_doubt", False)),
            cancel_requested=bool(item.get("cancel_requested", False)),
            cancel_reason=str(item.get("cancel_reason", "")),
            notional=Decimal(item.get("notional", "0")),
            event_id=str(item.get("event_id", "")),
            fill_event_id=str(item.get("fill_event_id", "")),
        )


@fields_in_doc
@attrs.frozen(kw_only=True)
class BookView:
    """A read-only picture of the book at one moment."""

    # The mappings are left out of the hash (a dict has none), not of equality.
    positions: Mapping[str, Decimal] = attrs.field(hash=False)
    """The net position of every symbol the book has held (negative: short)."""
    cash: Decimal
    """The initial cash, changed by every fill: exact."""
    equity: Decimal
    """Cash plus each position marked at its last price, exact."""
    pnl: Decimal
    """``equity`` less the initial cash: realised and unrealised together."""
    open_orders: tuple[str, ...]
    """The client order ids of the orders open at the venue, sorted."""
    ledger: Mapping[str, Decimal] = attrs.field(hash=False)
    """Net quantity of every symbol's fills (the position must always equal it)."""
    day_peak_equity: Decimal
    """The simulated UTC day's peak equity, which the daily-loss cap measures from."""


_EXACT_DENOMINATOR: Final = 10**28
"""The largest denominator an exact average keeps (verify's replay holds the same)."""


def _trimmed(average: Decimal, price: Decimal) -> Decimal:
    """``average`` without the trailing zeros past the places of ``price``: the same value.

    A division rounded at the 28th digit leaves zeros where the average ends sooner
    (``100.0375000000000000000000000``): it is written ``100.0375``; an average of prices
    of two places that needs no more keeps two (``100.00``, ``38010.0`` for a tick of 0.1).
    """
    places = price.as_tuple().exponent
    short = average.normalize()
    exponent = short.as_tuple().exponent
    if not isinstance(places, int) or not isinstance(exponent, int) or exponent < places:
        return short  # it needs more places than the prices have
    try:
        return average.quantize(Decimal(1).scaleb(places))  # exact: only zeros go
    except InvalidOperation:  # more digits than Decimal keeps: left as it came
        return average


class Book:
    """Positions, cash and open orders of one session."""

    def __init__(self, *, initial_cash: Decimal) -> None:
        self.initial_cash = initial_cash
        self.cash = initial_cash
        self.positions: dict[str, Decimal] = {}
        self.avg_price: dict[str, Decimal] = {}
        self.exact_avg: dict[str, Fraction] = {}
        """Each average exactly, which ``avg_price`` gives to Decimal's 28 digits."""
        self.ledger: dict[str, Decimal] = {}
        self.last_price: dict[str, Decimal] = {}
        self.open = OpenOrders()
        """The open orders by client id (a dict that keeps the rails' sums as it changes)."""
        self.closed: dict[str, OpenOrder] = {}
        self.found_after: dict[str, Looked] = {}
        """Orders a resume found sent after its checkpoint, not tracked yet (never in a
        checkpoint: a later resume looks them up again); see ``aftercheckpoint``."""
        self.day_peak_equity = initial_cash
        self.strategy_view = ReadOnlyBook(self)
        """The strategy's read-only view of this book (one per book, reading it live)."""

    # -- reading ----------------------------------------------------------------------

    def position(self, symbol: str) -> Decimal:
        """Net position in ``symbol``."""
        return self.positions.get(symbol, ZERO)

    def has_open_orders(self, symbol: str) -> bool:
        """Whether any order in ``symbol`` is live."""
        if not self.open:
            return False  # most steps: nothing to look through
        return any(o.order.symbol == symbol for o in self.open.values())

    def equity(self) -> Decimal:
        """Cash plus each position marked at its last price: exact, never rounded.

        The tick is the grid of prices, not of money: 0.1 bought at 38000 and sold at 38020
        under a tick of 5 made 2.0, which the equity (and the PnL, ``view``) must show.
        """
        value = self.cash
        for symbol, qty in self.positions.items():
            if qty:
                value += qty * self.last_price.get(symbol, self.avg_price.get(symbol, ZERO))
        return value

    def exposure(self, symbol: str, price: Decimal) -> Decimal:
        """Absolute notional of the position in ``symbol`` at ``price``."""
        return abs(self.position(symbol)) * price

    def open_quantity(self, symbol: str, side: Side, *, reducing: bool | None = None) -> Decimal:
        """What the open orders in ``symbol`` on ``side`` have still to fill.

        All of them (``reducing`` None), only the reduce-only ones (True) or only the others
        (False), kept as the orders change (``OpenOrders.quantity``). The rails count them
        ahead of a new intent on that side: against the position they close it first, so
        three SELL 10 sent in one bar against a long 10 close it once and would open a short
        20. A reduce-only order counts too: once it fills, what it closed is no longer there
        for another order to close.
        """
        if not self.open:
            return ZERO  # most steps: nothing to look through
        return self.open.quantity(symbol, side, reducing)

    def stop_risk(self) -> Decimal:
        """The notional the open orders add to the positions (for portfolio heat).

        An open order counts at its price (a limit at its limit, a resting STOP entry at
        its stop price, a market order at the last price), and only for what it adds beyond
        closing its symbol's position: long 125 with a SELL 125 resting adds nothing, a SELL
        200 adds 75. Orders on the side against a position share closing what its
        reduce-only orders leave of it (``against_positions``), the cheapest first, so the
        dearest part is what counts: never less than what could fill, and the same whatever
        order the book holds them in (a resumed book sorts them). A reduce-only order counts
        nothing. Kept as the orders change (``OpenOrders.stop_risk``), not summed anew.
        """
        if not self.open:
            return ZERO  # most steps: nothing to look through
        return self.open.stop_risk(self.positions, self.last_price)

    def adding_orders(self) -> list[str]:
        """The open orders that could add exposure: what a halt cancels, sorted.

        A reduce-only order (a protective leg, a flatten order) only ever closes, and stays.
        So does an order that only closes its symbol's position: long 125 with a SELL 125
        resting (a stop the strategy placed without ``reduce_only``) keeps it, a SELL 200
        is listed whole. Orders on the side against a position share closing what its
        reduce-only orders leave of it, the cheapest first, as in ``stop_risk``.
        """
        if not self.open:
            return []  # most steps: nothing to look through
        adding: list[str] = []
        for closable, orders in against_positions(self.open, self.positions, self.last_price):
            room = closable
            for _price, cid, left in orders:
                if left <= room:
                    room -= left  # it only closes: it stays
                else:
                    adding.append(cid)
        return sorted(adding)

    def invariant_violation(self) -> tuple[str, dict[str, str]] | None:
        """The first broken invariant as (reason, detail); None when all hold.

        A position must equal the sum of its fills, and an open order must be filed under
        its own client id.
        """
        for symbol, qty in self.positions.items():
            fills = self.ledger.get(symbol, ZERO)
            if qty != fills:
                return "INVARIANT_POSITION", {
                    "symbol": symbol,
                    "position": plain(qty),
                    "fills": plain(fills),
                }
        for cid, live in self.open.items():
            if not cid or live.order.client_order_id != cid:
                return "INVARIANT_ORDER_ID", {"client_order_id": cid}
        return None

    def view(self) -> BookView:
        """A frozen picture of the book."""
        equity = self.equity()
        return BookView(
            positions=dict(self.positions),
            cash=self.cash,
            equity=equity,
            pnl=equity - self.initial_cash,
            open_orders=tuple(sorted(self.open)),
            ledger=dict(self.ledger),
            day_peak_equity=self.day_peak_equity,
        )

    # -- changing -----------------------------------------------------------------------

    def mark(self, symbol: str, price: Decimal) -> None:
        """Record the last price of ``symbol``."""
        self.last_price[symbol] = price

    def add_order(self, order: Order, *, in_doubt: bool = False) -> None:
        """Track a submitted order (``in_doubt`` when the venue's answer was lost)."""
        self.open[order.client_order_id] = OpenOrder(order=order, in_doubt=in_doubt)

    def tracked(self, cid: str) -> OpenOrder | None:
        """The open or closed-but-unconfirmed order ``cid``, if the book tracks it."""
        live = self.open.get(cid)
        return live if live is not None else self.closed.get(cid)

    def local_orders(self) -> tuple[LocalOrder, ...]:
        """Every tracked order as the reconciler sees it."""
        return (
            *(live.local() for live in self.open.values()),
            *(live.local(closed=True) for live in self.closed.values()),
        )

    def apply_fill(self, cid: str, trade_id: str, qty: Decimal, price: Decimal) -> bool:
        """Apply a fill once; False for a duplicate, an untracked order or more than is left."""
        live = self.tracked(cid)
        if live is None or trade_id in live.trade_ids:
            return False
        remaining = live.order.quantity - live.filled
        if qty > remaining:
            return False
        live.trade_ids.append(trade_id)
        live.filled += qty
        live.notional += qty * price
        if cid in self.open:
            self.open.refresh(cid)  # what it has left changed
        symbol = live.order.symbol
        signed = qty if live.order.side is Side.BUY else -qty
        self.ledger[symbol] = self.ledger.get(symbol, ZERO) + signed
        old = self.positions.get(symbol, ZERO)
        new = old + signed
        self._average(symbol, old, signed, price)
        self.positions[symbol] = new
        self.cash -= signed * price
        if live.filled == live.order.quantity:
            self.open.pop(cid, None)
            self.closed.pop(cid, None)
        return True

    def _average(self, symbol: str, old: Decimal, signed: Decimal, price: Decimal) -> None:
        """Move the average entry price of ``symbol`` for a fill of ``signed`` at ``price``.

        The volume-weighted average of the entries of the position held, never rounded to
        the tick (1 at 100.00 and 4 at 100.05 average 100.04, not 100.00): a fill that adds
        to it moves it, one that reduces it leaves it, one that flips it starts it at its
        price, and a flat position has none. It is kept exactly (``exact_avg``, a fraction:
        1 at 100.00 and 2 at 100.05 average 100.0333...), each from the last one exact,
        and ``avg_price`` is that to Decimal's 28 significant digits, written with the
        places of the prices, or as many more as it needs (``_trimmed``). Carried at 28
        digits instead, an average exactly on a half tick (10000.055) could come out a
        hair below it and be written on the tick below (10000.05 for 10000.06). A fraction
        whose denominator passes ``_EXACT_DENOMINATOR`` (a position reduced and added to
        over and over: it grows by digits a cycle) goes on from ``avg_price`` instead.
        """
        averages, exact = self.avg_price, self.exact_avg
        new = old + signed
        if not new:
            averages.pop(symbol, None)
            exact.pop(symbol, None)
        elif not old or (new > 0) != (old > 0):  # opening, or flipped: the rest opens here
            averages[symbol] = price
            exact[symbol] = Fraction(price)
        elif (old > 0) == (signed > 0):  # adding to the position
            held, qty = Fraction(abs(old)), Fraction(abs(signed))
            before = exact.get(symbol, Fraction(averages[symbol]))
            average = (before * held + Fraction(price) * qty) / (held + qty)
            quotient = Decimal(average.numerator) / Decimal(average.denominator)
            averages[symbol] = _trimmed(quotient, price)
            # Reduced and added to again and again, the fraction grows without end: past
            # 28 digits below the point it goes on from avg_price's 28 digits instead.
            exact[symbol] = (
                average if average.denominator <= _EXACT_DENOMINATOR else Fraction(quotient)
            )

    def average_on(self, symbol: str, tick: Decimal) -> Decimal | None:
        """``symbol``'s average entry price rounded once, half-even, to ``tick`` (None: flat).

        From the exact average, so one on a half tick goes to the even tick, as the
        contract reads ``rounded once``; a tick of 0 (none) leaves ``avg_price``.
        """
        exact = self.exact_avg.get(symbol)
        if exact is None or tick <= 0:
            return self.avg_price.get(symbol)
        return Decimal(round(exact / Fraction(tick))) * tick

    def close_order(self, cid: str, *, confirm: bool = False) -> OpenOrder | None:
        """Stop treating an order as open (rejected, or with ``confirm`` cancelled).

        A cancelled order stays in ``closed`` until ``confirm_closed``: a fill that raced
        the cancel may still arrive for it.
        """
        live = self.open.pop(cid, None)
        if live is not None and confirm:
            self.closed[cid] = live
        return live

    def confirm_closed(self, cid: str) -> None:
        """The venue confirmed the final fill quantity of a closed order: forget it."""
        self.closed.pop(cid, None)

    # -- checkpoints --------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """JSON-compatible state."""
        state = {
            "cash": plain(self.cash),
            "positions": {k: plain(v) for k, v in sorted(self.positions.items())},
            "avg_price": {k: plain(v) for k, v in sorted(self.avg_price.items())},
            "ledger": {k: plain(v) for k, v in sorted(self.ledger.items())},
            "last_price": {k: plain(v) for k, v in sorted(self.last_price.items())},
            "day_peak_equity": plain(self.day_peak_equity),
            "open": [live.to_json() for _, live in sorted(self.open.items())],
            "closed": [live.to_json() for _, live in sorted(self.closed.items())],
        }
        # An average with no end is kept whole, as a fraction (``avg_price`` has 28 digits
        # of it); any other is ``avg_price`` itself, as in a checkpoint of before.
        endless = {
            k: f"{v.numerator}/{v.denominator}"
            for k, v in sorted(self.exact_avg.items())
            if v != Fraction(self.avg_price[k])
        }
        if endless:
            state["exact_avg"] = endless
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore ``get_state``'s snapshot."""
        self.cash = Decimal(state["cash"])
        self.positions = {k: Decimal(v) for k, v in state["positions"].items()}
        self.avg_price = {k: Decimal(v) for k, v in state["avg_price"].items()}
        exact = state.get("exact_avg", {})
        self.exact_avg = {k: Fraction(exact.get(k, v)) for k, v in state["avg_price"].items()}
        self.ledger = {k: Decimal(v) for k, v in state["ledger"].items()}
        self.last_price = {k: Decimal(v) for k, v in state["last_price"].items()}
        self.day_peak_equity = Decimal(state["day_peak_equity"])
        self.open = OpenOrders()
        for item in state["open"]:
            live = OpenOrder.from_json(item)
            self.open[live.order.client_order_id] = live
        self.closed = {}
        for item in state.get("closed", ()):
            live = OpenOrder.from_json(item)
            self.closed[live.order.client_order_id] = live
