"""Profit and loss replayed from the events: equity marked to market at every bar.

The session's own equity readings move only at fills (a ``POSITION_CHANGED`` marks the
book at the closes as they stand at the fill), so a position held through a long move
would look flat. Here the book is replayed from the event stream instead: ``BAR`` closes
give the marks, fills (``ORDER_FILLED``, ``ORDER_PARTIALLY_FILLED``) the position, the
cash and, by average cost, the realised PnL of each closing trade. After every step (the
events of one bar up to the next bar) equity is ``cash + sum(position * last close)``,
which is the ``equity`` a sealed run's ``SESSION_STOPPED`` carries.

No fees are modelled: a simulated venue's fill report has no fee, a ccxt venue's fees are
left out of the book, and the events carry none, so the PnL here, like the session's
equity, is gross of fees.
"""

from __future__ import annotations

import contextlib
from collections import deque
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._artifacts.runread import payload
from .._domain.decimal import finite_decimal
from .._rundir.exits import OrderWhy
from ._reading import ts_sim_of
from ._series import Columns, Point

if TYPE_CHECKING:
    from ._reading import ReportRun

__all__ = ["MAX_TRADES_SHOWN", "Book", "BookReplay", "Trade", "replay_book", "start_equity"]

_ZERO = Decimal(0)
MAX_TRADES_SHOWN: Final = 400
"""Fills listed in full: the first and the last half of this; the rest are counted."""


@attrs.frozen(kw_only=True)
class Trade:
    """One fill, with what it did to the position and the realised PnL."""

    seq: int
    ts_sim: int
    kind: str
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    realised: Decimal | None
    """PnL the fill realised by closing (gross of fees); None for a fill that only opens."""
    position_after: Decimal
    why: str = ""
    """The reason and terms of the order filled (``stop_loss: STOP 97.28``), if known."""


@attrs.frozen(kw_only=True)
class Book:
    """The replayed book: series for the charts and totals for the tables."""

    start_equity: Decimal
    start_source: str
    """Where ``start_equity`` came from (``the first state snapshot``, ``initial_cash``)."""
    equity: list[Point]
    drawdown: list[Point]
    realised: list[Point]
    unrealised: list[Point]
    positions: dict[str, list[Point]]
    """Net position by symbol, as steps over the run's whole span (symbols with a fill)."""
    trades: list[Trade]
    """The fills listed: all of them, or the first and last ``MAX_TRADES_SHOWN / 2``."""
    trade_count: int
    closing: int
    """Fills that closed (part of) a position."""
    wins: int
    skipped: tuple[int, int] | None
    """The seq of the first and the last fill not listed; None when all are."""
    final_equity: Decimal
    final_positions: dict[str, Decimal]
    """Net position by symbol after the last event (every symbol with a fill, flat too)."""
    final_realised: Decimal
    final_unrealised: Decimal
    peak: Decimal
    max_drawdown: Decimal
    """The largest fall from a running peak, a positive amount (0: never below a peak)."""
    max_drawdown_pct: Decimal
    max_drawdown_at: int | None


@attrs.define
class _Position:
    """A net position and its cost: what its fills paid (a short's is negative).

    The cost, not an average price, so that no division leaves Decimal's 28-digit tail in
    a total: a position's cost is a sum of fills' ``quantity * price``, exact.
    """

    quantity: Decimal = _ZERO
    cost: Decimal = _ZERO

    def close(self, quantity: Decimal, price: Decimal) -> Decimal:
        """Take ``quantity`` (at most the position) off at ``price``; the PnL it realises.

        The cost taken off is the position's cost in proportion (average cost), rounded
        half-even to the places of ``quantity * price``, a fill's own amount; the fill that
        closes the position takes off the rest. So every realised PnL is an amount the run's
        cash can hold, they add up to what the cash made, and on a flat book the realised
        PnL is the cash's change to the last digit.
        """
        amount = quantity * price
        if quantity >= abs(self.quantity):
            taken = self.cost
        else:
            taken = self.cost * quantity / abs(self.quantity)
            with contextlib.suppress(ArithmeticError):
                taken = taken.quantize(Decimal(1).scaleb(_exponent(amount)), ROUND_HALF_EVEN)
        self.cost -= taken
        return (amount if self.quantity > 0 else -amount) - taken


def _exponent(value: Decimal) -> int:
    """The exponent of a finite ``value`` (its places, negated)."""
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def start_equity(snapshots: list[dict[str, Any]], config: dict[str, Any]) -> tuple[Decimal, str]:
    """The book's start: the first snapshot's equity, else ``initial_cash``, else 0."""
    for snap in snapshots[:1]:
        found = finite_decimal(snap.get("equity"), allow_int=True)
        if found is not None:
            return found, "the first state snapshot"
    found = finite_decimal(config.get("initial_cash"), allow_int=True)
    if found is not None:
        return found, "initial_cash in config.json"
    return _ZERO, "unknown (taken as 0)"


@attrs.define
class _Replay:
    """The running book while the events are replayed."""

    cash: Decimal
    start: Decimal
    held: dict[str, _Position] = attrs.Factory(dict)
    closes: dict[str, Decimal] = attrs.Factory(dict)
    realised: Decimal = _ZERO
    peak: Decimal | None = None
    max_drawdown: Decimal = _ZERO
    max_drawdown_pct: Decimal = _ZERO
    max_drawdown_at: int | None = None
    peak_float: float = 0.0
    realised_float: float | None = None
    """``realised`` as a float, worked out again after each fill."""
    marked: tuple[float, float, float, float] | None = None
    """What the last mark recorded, while the book is flat and no fill came since."""
    series: tuple[Columns, Columns, Columns, Columns] = attrs.Factory(
        lambda: (Columns((0, 0)), Columns((0, 0)), Columns((0, 0)), Columns((0, 0)))
    )

    def unrealised(self) -> Decimal:
        return sum(
            (
                p.quantity * self.closes[s] - p.cost
                for s, p in self.held.items()
                if p.quantity and s in self.closes
            ),
            _ZERO,
        )

    def equity(self) -> Decimal:
        return self.cash + sum(
            (
                p.quantity * self.closes[s] if s in self.closes else p.cost
                for s, p in self.held.items()
            ),
            _ZERO,
        )

    def mark(self, ts_sim: int) -> None:
        """Record equity, drawdown and PnL as they stand at the end of a step."""
        if self.marked is not None:  # flat, and no fill since the last mark: nothing moved
            equity_line, drawdown, realised, unrealised_line = self.series
            equity_line.add(ts_sim, self.marked[0])
            drawdown.add(ts_sim, self.marked[1])
            realised.add(ts_sim, self.marked[2])
            unrealised_line.add(ts_sim, self.marked[3])
            return
        held_value = unrealised = _ZERO
        closes = self.closes
        flat = True
        for symbol, position in self.held.items():
            if not position.quantity:
                continue
            flat = False
            close = closes.get(symbol)
            if close is None:
                held_value += position.cost
            else:
                held_value += position.quantity * close
                unrealised += position.quantity * close - position.cost
        equity = self.cash + held_value
        if self.peak is None or equity > self.peak:
            self.peak, self.peak_float = equity, float(equity)
        fall = self.peak - equity
        if fall > self.max_drawdown:
            self.max_drawdown, self.max_drawdown_at = fall, ts_sim
            self.max_drawdown_pct = fall / self.peak * 100 if self.peak > 0 else _ZERO
        if self.realised_float is None:
            self.realised_float = float(self.realised)
        now = float(equity)
        # The drawdown as floats: at most 0, and exactly 0 at a peak (fall is exact above).
        values = (now, now - self.peak_float, self.realised_float, float(unrealised))
        for line, value in zip(self.series, values, strict=True):
            line.add(ts_sim, value)
        # A flat book marks the same values until the next fill (``fill`` clears this).
        self.marked = values if flat else None

    def fill(self, event: dict[str, Any]) -> Trade | None:
        self.marked = self.realised_float = None
        fields = payload(event)
        quantity = finite_decimal(fields.get("quantity"), allow_int=True)
        price = finite_decimal(fields.get("price"), allow_int=True)
        if quantity is None or price is None:
            return None
        symbol, side = str(fields.get("symbol")), str(fields.get("side"))
        signed = quantity if side == "BUY" else -quantity
        position = self.held.setdefault(symbol, _Position())
        before = position.quantity
        realised: Decimal | None = None
        if before and (before > 0) != (signed > 0):  # the fill closes (part of) the position
            realised = position.close(min(quantity, abs(before)), price)
        after = before + signed
        if realised is None:  # opening or adding: the cost grows by the fill's amount
            position.cost += signed * price
        elif (after > 0) != (before > 0) and after:  # flipped: the rest opens at the price
            position.cost = after * price
        position.quantity = after
        self.cash -= signed * price
        self.realised += realised or _ZERO
        seq = event.get("seq")
        return Trade(
            seq=seq if isinstance(seq, int) else 0,
            ts_sim=ts_sim_of(event),
            kind=str(event.get("event_type")),
            client_order_id=str(fields.get("client_order_id", "")),
            symbol=symbol,
            side=side,
            quantity=quantity,
            price=price,
            realised=realised,
            position_after=after,
        )


def replay_book(run: ReportRun) -> Book:
    """The run's book, replayed while the run was read (see ``BookReplay``)."""
    return run.book


class BookReplay:
    """The book replayed as the events stream past: one equity point per step.

    ``bar`` for each ``BAR`` with a close, ``fill`` for each fill, ``finish`` at the end.
    The lines are thinned as they come (``Columns``) and only the listed fills are kept,
    so memory does not grow with the run.
    """

    def __init__(self, start: tuple[Decimal, str], x_range: tuple[int, int]) -> None:
        self._start, self._source = start
        self._x_range = self.x_range = x_range
        self._book = _Replay(
            cash=self._start,
            start=self._start,
            series=(Columns(x_range), Columns(x_range), Columns(x_range), Columns(x_range)),
        )
        self._pending: int | None = None  # the ts of the step whose mark is still to be taken
        self._head: list[Trade] = []
        self._tail: deque[Trade] = deque(maxlen=MAX_TRADES_SHOWN // 2)
        self._skipped: tuple[int, int] | None = None
        self._positions: dict[str, Columns] = {}
        self._count = self._closing = self._wins = 0
        self._why = OrderWhy()

    def order(self, kind: str, fields: dict[str, Any]) -> None:
        """An order's event (submitted, filled, cancelled, rejected): its terms for ``why``."""
        self._why.feed(kind, fields)

    def bar(self, symbol: str, close: Decimal, ts_sim: int) -> None:
        """A bar closed: mark the step before it, then take its close."""
        if self._pending is not None:
            self._book.mark(self._pending)
        self._book.closes[symbol] = close
        self._pending = ts_sim

    def fill(self, event: dict[str, Any]) -> None:
        """A fill (``ORDER_FILLED`` or ``ORDER_PARTIALLY_FILLED``)."""
        held = self._book.held.get(str(payload(event).get("symbol")))
        before = _ZERO if held is None else held.quantity
        trade = self._book.fill(event)
        if trade is None:
            return
        self._count += 1
        if trade.realised is not None:
            self._closing += 1
            self._wins += trade.realised > 0
        line = self._positions.get(trade.symbol)
        if line is None:
            line = self._positions[trade.symbol] = Columns(self._x_range)
            line.add(self._x_range[0], 0.0)
        line.add(trade.ts_sim, float(before))  # a step, not a ramp
        line.add(trade.ts_sim, float(trade.position_after))
        trade = attrs.evolve(trade, why=self._why.words(trade.client_order_id, trade.price))
        if len(self._head) < MAX_TRADES_SHOWN // 2:
            self._head.append(trade)
            return
        if len(self._tail) == self._tail.maxlen:
            dropped = self._tail[0].seq
            self._skipped = (dropped if self._skipped is None else self._skipped[0], dropped)
        self._tail.append(trade)

    def finish(self) -> Book:
        """The book as it stands after the last event."""
        book = self._book
        if self._pending is not None:
            book.mark(self._pending)
            self._pending = None
        end = self._x_range[1]
        for symbol, line in self._positions.items():
            line.add(end, float(book.held[symbol].quantity))
        equity, drawdown, realised, unrealised = book.series
        return Book(
            start_equity=self._start,
            start_source=self._source,
            equity=equity.points(),
            drawdown=drawdown.points(),
            realised=realised.points(),
            unrealised=unrealised.points(),
            positions={s: line.points() for s, line in self._positions.items()},
            trades=[*self._head, *self._tail],
            trade_count=self._count,
            closing=self._closing,
            wins=self._wins,
            skipped=self._skipped,
            final_equity=book.equity(),
            final_positions={s: p.quantity for s, p in sorted(book.held.items())},
            final_realised=book.realised,
            final_unrealised=book.unrealised(),
            peak=self._start if book.peak is None else book.peak,
            max_drawdown=book.max_drawdown,
            max_drawdown_pct=book.max_drawdown_pct,
            max_drawdown_at=book.max_drawdown_at,
        )
