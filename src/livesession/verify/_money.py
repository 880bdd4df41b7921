"""The cash and average entry prices the fills imply, held against each ``POSITION_CHANGED``.

Cash moves only by fills (docs/artifacts.md): each ``POSITION_CHANGED``'s ``cash`` is the
last one less the fills since, and before the first the last is the config's
``initial_cash``. Without that start, a forged first fill price (its event id, the digests,
the chain and the audit head recomputed) moved the first cash and every one after it
together, and nothing disagreed. A run without ``config.json`` gives no start: its first
cash is taken as written, and only the moves after it are held to the fills.

``avg_price`` is the volume-weighted average entry price of the position held: a fill that
adds to the position moves it, one that reduces it leaves it, one that flips it starts it
at its price, and a flat position has none (written ``0``). It is worked out exactly (a
fraction: an average whose division does not end is kept whole, unless its denominator
passes 10**28, when it goes on from its 28 significant digits) and written rounded once,
half-even, to the price tick, so an average on a half tick goes to the even tick: it is
checked only when ``config.json`` gives the tick, and not for a run of a release before
0.2, which rounded the average at every fill and kept the last price once flat.

``equity`` is the cash plus each position at its last price (the last ``BAR``'s close of
its symbol, or its average before any bar), exact (``Book.equity``): each
``POSITION_CHANGED``'s and ``SESSION_STOPPED``'s is held to it, and ``SESSION_STOPPED``'s
``pnl`` to it less the ``initial_cash``. Without that, a run re-sealed with every equity
and the PnL edited verified OK, though the fills and the bars say otherwise.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts import names

if TYPE_CHECKING:
    from ._result import Violations

__all__ = ["Money", "config_decimal"]

EVENTS: Final = names.EVENTS
_ARITHMETIC: Final = Context(prec=28, rounding=ROUND_HALF_EVEN)
"""Decimal's default context, named: the caller's own context must not change a verdict."""
_ZERO: Final = Decimal(0)
_EXACT_DENOMINATOR: Final = 10**28
"""The largest denominator the book keeps an exact average with; past it, 28 digits."""
_BEFORE_AVERAGES: Final = ("0.0.", "0.1.")
"""The releases whose runs rounded the average at every fill (and kept a flat one's)."""


def config_decimal(config: bytes | None, key: str) -> Decimal | None:
    """``config.json``'s ``key`` as a finite decimal, or None (no config, no such number).

    A config.json that cannot be read is reported by the config check, not here.
    """
    try:
        data = None if config is None else orjson.loads(config)
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, bool) or not isinstance(value, str | int):
            return None  # not a number the config could give
        number = Decimal(value)
    except (orjson.JSONDecodeError, InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


class Money:
    """The book's cash and average prices, replayed fill by fill from the events."""

    def __init__(self, initial_cash: Decimal | None, tick: Decimal | None) -> None:
        self.initial_cash = initial_cash
        self._cash = initial_cash
        """The cash the fills so far leave; None: unknown until the first POSITION_CHANGED."""
        self._since = f"the initial_cash {initial_cash} of {names.CONFIG}"
        self._tick = tick if tick is not None and tick > 0 else None
        """The price tick the averages are written on; None: they are not checked."""
        self._averages: dict[str, Fraction] = {}
        self._positions: dict[str, Decimal] = {}
        self._marks: dict[str, Decimal] = {}
        self._equities = True
        """Whether the equities are checked (not for a run of a release before 0.2)."""

    def recorded_by(self, version: object) -> None:
        """The livesession ``version`` that wrote the run: before 0.2, averages are its own."""
        if str(version).startswith(_BEFORE_AVERAGES):
            self._tick = None
            self._equities = False

    def bar(self, symbol: str, close: Decimal) -> None:
        """A ``BAR``: ``symbol``'s last price, which its position is marked at."""
        self._marks[symbol] = close

    def equity(self) -> Decimal | None:
        """The cash plus each position at its last price, or None (the cash is unknown)."""
        if self._cash is None or not self._equities:
            return None
        value = self._cash
        for symbol, held in self._positions.items():
            if held:
                mark = self._marks.get(symbol) or _decimal(self._averages.get(symbol))
                value = _ARITHMETIC.add(value, _ARITHMETIC.multiply(held, mark))
        return value

    def check_equity(self, report: Violations, number: int, payload: dict[str, Any]) -> None:
        """Hold a ``POSITION_CHANGED``'s or ``SESSION_STOPPED``'s ``equity`` (and ``pnl``)."""
        expected = self.equity()
        written = payload.get("equity")
        if expected is None or not isinstance(written, str):
            return
        if Decimal(written) != expected:
            report.add(
                EVENTS,
                number,
                f"equity {written} but the cash {self._cash} and the positions at their last "
                f"prices add up to {expected}",
            )
        pnl = payload.get("pnl")
        if isinstance(pnl, str) and self.initial_cash is not None:
            gained = _ARITHMETIC.subtract(expected, self.initial_cash)
            if Decimal(pnl) != gained:
                report.add(
                    EVENTS,
                    number,
                    f"pnl {pnl} but the equity {expected} less the initial_cash "
                    f"{self.initial_cash} is {gained}",
                )

    def fill(self, symbol: str, held: Decimal, signed: Decimal, price: Decimal) -> None:
        """A fill of ``signed`` at ``price`` on a position of ``held`` in ``symbol``."""
        if self._cash is not None:
            self._cash = _ARITHMETIC.subtract(self._cash, _ARITHMETIC.multiply(signed, price))
        new = held + signed
        self._positions[symbol] = new
        if not new:
            self._averages.pop(symbol, None)
        elif not held or (new > 0) != (held > 0):  # opening, or flipped: the rest opens here
            self._averages[symbol] = Fraction(price)
        elif (held > 0) == (signed > 0):  # adding to the position
            before, added = Fraction(abs(held)), Fraction(abs(signed))
            cost = self._averages.get(symbol, Fraction(price)) * before
            average = (cost + Fraction(price) * added) / (before + added)
            if average.denominator > _EXACT_DENOMINATOR:  # as the book: from its 28 digits
                average = Fraction(_decimal(average))
            self._averages[symbol] = average

    def position_changed(self, report: Violations, number: int, payload: dict[str, Any]) -> None:
        """Hold the ``avg_price`` and ``cash`` of a ``POSITION_CHANGED`` to the fills."""
        self._average(report, number, payload)
        if "cash" not in payload:  # the contract's POSITION_CHANGED need not carry it
            return
        cash = Decimal(payload["cash"])
        if self._cash is not None and cash != self._cash:
            report.add(
                EVENTS,
                number,
                f"cash {payload['cash']} but {self._since} and the fills since add up to "
                f"{self._cash}",
            )
        self._cash = cash
        self._since = "the last cash recorded"
        self.check_equity(report, number, payload)

    def _average(self, report: Violations, number: int, payload: dict[str, Any]) -> None:
        tick, written = self._tick, payload.get("avg_price")
        if tick is None or not isinstance(written, str):
            return
        symbol = payload["symbol"]
        average = self._averages.get(symbol)
        expected = _ZERO if average is None else Decimal(round(average / Fraction(tick))) * tick
        if Decimal(written) == expected:
            return
        why = (
            "the position is flat: 0"
            if average is None
            else f"the fills average {_shown(_decimal(average), tick)}: {expected} on the "
            f"price_tick {tick}"
        )
        report.add(EVENTS, number, f"avg_price {written} of {symbol!r} but {why}")


def _decimal(value: Fraction | None) -> Decimal:
    """An exact average to Decimal's 28 digits (0 for none), as the book gives it."""
    if value is None:
        return _ZERO
    return _ARITHMETIC.divide(Decimal(value.numerator), Decimal(value.denominator))


def _shown(average: Decimal, tick: Decimal) -> str:
    """``average`` as a message writes it: the places it needs, at least the tick's."""
    exponent = tick.as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 0
    text = f"{average.normalize():f}"
    needed = len(text.partition(".")[2])
    return text if needed >= places else f"{average:.{places}f}"
