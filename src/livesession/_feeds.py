"""Market feeds: a seeded random walk and a CSV OHLCV replay."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from ._decimal import quantize, to_decimal
from ._exceptions import ConfigError
from ._model import Bar
from ._random import DeterministicStream

__all__ = ["CsvReplayFeed", "RandomWalkFeed"]

_BPS = Decimal(10_000)


class RandomWalkFeed:
    """Bars from a seeded random walk in basis points, quantised to the price tick."""

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
        self.symbol = symbol
        self._tick = tick
        self._lot = lot
        self._vol = volatility_bps
        self._stream = DeterministicStream(seed, f"feed:{symbol}")
        self._close = quantize(initial_price, tick)

    def next_bar(self, ts_ns: int) -> Bar:
        """The next bar; the walk never ends and never reaches zero."""
        draw = self._stream.randint
        open_ = self._close
        move = draw(-self._vol, self._vol)
        close = quantize(open_ * (_BPS + move) / _BPS, self._tick)
        if close <= 0:
            close = self._tick
        wick_up = draw(0, max(self._vol // 2, 0))
        wick_down = draw(0, max(self._vol // 2, 0))
        high = quantize(max(open_, close) * (_BPS + wick_up) / _BPS, self._tick)
        low = max(quantize(min(open_, close) * (_BPS - wick_down) / _BPS, self._tick), self._tick)
        volume = self._lot * draw(1, 1000)
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

    def get_state(self) -> dict[str, Any]:
        """The draw counter and the last close."""
        return {"counter": self._stream.counter, "close": str(self._close)}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore ``get_state``'s snapshot."""
        self._stream.counter = int(state["counter"])
        self._close = Decimal(state["close"])

    def __repr__(self) -> str:
        return f"RandomWalkFeed(symbol={self.symbol!r}, volatility_bps={self._vol})"


class CsvReplayFeed:
    """Bars replayed from a CSV file with the header ``open,high,low,close,volume``.

    Extra columns (a timestamp, say) are ignored: bar times are the session's simulated
    times. The file is streamed, never loaded whole; prices are re-quantised to the tick.
    """

    _COLUMNS = ("open", "high", "low", "close", "volume")

    def __init__(self, path: Path, *, symbol: str, tick: Decimal, lot: Decimal) -> None:
        self.symbol = symbol
        self._path = path
        self._tick = tick
        self._lot = lot
        try:
            self._file = path.open("r", encoding="utf-8", newline="")
        except OSError as exc:
            raise ConfigError(f"cannot open CSV feed {path}: {exc.strerror}") from None
        header = self._file.readline()
        names = [name.strip().lower() for name in next(csv.reader([header]), [])]
        missing = [col for col in self._COLUMNS if col not in names]
        if missing:
            self._file.close()
            raise ConfigError(f"CSV feed {path} lacks column(s): {', '.join(missing)}")
        self._index = {col: names.index(col) for col in self._COLUMNS}
        self._row = 0

    def next_bar(self, ts_ns: int) -> Bar | None:
        """The next row as a bar, or None at the end of the file."""
        line = self._file.readline()
        while line and not line.strip():
            line = self._file.readline()
        if not line:
            return None
        self._row += 1
        cells = next(csv.reader([line]))
        try:
            values = {
                col: to_decimal(cells[idx].strip(), field=f"{self._path}:{self._row + 1}:{col}")
                for col, idx in self._index.items()
            }
        except (IndexError, TypeError, ValueError) as exc:
            raise ConfigError(f"CSV feed {self._path} row {self._row + 1}: {exc}") from None
        return Bar(
            symbol=self.symbol,
            ts_ns=ts_ns,
            open=quantize(values["open"], self._tick),
            high=quantize(values["high"], self._tick),
            low=quantize(values["low"], self._tick),
            close=quantize(values["close"], self._tick),
            volume=quantize(values["volume"], self._lot),
        )

    def get_state(self) -> dict[str, Any]:
        """The byte offset of the next row and the row count."""
        return {"offset": self._file.tell(), "row": self._row}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Seek back to a saved row."""
        self._file.seek(int(state["offset"]))
        self._row = int(state["row"])

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __repr__(self) -> str:
        return f"CsvReplayFeed({str(self._path)!r}, symbol={self.symbol!r})"
