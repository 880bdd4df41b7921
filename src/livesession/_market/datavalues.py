"""A data file's numbers: how a cell is read as one, and what its prices and volumes may be.

Prices and volumes are never rounded, so each is held where it comes in to what a run can
take as it is:

- a **number** is a finite decimal of at most 28 significant digits (``excess_digits``),
  written with the digits 0-9 and a point (or a decimal comma), as ``csvforms`` reads it;
- a **price** is positive and on the grid: the ``price_tick`` given, or the one inferred
  from the prices as written (their finest decimal step: ``1.07160`` has five places,
  ``0.00001``), and at most 28 digits of ticks (as many as the session computes with
  exactly; an inferred grid is held to the largest price once all are read);
- a **volume** is 0, or within 28 digits of 1 (the run writes it in full and works out
  its place on the lot exactly); never negative, ``-0`` neither (it would be recorded
  with its sign, which no volume has).

The whole-file check (``datafile``) names the line, column and value of a problem.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from math import gcd
from typing import Final

from .._domain.decimal import DIGITS, excess_digits, plain
from .._domain.gridbounds import grid_text
from .._exceptions import ConfigError
from .._support.numbertext import number_form_problem
from .._support.references import a_
from .csvforms import comma_hint, decimal_text
from .csvheader import PRICE_COLUMNS

__all__ = [
    "PriceGrid",
    "blank_row",
    "check_positive",
    "check_replay_args",
    "check_symbol",
    "check_tick",
    "missing_value",
    "read_number",
    "volume_problem",
]

_LEAST_VOLUME: Final = Decimal(1).scaleb(-DIGITS)
_VOLUME_BOUND: Final = Decimal(1).scaleb(DIGITS)


def check_tick(tick: object) -> None:
    """Refuse (``ConfigError``) a ``tick`` argument that is neither None nor a positive Decimal.

    A float or a str has no grid to hold prices to (it died of ``'float' object has no
    attribute 'scaleb'``), and a tick of 0 or below none a price is on (the check blamed a
    valid price for it): the refusal names the argument, not the file.
    """
    if tick is None:
        return
    infer = "or tick=None to infer the grid from the prices"
    if not isinstance(tick, Decimal):
        given, step = a_(type(tick).__name__), "0.01"
        if isinstance(tick, (float, int, str)) and not isinstance(tick, bool):
            given, step = f"{given} ({tick!r})", str(tick)
        rounded = " (a float is rounded when it is read)" if isinstance(tick, float) else ""
        raise ConfigError(
            f"tick= got {given}, not a Decimal{rounded}: pass tick=Decimal({step!r}), {infer}"
        )
    if not tick.is_finite() or tick <= 0:
        raise ConfigError(
            f"tick=Decimal({str(tick)!r}) is not a positive step: pass the price grid's step "
            f"(tick=Decimal('0.01'), say), {infer}"
        )


def check_replay_args(feed: str, symbol: object, lot: object) -> None:
    """Refuse (``ConfigError``) a replay feed's ``symbol`` or ``lot`` argument, naming it.

    An empty symbol or a number (``symbol=5``) named every bar of the run so, and a lot of
    0 (or a float) is no grid a venue can split fills on.
    """
    check_symbol(feed, symbol)
    check_positive(feed, "lot", lot, like="0.001")


def check_symbol(feed: str, symbol: object) -> None:
    """Refuse (``ConfigError``) a ``feed``'s ``symbol`` that is no non-empty str."""
    if not isinstance(symbol, str) or not symbol:
        raise ConfigError(f"{feed}(symbol=...) must be a non-empty str, got {symbol!r}")


def check_positive(feed: str, name: str, value: object, *, like: str) -> None:
    """Refuse (``ConfigError``) a ``feed``'s ``name`` that is no positive, finite Decimal."""
    if not (isinstance(value, Decimal) and value.is_finite() and value > 0):
        raise ConfigError(
            f"{feed}({name}=...) must be a positive Decimal (Decimal('{like}')), got {value!r}"
        )


_MISSING: Final = frozenset({"null", "none", "nil", "nan", "-nan", "+nan", "n/a", "na", "#n/a"})
"""How exports write a value they do not have (pandas' ``NaN``, JSON's ``null``, ``N/A``)."""


def missing_value(text: str, column: str) -> str | None:
    """Why the cell ``text`` of ``column`` is no value at all, and what to do; or None.

    An empty cell, and the words exports write for a missing one (``null``, ``N/A``,
    ``NaN``): a bar with a price or its volume missing is no bar, and none is made up.
    """
    if text and text.strip().lower() not in _MISSING:
        return None
    what = "empty value" if not text else "a missing value"
    return f"{what}: drop the row, or fill in its {column}"


def blank_row(cells: list[str]) -> str | None:
    """Why a row of empty cells is no bar, and what to do; or None for a row with a value.

    A spreadsheet saves a row it holds no value in, but has formatted or once used, as its
    separators alone (``;;;;;``): told to fill in its open, a user looks for a missing price.
    """
    if any(cell.strip() for cell in cells):
        return None
    return "a row of empty cells (a spreadsheet's blank row, its separators alone): delete it"


def read_number(text: str, *, decimal_comma: bool, delimiter: str = ",") -> Decimal:
    """The number a non-empty cell writes; a ``ValueError`` saying why it is none we take.

    ``delimiter``: the file's separator, for what to do with a decimal comma it may not write.
    """
    written = decimal_text(text) if decimal_comma else text
    try:
        value = Decimal(written)
    except InvalidOperation:
        raise ValueError(
            "not a decimal number"
            + comma_hint(text, decimal_comma=decimal_comma, delimiter=delimiter)
        ) from None
    if not value.is_finite():
        raise ValueError("not a finite number")
    not_plain = number_form_problem(written)  # 1_234.5, full-width digits: Decimal reads them
    if not_plain is not None:
        raise ValueError(not_plain)
    # No more digits than the text has characters: only a long text can have too many.
    too_long = excess_digits(value) if len(written) > DIGITS else None
    if too_long is not None:  # prices and volumes are never rounded
        raise ValueError(too_long)
    return value


def volume_problem(volume: Decimal) -> str | None:
    """Why ``volume`` cannot be a bar's, or None."""
    if volume.is_signed():  # -0 too: a run would record "-0", which no volume is
        return "negative volume" if volume else "negative zero volume: write 0"
    if volume and not _LEAST_VOLUME <= volume < _VOLUME_BOUND:
        return (
            f"a volume must be 0, or at least 1E-{DIGITS} and below 1E+{DIGITS} ({DIGITS} "
            "digits from 1: as many as the session computes with exactly)"
        )
    return None


class PriceGrid:
    """The grid a file's prices are held to: the tick given, or inferred from them all."""

    def __init__(self, tick: Decimal | None) -> None:
        self.tick = tick
        self.found = False
        """The grid a check found, held to the rows it passed as a feed plays them: a price
        off it was written since, which is what an off-grid price's message says."""
        self.places = 0  # the most decimal places a price has as written (tick None)
        self.largest: tuple[Decimal, str, int, str] | None = None  # value, text, line, column
        self.finest: tuple[str, int, str] | None = None
        """The first price written with the inferred grid's places: text, line, column."""
        # A given tick's bounds, worked out once (every price of a file is held to them).
        self._within = None if tick is None else (tick.scaleb(-DIGITS), tick.scaleb(DIGITS))
        # A tick of a power of ten (0.01) holds every price of as many places or fewer.
        self._places = None if tick is None else _power_places(tick)

    @property
    def found_tick(self) -> Decimal:
        """The tick given, or inferred: the finest decimal step of the prices as written."""
        return self.tick if self.tick is not None else Decimal(1).scaleb(-self.places)

    def problem(self, value: Decimal, text: str, line: int, column: str) -> str | None:
        """Why the price ``value`` (written ``text``) is not one of the grid's, or None."""
        if value <= 0:
            return "a price must be positive"
        if self.tick is None or self._within is None:
            return self._infer(value, text, line, column)
        least, beyond = self._within
        if least <= value < beyond and value >= self.tick and not value % self.tick:
            return None  # on the grid, within 28 digits of the tick (the usual price)
        return self._on_tick(value, text, self.tick, column)

    @property
    def plain_places(self) -> int | None:
        """The places of a given tick that is a power of ten (``0.01``: 2), else None.

        Every price written plain with as many places or fewer is on its grid.
        """
        return self._places

    def fits(self, values: dict[str, Decimal], texts: list[str], line: int) -> bool:
        """Whether ``problem`` finds nothing wrong with any price of a bar (``values``).

        ``texts``: the bar's values as written, in ``REQUIRED_COLUMNS`` order, each plain
        (digits and at most one point, as ``quickrow`` takes them: the places are the
        text's), and the prices of no more places than ``plain_places`` when it is not None.
        The bar's low and high are its least and greatest. An inferred grid takes the prices
        in, as ``problem`` would. False: nothing changed.
        """
        low, high, tick = values["low"], values["high"], self.tick
        if tick is None or self._within is None:
            places = [_plain_places(text) for text in texts[:4]]
            most = max(places)
            if low <= 0 or most > DIGITS:
                return False
            if most > self.places:
                at = places.index(most)
                self.finest = (texts[at], line, PRICE_COLUMNS[at])
                self.places = most
            if self.largest is None or high > self.largest[0]:
                for column, text in zip(PRICE_COLUMNS, texts, strict=False):
                    value = values[column]  # the first of the greatest, as problem's
                    if self.largest is None or value > self.largest[0]:
                        self.largest = (value, text, line, column)
            return True
        if not (low >= tick and high < self._within[1]):  # the least bound is below the tick
            return False
        return self._places is not None or not any(
            values[column] % tick for column in PRICE_COLUMNS
        )

    def _infer(self, value: Decimal, text: str, line: int, column: str) -> str | None:
        """Take ``value``'s places into the inferred grid (held to it once all are read)."""
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > self.places:
            if -exponent > DIGITS:  # no grid to infer: 1E-999999999 has no finer tick
                return (
                    f"price {text} has {-exponent} decimal places, more than the {DIGITS} "
                    "an inferred price_tick may have: set price_tick"
                )
            self.places = -exponent
            self.finest = (text, line, column)
        if self.largest is None or value > self.largest[0]:
            self.largest = (value, text, line, column)
        return None

    def _on_tick(self, value: Decimal, text: str, tick: Decimal, column: str) -> str | None:
        """Why ``value`` is not on the tick given, within 28 digits of it, or None."""
        too_far = self._too_far(value, text)
        if too_far is not None:
            return too_far
        if value < tick.scaleb(-DIGITS):  # no tick both are on is within 28 digits
            return (
                f"price {text} is more than {DIGITS} digits below the price_tick {tick} "
                "(as many as the session computes with exactly)"
            )
        if value >= tick and value % tick == 0:  # below the tick: never on it
            return None
        if self.found:  # written since the check: no other tick to set
            return (
                f"{column} {text} is off the price_tick grid {tick} the check found (prices "
                "are never rounded)"
            )
        return (
            f"price {text} is off the price_tick grid {grid_text(tick)} (prices are never "
            f"rounded): {_tick_hint(value, tick)}"
        )

    def largest_problem(self) -> tuple[str, int, str, str] | None:
        """Once every price is read: the inferred grid's largest price, if too far from it.

        As (text, line, column, problem), or None.
        """
        if self.tick is not None or self.largest is None:
            return None
        value, text, line, column = self.largest
        too_far = self._too_far(value, text)
        return None if too_far is None else (text, line, column, too_far)

    def _too_far(self, value: Decimal, text: str) -> str | None:
        tick = self.found_tick
        if value < tick.scaleb(DIGITS):
            return None
        return (
            f"price {text} is more than {DIGITS} digits from the price_tick {tick} (as many "
            "as the session computes with exactly)"
        )


def _tick_hint(value: Decimal, tick: Decimal) -> str:
    """The ``price_tick`` to set for ``value``: a step it and every price before it fit.

    Every price before it is on the grid of ``tick``, and ``value`` is off it.
    A tick of a power of ten (``0.01``) gets the power of ten of the price's places
    (``1.0716``: ``0.0001``), and any finer one fits too. Another (``0.25``) gets the
    largest step that divides both it and the price (``4501.10``: ``0.05``), since a finer
    decimal (``0.1``) need not hold the prices before it (``4500.25``).
    """
    places = max(_places(value), _places(tick))
    if tick.normalize().as_tuple().digits == (1,):
        return f'set price_tick = "{plain(Decimal(1).scaleb(-_places(value)))}" or finer'
    common = gcd(int(value.scaleb(places)), int(tick.scaleb(places)))
    step = plain(Decimal(common).scaleb(-places))
    return (
        f'set price_tick = "{step}" (the largest step that divides both this price and '
        f"{grid_text(tick)}, the grid of the prices before it), or a step that divides {step}"
    )


def _power_places(tick: Decimal) -> int | None:
    """The places of a tick that is a power of ten (``0.01``: 2; ``1``: 0), else None."""
    sign, digits, exponent = tick.normalize().as_tuple()
    power = (sign, digits) == (0, (1,)) and isinstance(exponent, int) and exponent <= 0
    return -int(exponent) if power else None


def _plain_places(text: str) -> int:
    """The decimal places of a number written plain (``1.0716``: 4; ``102``: 0)."""
    point = text.find(".")
    return 0 if point < 0 else len(text) - point - 1


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
