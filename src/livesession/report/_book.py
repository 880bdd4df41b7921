"""Profit and loss replayed from the events: equity marked to market at every bar.

The session's own equity readings move only at fills (a ``POSITION_CHANGED`` marks the
book at the fill's price), so a position held through a long move would look flat. Here
the book is replayed from the event stream instead: ``BAR`` closes give the marks, fills
(``ORDER_FILLED``, ``ORDER_PARTIALLY_FILLED``) the position, the cash and, by average
cost, the realised PnL of each closing trade. After every step (the events of one bar up
to the next bar) equity is ``cash + sum(position * last close)``, which is the
``equity`` a sealed run's ``SESSION_STOPPED`` carries.

A fill's optional ``fee`` is taken in the quote currency and counts against realised PnL.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from .._artifacts.runread import finite_decimal, payload
from .._domain.model import FILL_EVENT_TYPES
from ._reading import ts_sim_of
from ._series import Point

if TYPE_CHECKING:
    from ._reading import ReportRun

__all__ = ["Book", "Trade", "replay_book"]

_ZERO = Decimal(0)


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
    fee: Decimal | None
    realised: Decimal | None
    """PnL the fill realised by closing (net of its fee); None for a fill that only opens."""
    position_after: Decimal


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
    trades: list[Trade]
    final_equity: Decimal
    final_realised: Decimal
    final_unrealised: Decimal
    fees: Decimal
    peak: Decimal
    max_drawdown: Decimal
    """The largest fall from a running peak, a positive amount (0: never below a peak)."""
    max_drawdown_pct: Decimal
    max_drawdown_at: int | None


@attrs.define
class _Position:
    quantity: Decimal = _ZERO
    average: Decimal = _ZERO


def _start_equity(run: ReportRun) -> tuple[Decimal, str]:
    for snap in run.snapshots[:1]:
        found = finite_decimal(snap.get("equity"), allow_int=True)
        if found is not None:
            return found, "the first state snapshot"
    found = finite_decimal(run.config.get("initial_cash"), allow_int=True)
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
    fees: Decimal = _ZERO
    peak: Decimal | None = None
    max_drawdown: Decimal = _ZERO
    max_drawdown_pct: Decimal = _ZERO
    max_drawdown_at: int | None = None
    series: tuple[list[Point], list[Point], list[Point], list[Point]] = attrs.Factory(
        lambda: ([], [], [], [])
    )

    def unrealised(self) -> Decimal:
        return sum(
            (
                p.quantity * (self.closes[s] - p.average)
                for s, p in self.held.items()
                if p.quantity and s in self.closes
            ),
            _ZERO,
        )

    def equity(self) -> Decimal:
        return self.cash + sum(
            (p.quantity * self.closes.get(s, p.average) for s, p in self.held.items()), _ZERO
        )

    def mark(self, ts_sim: int) -> None:
        """Record equity, drawdown and PnL as they stand at the end of a step."""
        equity = self.equity()
        self.peak = equity if self.peak is None or equity > self.peak else self.peak
        fall = self.peak - equity
        if fall > self.max_drawdown:
            self.max_drawdown, self.max_drawdown_at = fall, ts_sim
            self.max_drawdown_pct = fall / self.peak * 100 if self.peak > 0 else _ZERO
        for line, value in zip(
            self.series, (equity, -fall, self.realised, self.unrealised()), strict=True
        ):
            line.append(Point(ts_sim=ts_sim, value=float(value)))

    def fill(self, event: dict[str, Any]) -> Trade | None:
        fields = payload(event)
        quantity = finite_decimal(fields.get("quantity"), allow_int=True)
        price = finite_decimal(fields.get("price"), allow_int=True)
        if quantity is None or price is None:
            return None
        fee = finite_decimal(fields.get("fee"), allow_int=True)
        symbol, side = str(fields.get("symbol")), str(fields.get("side"))
        signed = quantity if side == "BUY" else -quantity
        position = self.held.setdefault(symbol, _Position())
        before = position.quantity
        realised: Decimal | None = None
        if before and (before > 0) != (signed > 0):  # the fill closes (part of) the position
            closing = min(quantity, abs(before))
            realised = closing * (price - position.average) * (1 if before > 0 else -1)
        after = before + signed
        if not after:
            position.average = _ZERO
        elif realised is None:  # opening or adding: the average cost moves
            position.average = (abs(before) * position.average + quantity * price) / abs(after)
        elif (after > 0) != (before > 0):  # flipped: the rest opens at the fill's price
            position.average = price
        position.quantity = after
        self.cash -= signed * price
        if fee:
            self.cash -= fee
            self.fees += fee
            realised = (realised or _ZERO) - fee
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
            fee=fee,
            realised=realised,
            position_after=after,
        )


def replay_book(run: ReportRun) -> Book:
    """Replay the run's fills against its bar closes; one equity point per step."""
    start, source = _start_equity(run)
    book = _Replay(cash=start, start=start)
    trades: list[Trade] = []
    pending: int | None = None  # the ts of the step whose mark is still to be taken
    for event in run.events:
        kind = event.get("event_type")
        if kind == "BAR":
            fields = payload(event)
            close = finite_decimal(fields.get("close"), allow_int=True)
            if close is None:
                continue
            if pending is not None:
                book.mark(pending)
            book.closes[str(fields.get("symbol"))] = close
            pending = ts_sim_of(event)
        elif kind in FILL_EVENT_TYPES:
            trade = book.fill(event)
            if trade is not None:
                trades.append(trade)
    if pending is not None:
        book.mark(pending)
    equity, drawdown, realised, unrealised = book.series
    return Book(
        start_equity=start,
        start_source=source,
        equity=equity,
        drawdown=drawdown,
        realised=realised,
        unrealised=unrealised,
        trades=trades,
        final_equity=book.equity(),
        final_realised=book.realised,
        final_unrealised=book.unrealised(),
        fees=book.fees,
        peak=start if book.peak is None else book.peak,
        max_drawdown=book.max_drawdown,
        max_drawdown_pct=book.max_drawdown_pct,
        max_drawdown_at=book.max_drawdown_at,
    )
