"""The strategy's read-only window on the book.

The strategy is the caller's code, so it gets no reference to the session's ``Book``: it
gets a ``ReadOnlyBook``, built once per session, whose every read goes to the live book at
the moment it is made (no copy per bar). The view holds closures rather than the book, so
no attribute of it leads back to a mutable object; it refuses assignment and deletion, and
what it returns is immutable (``Decimal``, tuples, copies of the frozen orders). The session
itself never reads through the view, so a strategy that forges the view's own slots with
``object.__setattr__`` misleads only itself.

Python cannot wall off deliberate introspection (a closure's cells, ``gc``): the view
guards the session against mistakes and ordinary attribute access, not against code that
sets out to defeat the interpreter.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, NoReturn, final

from .._domain.decimal import ZERO

if TYPE_CHECKING:
    from collections.abc import Callable
    from decimal import Decimal

    from .._domain.model import Order
    from .book import Book

__all__ = ["ReadOnlyBook"]


def _refuse(name: str) -> NoReturn:
    msg = f"the strategy's view of the book is read-only (cannot set or delete {name!r})"
    raise AttributeError(msg)


def _copies(book: Book, symbol: str | None) -> tuple[Order, ...]:
    # Copies: an Order is frozen, but object.__setattr__ would still change the book's own.
    return tuple(
        copy.copy(live.order)
        for _, live in sorted(book.open.items())
        if symbol is None or live.order.symbol == symbol
    )


@final
class ReadOnlyBook:
    """What a strategy may read about the session: a ``StrategyView``.

    ``cash`` and ``equity`` are read-only properties; ``position``, ``avg_price``,
    ``open_orders`` and ``has_open_orders`` take a symbol. Every read is of the live book.
    """

    __slots__ = ("_avg", "_cash", "_equity", "_has", "_orders", "_position")

    _cash: Callable[[], Decimal]
    _equity: Callable[[], Decimal]
    _orders: Callable[[str | None], tuple[Order, ...]]
    _has: Callable[[str], bool]
    _position: Callable[[str], Decimal]
    _avg: Callable[[str], Decimal | None]

    def __init__(self, book: Book) -> None:
        # Closures, not the book nor its bound methods (whose __self__ is the book): reading
        # an attribute of the view never yields the Book. Each closure reads the book's
        # current attribute (set_state replaces its dicts).
        init = object.__setattr__
        init(self, "_cash", lambda: book.cash)
        init(self, "_equity", lambda: book.equity())  # noqa: PLW0108
        init(self, "_orders", lambda symbol: _copies(book, symbol))
        init(self, "_has", lambda symbol: book.has_open_orders(symbol))  # noqa: PLW0108
        init(self, "_position", lambda symbol: book.positions.get(symbol, ZERO))
        init(self, "_avg", lambda symbol: book.avg_price.get(symbol))  # noqa: PLW0108

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        _refuse(name)

    def __delattr__(self, name: str) -> NoReturn:
        _refuse(name)

    def __repr__(self) -> str:
        return f"ReadOnlyBook(cash={self.cash}, equity={self.equity})"

    @property
    def cash(self) -> Decimal:
        """The session's cash."""
        return self._cash()

    @property
    def equity(self) -> Decimal:
        """Cash plus positions marked at the last price, quantised to the price tick."""
        return self._equity()

    def position(self, symbol: str) -> Decimal:
        """Net position in ``symbol`` (0 when none)."""
        return self._position(symbol)

    def avg_price(self, symbol: str) -> Decimal | None:
        """Average entry price of the position in ``symbol``; None while it is flat."""
        return self._avg(symbol)

    def open_orders(self, symbol: str | None = None) -> tuple[Order, ...]:
        """The open orders (of ``symbol``, or all), by client order id; copies."""
        return self._orders(symbol)

    def has_open_orders(self, symbol: str) -> bool:
        """Whether any order in ``symbol`` is still open."""
        return self._has(symbol)
