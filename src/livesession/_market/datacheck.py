"""What a data file's whole check found (``DataFileCheck``), and one instrument a file.

A file's symbol column must name the session's symbol, in any spelling: ``BTCUSDT`` and
``btc-usdt`` are ``BTC/USDT`` (``same_symbol``).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import attrs

from .._domain.ids import SYMBOL_FORMS, derivative_note, is_valid_symbol
from .datafail import fail as _fail

__all__ = ["DataFileCheck", "same_symbol"]


@attrs.frozen
class DataFileCheck:
    """What a whole-file check found: the file's SHA-256, its size and its rows."""

    path: Path
    sha256: str
    size: int
    rows: int
    time_column: str | None = None
    first_time: str | None = None
    last_time: str | None = None
    first_ns: int | None = None
    """The first bar's own time (nanoseconds since the epoch); None without a time column."""
    last_ns: int | None = None
    """The last bar's own time, likewise."""
    price_tick: Decimal | None = None
    """The grid the prices were checked on: the tick given, or the one inferred from them."""
    tick_from: str | None = None
    """Of an inferred tick, the first price written with its places (``line 7, column high,
    value '1.2350000000000001e-05'``); None when the tick was given."""
    symbol: str | None = None
    """The instrument the symbol column names on every row (None without such a column)."""
    symbol_column: str | None = None
    symbol_line: int = 0

    def refuse_other_symbol(self, symbol: str) -> None:
        """Raise unless the file's symbol column (if any) names ``symbol``.

        Separators and case do not count: ``BTCUSDT`` and ``btc-usdt`` are ``BTC/USDT``.
        """
        if self.symbol is None or same_symbol(self.symbol, symbol):
            return
        named = self.symbol
        way = (
            f'set symbol = "{named}" (--symbol) or use the file of {symbol}'
            if is_valid_symbol(named)
            else f"use the file of {symbol}: {named} is not {SYMBOL_FORMS}{derivative_note(named)}"
        )
        raise _fail(
            self.path, self.symbol_line, self.symbol_column, named,
            f"the rows are {named}'s bars, but the session's symbol is {symbol}: {way}",
        )  # fmt: skip

    def record(self, feed: str) -> dict[str, object]:
        """The record ``run.json`` keeps of the data a run read (``feed`` as configured)."""
        return {
            "feed": feed,
            "sha256": self.sha256,
            "bytes": self.size,
            "rows": self.rows,
            "time_column": self.time_column,
            "first_time": self.first_time,
            "last_time": self.last_time,
        }


def same_symbol(a: str, b: str) -> bool:
    """Whether two spellings name one instrument: letters and digits alike, any case."""
    return _symbol_key(a) == _symbol_key(b)


def _symbol_key(symbol: str) -> str:
    return "".join(ch for ch in symbol.upper() if ch.isalnum())
