"""Market feeds: a seeded random walk and a CSV OHLCV replay."""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any, Final

from .._domain.decimal import DIGITS, places, plain, quantize, to_places
from .._domain.model import Bar
from .._domain.random import DeterministicStream
from .._exceptions import ConfigError
from .datacheck import DataFileCheck
from .datafile import check_csv, scan_csv
from .dataopen import open_data_file
from .datavalues import check_positive, check_replay_args, check_symbol, check_tick
from .played import PlayedFile

__all__ = [
    "CsvReplayFeed",
    "DataFileCheck",
    "RandomWalkFeed",
    "bar_volume",
    "check_csv",
    "row_bar",
]

_BPS = Decimal(10_000)
_BPS_INT: Final = 10_000
# Past this many units a Decimal product could exceed 28 digits; the formulae take over.
_MAX_UNITS: Final = 10**18
# Grids finer than 10^-6 use the formulae (kept as simple as the grids in use).
_MAX_PLACES: Final = 6


def _round_to(numerator: int, step: int) -> int:
    """``numerator / 10_000`` rounded half-even to a multiple of ``step`` (integer units)."""
    quotient, rest = divmod(numerator, _BPS_INT * step)
    twice = 2 * rest
    if twice > _BPS_INT * step or (twice == _BPS_INT * step and quotient & 1):
        quotient += 1
    return quotient * step


class _Grid:
    """A price or lot grid ``step x 10^exponent`` counted in integer units of ``10^exponent``."""

    __slots__ = ("exponent", "step")

    def __init__(self, step: int, exponent: int) -> None:
        self.step = step
        self.exponent = exponent

    @classmethod
    def of(cls, value: Decimal) -> _Grid | None:
        """The grid of ``value``, or None when integer units would not be exact."""
        sign, digits, exponent = value.as_tuple()
        if sign or not isinstance(exponent, int) or not -_MAX_PLACES <= exponent <= 0:
            return None
        step = int("".join(map(str, digits)))
        rest = step
        for factor in (2, 5):
            while rest and rest % factor == 0:
                rest //= factor
        if step <= 0 or rest != 1:
            return None  # division by this step would not terminate
        return cls(step, exponent)

    def units(self, value: Decimal) -> int:
        """``value`` in integer units (exact for values on the grid's exponent)."""
        return int(value.scaleb(-self.exponent))

    def value(self, units: int) -> Decimal:
        """``units`` as the Decimal the formulae give: coefficient ``units``, this exponent."""
        return Decimal(units).scaleb(self.exponent)


def bar_volume(value: Decimal, lot: Decimal) -> Decimal:
    """A data file's volume as its bar carries it: never rounded to the lot.

    A volume is the market's, not an order quantity: ``12.5`` at a lot of 1 stays ``12.5``.
    One on the lot keeps the text such volumes always had: its digits as written, less any
    zeros past the lot's places (``1.5000`` at a lot of 0.001 is ``1.500``, ``12`` stays
    ``12``). Any volume the check lets through (28 digits from 1 at most) is taken, at any
    lot: one whose count of lots has more digits than Decimal keeps (``1e25`` at a lot of
    0.001) is worked out in a context wide enough to be exact.
    """
    try:
        return _on_lot(value, lot)
    except InvalidOperation:  # value / lot has more digits than the context keeps (1e25 / 0.001)
        with localcontext() as wide:  # exact at any width: the same value, only wider
            wide.prec = DIGITS + max(0, value.adjusted() - lot.adjusted()) + len(lot.as_tuple()[1])
            return _on_lot(value, lot)


def _on_lot(value: Decimal, lot: Decimal) -> Decimal:
    if value % lot:
        return value
    return (value / lot).to_integral_value() * lot  # exact: only trailing zeros go


def row_bar(
    symbol: str, ts_ns: int, values: Mapping[str, Decimal], *, tick: Decimal, lot: Decimal
) -> Bar:
    """A data file's row as its bar, from the row's numbers by column name.

    The prices are on the grid (the file's check saw to it), so exact: the file's value at
    the tick's places. The volume is ``bar_volume``'s, never rounded to the lot.
    """
    return Bar(
        symbol=symbol,
        ts_ns=ts_ns,
        open=to_places(values["open"], tick),
        high=to_places(values["high"], tick),
        low=to_places(values["low"], tick),
        close=to_places(values["close"], tick),
        volume=bar_volume(values["volume"], lot),
    )


def _check_walk(
    symbol: object, *, seed: object, price: object, tick: object, lot: object, bps: object
) -> None:
    """Refuse (``ConfigError``) a ``RandomWalkFeed`` argument, naming it.

    A float price died of ``unsupported operand type(s) for /``, a zero tick of a bare
    ``DivisionByZero``; a negative seed or volatility walked on without a word.
    """
    check_symbol("RandomWalkFeed", symbol)
    for name, number in (("seed", seed), ("volatility_bps", bps)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ConfigError(
                f"RandomWalkFeed({name}=...) must be a non-negative integer, got {number!r}"
            )
    for name, value, like in (
        ("initial_price", price, "100"),
        ("tick", tick, "0.01"),
        ("lot", lot, "0.001"),
    ):
        check_positive("RandomWalkFeed", name, value, like=like)


class RandomWalkFeed:
    """Bars from a seeded random walk in basis points, quantised to the price tick.

    Each bar takes the four draws of one block of the stream (one SHA-256: move, upper wick,
    lower wick, volume, in that order, counted from the seed). For the usual grids
    (a tick and a lot of the form ``k x 10^-d`` with ``k`` made of 2s and 5s and
    ``0 <= d <= 6``) the walk runs in integer units of the grid, with half-even rounding
    done by ``divmod``: exactly the values the ``Decimal`` formulae give (a property test
    holds the two side by side), at a fraction of the cost. Other grids use the formulae.
    """

    def __init__(
        self,
        *,
        symbol: str,
        seed: int,
        initial_price: Decimal,
        tick: Decimal,
        lot: Decimal,
        volatility_bps: int = 20,
    ) -> None:
        """A walk of ``symbol`` from ``initial_price``; every argument but one is required.

        Args:
            symbol: the market's name on each bar (``"BTC/USDT"``), a non-empty str.
            seed: the walk's seed, a non-negative integer: the same seed, symbol and grids
                give the same bars, on every machine.
            initial_price: where the walk starts, a positive ``Decimal`` (rounded to
                ``tick``, half-even).
            tick: the price grid, a positive ``Decimal`` (``Decimal("0.01")``).
            lot: the quantity grid, a positive ``Decimal`` (``Decimal("0.001")``): each
                bar's volume is 1 to 1,000 lots.
            volatility_bps: the largest move of one bar's close, in basis points of the
                price; a non-negative integer, ``20`` by default (``0``: a flat walk).

        Raises:
            ConfigError: an argument of the wrong kind or value, named (a float where a
                ``Decimal`` goes: ``0.1`` is not the decimal it looks like).
        """
        _check_walk(symbol, seed=seed, price=initial_price, tick=tick, lot=lot, bps=volatility_bps)
        self.symbol = symbol
        self._tick = tick
        self._lot = lot
        self._vol = volatility_bps
        self._wick = max(volatility_bps // 2, 0)
        self._stream = DeterministicStream(seed, f"feed:{symbol}")
        self._close = quantize(initial_price, tick)
        self._price_grid = _Grid.of(tick)
        self._lot_grid = _Grid.of(lot)
        self._units = 0 if self._price_grid is None else self._price_grid.units(self._close)
        # The last bar's close as (units, Decimal): the next bar opens at it, so the
        # Decimal is made once per bar, not twice.
        self._last: tuple[int, Decimal] | None = None
        # One unit of the price grid and of the lot grid (10^exponent), for the integer walk.
        self._price_unit = Decimal(1).scaleb(self._price_grid.exponent if self._price_grid else 0)
        self._lot_unit = Decimal(1).scaleb(self._lot_grid.exponent if self._lot_grid else 0)
        # A bar's volume is one of 1,000 (1 to 1,000 lots): each Decimal is made once.
        self._volumes: dict[int, Decimal] = {}
        # The first price the tick's grid cannot write within Decimal's digits: the walk
        # stops there (only the Decimal formulae reach it: the integer walk ends at 10^18).
        self._beyond = Decimal(1).scaleb(DIGITS - places(tick))
        # The same bound in the integer walk's units: one bar may cross it from far below.
        exponent = self._price_grid.exponent if self._price_grid else 0
        self._beyond_units = 10 ** (DIGITS - places(tick) - exponent)

    @property
    def price_tick(self) -> Decimal:
        """The grid this feed's prices are on: the tick given, or the one its data infer."""
        return self._tick

    def next_bar(self, ts_ns: int) -> Bar:
        """The next bar; the walk never ends and never reaches zero."""
        price, lot = self._price_grid, self._lot_grid
        if price is None or lot is None or self._units >= _MAX_UNITS:
            return self._next_bar_decimal(ts_ns)
        move, wick_up, wick_down, volume = self._stream.block4()
        vol, wick, step = self._vol, self._wick, price.step
        open_ = self._units
        close = _round_to(open_ * (_BPS_INT + move % (2 * vol + 1) - vol), step)
        if close <= 0:
            close = step
        top, bottom = (open_, close) if open_ > close else (close, open_)
        high = _round_to(top * (_BPS_INT + wick_up % (wick + 1)), step)
        if high >= self._beyond_units:  # exact here: ``* unit`` would round it to 28 digits
            raise ValueError(self._beyond_grid(Decimal(f"{high}E{price.exponent}")))
        low = _round_to(bottom * (_BPS_INT - wick_down % (wick + 1)), step)
        if low < step:  # noqa: PLR1730 - max() parses keywords: about 1,000 instructions a call
            low = step
        self._units = close
        # units x 10^exponent, by one exact product (the same Decimal as units.scaleb(exponent))
        unit = self._price_unit
        last = self._last
        if last is None or last[0] != open_:
            last = (open_, Decimal(open_) * unit)
        close_value = Decimal(close) * unit
        self._last = (close, close_value)
        lots = volume % 1000
        volume_value = self._volumes.get(lots)
        if volume_value is None:
            volume_value = self._volumes[lots] = Decimal(lot.step * (1 + lots)) * self._lot_unit
        return Bar(
            symbol=self.symbol,
            ts_ns=ts_ns,
            open=last[1],
            high=Decimal(high) * unit,
            low=Decimal(low) * unit,
            close=close_value,
            volume=volume_value,
        )

    def _next_bar_decimal(self, ts_ns: int) -> Bar:
        """``next_bar`` by the Decimal formulae (any grid; the reference for the fast path)."""
        if self._price_grid is not None:  # leaving the integer walk (or never on it)
            self._close = self.last_close
            self._price_grid = None
        open_ = self._close
        move_u, up_u, down_u, volume_u = self._stream.block4()
        move = move_u % (2 * self._vol + 1) - self._vol
        close = quantize(open_ * (_BPS + move) / _BPS, self._tick)
        if close <= 0:
            close = self._tick
        wick_up = up_u % (self._wick + 1)
        wick_down = down_u % (self._wick + 1)
        high = quantize(max(open_, close) * (_BPS + wick_up) / _BPS, self._tick)
        if high >= self._beyond:
            raise ValueError(self._beyond_grid(high))
        low = max(quantize(min(open_, close) * (_BPS - wick_down) / _BPS, self._tick), self._tick)
        volume = self._lot * (1 + volume_u % 1000)
        self._close = close
        return Bar(
            symbol=self.symbol,
            ts_ns=ts_ns,
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=volume,
        )

    def _beyond_grid(self, high: Decimal) -> str:
        """Why the walk stops at a bar whose ``high`` the tick's grid cannot write."""
        return (
            f"the random walk reached {plain(high)}, more than the {DIGITS} digits "
            f"Decimal arithmetic keeps on the price_tick {plain(self._tick)} grid: start "
            "it lower (initial_price) or give a coarser price_tick"
            + (
                f", or a smaller volatility_bps ({self._vol} lets a bar move more than the "
                "whole price)"
                if self._vol > _BPS_INT
                else ""
            )
        )

    @property
    def last_close(self) -> Decimal:
        """The close of the last bar (the initial price before the first)."""
        if self._price_grid is None:
            return self._close
        return self._price_grid.value(self._units)

    def get_state(self) -> dict[str, Any]:
        """The stream's counter (blocks drawn: one a bar) and the last close."""
        return {"close": plain(self.last_close), "counter": self._stream.counter}  # sorted

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore ``get_state``'s snapshot."""
        self._stream.counter = int(state["counter"])
        self._close = Decimal(state["close"])
        self._last = None
        if self._price_grid is not None:
            self._units = self._price_grid.units(self._close)

    def __repr__(self) -> str:
        return f"RandomWalkFeed(symbol={self.symbol!r}, volatility_bps={self._vol})"


class CsvReplayFeed:
    """Bars replayed from a CSV file whose header has ``open,high,low,close,volume``.

    Opening the feed checks the whole file and hashes it, in one pass (``check_csv``:
    the first bad row is a ``DataFileError`` naming file, line, column and value), so a
    run never starts on data it would trip over; ``checked`` holds the file's SHA-256. Other
    columns are allowed. With a time column (or an unnamed first column, as pandas writes
    the index) the feed is ``dated``: each bar's ``ts_ns`` is the file's own time, which
    must increase strictly; without one, bars take the session's simulated times. Rows are
    then streamed, never loaded whole, and only those the check read: the feed stops at
    the byte where the checked file ended (rows a downloader appends while the run reads
    are not played, and a file cut short while it plays is the feed's error), so a run
    plays exactly the bytes its ``feed_sha256`` names: each row it plays passes the check's
    per-row checks again, and the bytes it played must hash to that SHA-256 at the end (a
    file rewritten in place while it plays is the feed's error, naming the line). ``size``
    (a resumed run's ``feed_bytes``) checks and plays the file's first ``size`` bytes only:
    the bytes the run read before it crashed, when rows were appended to the file since.

    Prices are never rounded: a price off the ``tick`` grid is refused by the check
    (``1.0716`` under ``0.01``: set ``price_tick``), and a price on it keeps its value,
    written with the tick's places as every price of a run is (``101.1`` and ``102`` under
    ``0.01`` are ``101.10`` and ``102.00``; ``1.07160`` under ``0.00001`` stays ``1.07160``).
    ``tick=None`` infers the grid: the finest decimal step among the prices as written
    (``checked.price_tick``). Volumes are market volumes, not order quantities: never
    rounded to the lot (``12.5`` with lot ``1`` stays ``12.5``; ``bar_volume``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        symbol: str,
        tick: Decimal | None,
        lot: Decimal,
        size: int | None = None,
    ) -> None:
        """Check, hash and open the CSV file at ``path`` to replay it as ``symbol``'s bars.

        Args:
            path: the data file, a str or an ``os.PathLike`` (relative: from the current
                directory). A regular file, never a directory, a FIFO or a device.
            symbol: the market the bars are of (``"ACME"``), a non-empty str; a file with a
                ``symbol`` column of another symbol is refused.
            tick: the price grid, a positive ``Decimal`` (``Decimal("0.01")``), or ``None``
                to infer it from the prices as written; required, no default.
            lot: the session's quantity grid (``Decimal("0.001")``), which a venue
                splits fills on; volumes are never rounded to it. Required.
            size: play only the file's first ``size`` bytes (a resumed run's
                ``feed_bytes``); ``None`` (the default): the whole file as it is now.

        Raises:
            ConfigError: a ``tick`` that is neither ``None`` nor a positive ``Decimal``, a
                ``symbol`` that is no non-empty str, a ``lot`` that is no positive
                ``Decimal``.
            DataFileError: a file that cannot be opened or read, or that is no bars file
                (no header, a bad row, prices off the ``tick``): one line naming the file,
                line, column and value.
        """
        check_tick(tick)  # a float, a str, 0: refused before the file is opened
        check_replay_args("CsvReplayFeed", symbol, lot)
        path = Path(path)  # a str as well as any os.PathLike
        self.symbol = symbol
        self._path = path
        self._lot = lot
        self._file = open_data_file(path)
        try:
            layout = scan_csv(self._file, path, tick=tick, size=size)
            layout.check.refuse_other_symbol(symbol)
            self._played = PlayedFile(self._file, path, layout)
        except BaseException:
            self._file.close()
            raise
        self.checked: DataFileCheck = layout.check
        # The tick given, or (None) the finest step of the prices as written.
        self._tick = layout.check.price_tick or Decimal(1)
        self.dated = layout.checker.times is not None
        """Whether bars carry the file's own times (a time column), not the session's."""
        self.first_ts_ns = layout.check.first_ns
        self._end = layout.check.size  # the checked extent: rows past it are never read
        self._row = 0

    @staticmethod
    def check(path: str | os.PathLike[str], *, tick: Decimal | None) -> DataFileCheck:
        """``check_csv``: check and hash the whole file without opening a feed on it."""
        return check_csv(path, tick=tick)

    @property
    def price_tick(self) -> Decimal:
        """The grid this feed's prices are on: the tick given, or the one its data infer."""
        return self._tick

    def next_bar(self, ts_ns: int) -> Bar | None:
        """The next row as a bar, or None at the end of the file as it was checked.

        Each row passes the check's per-row checks again, and the bytes played must hash
        as the check's did: a file rewritten while the run reads it is the
        feed's error (``DataFileError``, naming its line), never a bar its check never saw.
        """
        row = self._played.next_row()
        if row is None:
            return None
        self._row += 1
        values, when = row  # on the grid: checked again as it plays
        at = ts_ns if when is None else when
        return row_bar(self.symbol, at, values, tick=self._tick, lot=self._lot)

    def get_state(self) -> dict[str, Any]:
        """The byte offset of the next row and the row count."""
        return {"offset": self._played.offset, "row": self._row}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Go back to a saved row (within the checked extent: a resume reads no further).

        The bytes before it are read and hashed again, and its row before checked again
        (``PlayedFile.seek``): the run plays the bytes its check read, once each.
        """
        offset = int(state["offset"])
        if not 0 <= offset <= self._end:
            raise ConfigError(
                f"CSV feed {self._path}: a saved offset {offset} outside the {self._end} bytes "
                "the check read: the checkpoint is not of this file"
            )
        self._played.seek(offset)
        self._row = int(state["row"])

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __repr__(self) -> str:
        return f"CsvReplayFeed({str(self._path)!r}, symbol={self.symbol!r})"
