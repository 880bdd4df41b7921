"""The book's open orders, and the sums the rails ask of them kept as they change.

Every new order meets the rails, whose context holds what the open orders have still to
fill (``quantity``) and the notional they add to the positions (``stop_risk``). Summed
anew over every open order, a bar of N new orders beside R resting cost N x R; kept here
as the orders open, fill and close, each costs about the orders it walks to close a
position.

The values are the ones summing every order from ``ZERO`` in session arithmetic gives
(the ``*_scan`` functions, which answer when the kept sums cannot be proven the same).
The terms are never negative, so a sum from ``ZERO`` in any order is exact when the
exact total, written with the least exponent of its terms and ``ZERO``'s, needs no more
digits than the context keeps (no partial sum is larger or finer); it then is that total
with that exponent. The kept sums are exact (``_EXACT``), with a count of the terms of
each exponent; a total that would need more digits falls back to the scan.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    getcontext,
)
from typing import TYPE_CHECKING, Any, Self, TypeVar, overload

from .._domain.decimal import ZERO
from .._domain.model import Side

if TYPE_CHECKING:
    from .book import OpenOrder

__all__ = ["OpenOrders", "against_positions", "open_quantity_scan", "stop_risk_scan"]

_T = TypeVar("_T")

_EXACT = Context(
    prec=MAX_PREC,
    rounding=ROUND_HALF_EVEN,
    Emin=MIN_EMIN,
    Emax=MAX_EMAX,
    capitals=1,
    clamp=0,
    flags=[],
    traps=[],
)
"""Sums that never round (a sum of Decimals is at most as long as its terms' span).

Every field is given, as ``CONTEXT``'s: none comes from ``decimal.DefaultContext``."""


class _Sum:
    """An exact sum of terms, with how many terms of each exponent it holds."""

    __slots__ = ("exact", "exponents", "negative")

    def __init__(self) -> None:
        self.exact = ZERO
        self.exponents: Counter[int] = Counter()
        self.negative = 0

    def add(self, term: Decimal) -> None:
        self.exact = _EXACT.add(self.exact, term)
        self.exponents[_exponent(term)] += 1
        self.negative += term < 0

    def remove(self, term: Decimal) -> None:
        self.exact = _EXACT.subtract(self.exact, term)
        exponents = self.exponents
        exponent = _exponent(term)
        exponents[exponent] -= 1
        if not exponents[exponent]:
            del exponents[exponent]
        self.negative -= term < 0


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):  # no open order has an infinite quantity or price
        raise TypeError(f"not a finite number: {value}")
    return exponent


def _summed(parts: Iterable[_Sum]) -> Decimal | None:
    """What adding the terms of ``parts`` one by one to ``ZERO`` gives; None: not proven.

    Exact when the terms are never negative and the total, with the least exponent of the
    terms and ``ZERO``'s, fits the context's digits (see the module's docstring).
    """
    exact = ZERO
    exponents: Counter[int] = Counter()
    for part in parts:
        if part.negative:
            return None
        exact = _EXACT.add(exact, part.exact)
        exponents.update(part.exponents)  # a walk's part takes terms away: counts below 0
    least = min((e for e, n in exponents.items() if n > 0), default=0)
    least = min(least, 0)
    value = exact.quantize(Decimal((0, (1,), least)), context=_EXACT)
    context = getcontext()
    if (
        len(value.as_tuple().digits) > context.prec
        or least < context.Etiny()
        or value.adjusted() > context.Emax
    ):
        return None  # a partial sum may round, or be out of the context's range
    return value


class _Group:
    """The orders of one symbol and side that are not reduce-only, for ``stop_risk``.

    ``limits``: ``(price, client id)`` of the priced ones, sorted, and the sum of what each
    adds when none of it closes (``left * price``); ``floating``: the client ids of the
    market ones, sorted, which count at the symbol's last price (their sum is kept for the
    price it was worked out at, ``at``, and worked out anew when the price moves).
    """

    __slots__ = ("at", "at_terms", "at_total", "floating", "limit_total", "limits")

    def __init__(self) -> None:
        self.limits: list[tuple[Decimal, str]] = []
        self.limit_total = _Sum()
        self.floating: list[str] = []
        self.at: Decimal | None = None
        self.at_terms: dict[str, Decimal] = {}
        self.at_total = _Sum()

    def __bool__(self) -> bool:
        return bool(self.limits or self.floating)


class _Entry:
    """What one open order was filed under: its keys, what it has left, its price, its term."""

    __slots__ = ("exponent", "left", "price", "reduce_only", "side", "symbol", "term")

    def __init__(self, live: OpenOrder) -> None:
        order = live.order
        self.symbol, self.side, self.reduce_only = order.symbol, order.side, order.reduce_only
        self.left: Decimal = order.quantity - live.filled
        self.price = order.limit_price or None
        # What it adds when none of it closes, as the scan works it out.
        self.term = (self.left - ZERO) * self.price if self.price and self.left else None
        self.exponent = 0 if self.term is None else _exponent(self.term)


_KEPT_FROM = 16
"""Up to this many open orders, summing them anew is cheaper than keeping their sums: the
sums are kept once the book holds more (filed then from every order), until it is empty."""


class OpenOrders(dict[str, "OpenOrder"]):
    """The open orders by client id, with their sums kept (see the module's docstring).

    Every change of the dict files the order anew; a fill changes an order in place, so
    the book calls ``refresh`` after one. ``stop_risk`` keeps its last answer until the
    orders, a position or a last price change: the intents a rail refuses in one bar (a
    grid whose heat is spent) change none of them.
    """

    def __init__(self, items: Iterable[tuple[str, OpenOrder]] = ()) -> None:
        super().__init__()
        self._kept: _Kept | None = None
        self._changes = 0  # counts every change of the orders (``_risk`` is of one count)
        self._risk: tuple[int, _Marks, _Marks, Decimal] | None = None
        for cid, live in items:
            self[cid] = live

    def __setitem__(self, cid: str, live: OpenOrder) -> None:
        self._changes += 1
        kept = self._kept
        if kept is not None and cid in self:
            kept.unfile(cid)
        super().__setitem__(cid, live)
        if kept is not None:
            kept.file(cid, live)
        elif len(self) > _KEPT_FROM:
            self._kept = _Kept(self)

    def __delitem__(self, cid: str) -> None:
        super().__delitem__(cid)
        self._unfile(cid)

    @overload
    def pop(self, cid: str, /) -> OpenOrder: ...
    @overload
    def pop(self, cid: str, default: OpenOrder | _T, /) -> OpenOrder | _T: ...
    def pop(self, cid: str, /, *default: Any) -> Any:
        if cid not in self:
            return super().pop(cid, *default)
        live = super().pop(cid)
        self._unfile(cid)
        return live

    def popitem(self) -> tuple[str, OpenOrder]:
        cid, live = super().popitem()
        self._unfile(cid)
        return cid, live

    def clear(self) -> None:
        super().clear()
        self._changes += 1
        self._kept = None

    def setdefault(self, cid: str, default: OpenOrder) -> OpenOrder:
        if cid not in self:
            self[cid] = default
        return self[cid]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for cid, live in dict(*args, **kwargs).items():
            self[cid] = live

    def __ior__(self, other: Any) -> Self:  # type: ignore[override,misc]
        self.update(other)
        return self

    def refresh(self, cid: str) -> None:
        """File ``cid`` anew: a fill changed what it has left."""
        self._changes += 1
        kept = self._kept
        if kept is not None:
            kept.unfile(cid)
            kept.file(cid, self[cid])

    def _unfile(self, cid: str) -> None:
        """``cid`` left the dict: out of the sums, which go once the book is empty."""
        self._changes += 1
        if self._kept is not None:
            if self:
                self._kept.unfile(cid)
            else:
                self._kept = None

    def quantity(self, symbol: str, side: Side, reducing: bool | None) -> Decimal:
        """``Book.open_quantity``: what the orders in ``symbol`` on ``side`` have left."""
        kept = self._kept
        summed = None if kept is None else kept.quantity(symbol, side, reducing)
        if summed is None:
            return open_quantity_scan(self, symbol, side, reducing)
        return summed

    def stop_risk(self, positions: Mapping[str, Decimal], last: Mapping[str, Decimal]) -> Decimal:
        """``Book.stop_risk``: the notional the orders add to ``positions``."""
        held, marks = tuple(positions.items()), tuple(last.items())
        risk = self._risk
        if (
            risk is not None
            and risk[0] == self._changes
            and _unchanged(risk[1], held)
            and _unchanged(risk[2], marks)
        ):
            return risk[3]
        kept = self._kept
        summed = None if kept is None else kept.stop_risk(positions, last)
        if summed is None:
            summed = stop_risk_scan(self, positions, last)
        self._risk = (self._changes, held, marks, summed)
        return summed


_Marks = tuple[tuple[str, Decimal], ...]


def _unchanged(before: _Marks, now: _Marks) -> bool:
    """The same symbols with the very same numbers (``1.0`` is not ``1.00`` in a sum)."""
    return len(before) == len(now) and all(
        a is b or (a[0] == b[0] and a[1] is b[1]) for a, b in zip(before, now, strict=True)
    )


class _Kept:
    """The sums ``OpenOrders`` keeps.

    What the orders have left by symbol, side and whether they are reduce-only, and the
    groups ``stop_risk`` walks (``_Group``).
    """

    def __init__(self, orders: Mapping[str, OpenOrder]) -> None:
        self._entries: dict[str, _Entry] = {}
        self._left: dict[tuple[str, Side, bool], _Sum] = {}
        self._groups: dict[tuple[str, Side], _Group] = {}
        for cid, live in orders.items():
            self.file(cid, live)

    def file(self, cid: str, live: OpenOrder) -> None:
        entry = self._entries[cid] = _Entry(live)
        key = (entry.symbol, entry.side)
        left = self._left.get((*key, entry.reduce_only))
        if left is None:
            left = self._left[(*key, entry.reduce_only)] = _Sum()
        left.add(entry.left)
        if entry.reduce_only:
            return
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
        if entry.price is None:
            insort(group.floating, cid)
            if group.at is not None and entry.left:
                term = group.at_terms[cid] = (entry.left - ZERO) * group.at
                group.at_total.add(term)
        else:
            insort(group.limits, (entry.price, cid))
            if entry.term is not None:
                group.limit_total.add(entry.term)

    def unfile(self, cid: str) -> None:
        entry = self._entries.pop(cid)
        key = (entry.symbol, entry.side)
        left = self._left[(*key, entry.reduce_only)]
        left.remove(entry.left)
        if not left.exponents:
            del self._left[(*key, entry.reduce_only)]
        if entry.reduce_only:
            return
        group = self._groups[key]
        if entry.price is None:
            del group.floating[bisect_left(group.floating, cid)]
            term = group.at_terms.pop(cid, None)
            if term is not None:
                group.at_total.remove(term)
        else:
            del group.limits[bisect_left(group.limits, (entry.price, cid))]
            if entry.term is not None:
                group.limit_total.remove(entry.term)
        if not group:
            del self._groups[key]

    def quantity(self, symbol: str, side: Side, reducing: bool | None) -> Decimal | None:
        """What the orders in ``symbol`` on ``side`` have left; None: scan them."""
        kinds = (False, True) if reducing is None else (reducing,)
        return _summed([s for kind in kinds if (s := self._left.get((symbol, side, kind)))])

    def stop_risk(
        self, positions: Mapping[str, Decimal], last: Mapping[str, Decimal]
    ) -> Decimal | None:
        """The notional the orders add to ``positions``; None: scan them."""
        parts: list[_Sum] = []
        for (symbol, side), group in self._groups.items():
            held = positions.get(symbol, ZERO)
            room = held if side is Side.SELL else -held  # what this side can close
            reduce_only = self._left.get((symbol, side, True))
            if reduce_only is None:
                room = room - ZERO
            else:
                closed_first = _summed((reduce_only,))
                if closed_first is None:
                    return None
                room = room - closed_first
            price = last.get(symbol, ZERO)
            if group.floating and (group.at is None or not _same(group.at, price)):
                _price_floating(group, self._entries, price)
            if room > 0 and _closes_all(room, self._left[(symbol, side, False)]):
                continue  # each of its orders only closes: it adds nothing
            parts.append(group.limit_total)
            parts.append(group.at_total)
            if room > 0:
                parts.append(self._walk(group, room, price))
        return _summed(parts)

    def _walk(self, group: _Group, room: Decimal, price: Decimal) -> _Sum:
        """What the cheapest orders of ``group``, which close ``room``, add less their terms.

        Their terms assume they close nothing; an order walked adds what it does not close.
        """
        change = _Sum()
        taken = ZERO  # the terms of the orders walked
        exponents: Counter[int] = Counter()
        entries, at_terms = self._entries, group.at_terms
        orders: Iterable[tuple[Decimal, str]] = group.limits
        if group.floating:
            orders = heapq.merge(group.limits, ((price, cid) for cid in group.floating))
        for at, cid in orders:
            entry = entries[cid]
            left = entry.left
            closing = min(left, room)
            room -= closing
            if entry.term is not None:
                taken = _EXACT.add(taken, entry.term)
                exponents[entry.exponent] += 1
            elif (term := at_terms.get(cid)) is not None:
                taken = _EXACT.add(taken, term)
                exponents[_exponent(term)] += 1
            if left - closing:
                change.add((left - closing) * at)
            if not room > 0:
                break
        change.exact = _EXACT.subtract(change.exact, taken)
        change.exponents.subtract(exponents)
        return change


def _closes_all(room: Decimal, lefts: _Sum) -> bool:
    """Whether ``room`` closes every order of ``lefts`` whichever comes first.

    So when it is at least their exact sum and none of the subtractions the scan makes
    rounds (each partial room is a multiple of the least exponent, at most ``room``).
    """
    if lefts.negative or room < lefts.exact:
        return False
    least = min(_exponent(room), *lefts.exponents)
    return room.adjusted() - least + 1 <= getcontext().prec


def _same(a: Decimal, b: Decimal) -> bool:
    """The same price, written alike (the terms' exponents follow how it is written)."""
    return a is b or (a == b and a.as_tuple() == b.as_tuple())


def _price_floating(group: _Group, entries: Mapping[str, _Entry], price: Decimal) -> None:
    """Work out the market orders' terms at ``price`` (the last price moved)."""
    group.at = price
    group.at_terms = {}
    group.at_total = _Sum()
    for cid in group.floating:
        left = entries[cid].left
        if left:
            term = group.at_terms[cid] = (left - ZERO) * price
            group.at_total.add(term)


# -- the scans: each order summed anew ---------------------------------------------------


def open_quantity_scan(
    open_orders: Mapping[str, OpenOrder], symbol: str, side: Side, reducing: bool | None
) -> Decimal:
    """``Book.open_quantity`` summed over every open order."""
    left = ZERO
    for live in open_orders.values():
        order = live.order
        if order.symbol != symbol or order.side is not side:
            continue
        if reducing is None or order.reduce_only is reducing:
            left += order.quantity - live.filled
    return left


def against_positions(
    open_orders: Mapping[str, OpenOrder],
    positions: Mapping[str, Decimal],
    last: Mapping[str, Decimal],
) -> Iterator[tuple[Decimal, list[tuple[Decimal, str, Decimal]]]]:
    """Per symbol and side: what its orders may close, and its orders, cheapest first.

    Each order is ``(price, client_order_id, left to fill)``; the room is what the
    position lets that side close. Reduce-only orders (a protective leg, a flatten
    order) only ever close, so they are not listed, but they close first: long 10 with
    a reduce-only SELL 10 resting leaves a SELL 10 more no room, whichever fills first.
    """
    sides: dict[tuple[str, Side], list[tuple[Decimal, str, Decimal]]] = {}
    reducing: dict[tuple[str, Side], Decimal] = {}
    for cid, live in open_orders.items():
        order = live.order
        key = (order.symbol, order.side)
        left = order.quantity - live.filled
        if order.reduce_only:
            reducing[key] = reducing.get(key, ZERO) + left
            continue
        price = order.limit_price or last.get(order.symbol, ZERO)
        sides.setdefault(key, []).append((price, cid, left))
    for (symbol, side), orders in sides.items():
        held = positions.get(symbol, ZERO)
        room = held if side is Side.SELL else -held  # what this side can close
        yield room - reducing.get((symbol, side), ZERO), sorted(orders)


def stop_risk_scan(
    open_orders: Mapping[str, OpenOrder],
    positions: Mapping[str, Decimal],
    last: Mapping[str, Decimal],
) -> Decimal:
    """``Book.stop_risk`` summed over every open order."""
    total = ZERO
    for closable, orders in against_positions(open_orders, positions, last):
        room = closable
        for price, _cid, left in orders:
            closing = min(left, room) if room > 0 else ZERO
            room -= closing
            if left - closing:
                total += (left - closing) * price
    return total
