"""A feed and a strategy scripted by the test, for rails, kill switch, OCO and reconcile tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from livesession import OrderIntent, Side
from livesession._domain.model import Bar

SYMBOL = "BTC/USDT"

Script = Callable[[int, Bar, Any], Sequence[OrderIntent]]


class ScriptedFeed:
    """One bar per step whose close comes from ``closes`` (the last one repeats).

    A bar's ``volume`` is its number (1, 2, ...), so a script can address bars even when
    the session skips the strategy on some of them (while HALTED).
    """

    def __init__(self, closes: Sequence[str | Decimal], *, spread: str = "0") -> None:
        self.symbol = SYMBOL
        self._closes = [Decimal(c) for c in closes]
        self._spread = Decimal(spread)
        self._n = 0

    def next_bar(self, ts_ns: int) -> Bar:
        close = self._closes[min(self._n, len(self._closes) - 1)]
        self._n += 1
        return Bar(
            symbol=SYMBOL,
            ts_ns=ts_ns,
            open=close,
            high=close + self._spread,
            low=close - self._spread,
            close=close,
            volume=Decimal(self._n),
        )

    def get_state(self) -> dict[str, Any]:
        return {"n": self._n}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self._n = state["n"]


class ScriptedStrategy:
    """Returns ``script(bar_number, bar, view)`` for every bar it sees.

    The bar number is the bar's volume when the feed is a ``ScriptedFeed`` (see there).
    """

    strategy_id = "scripted"

    def __init__(self, script: Script) -> None:
        self._script = script
        self.bars = 0

    def on_bar(self, bar: Bar, view: Any) -> Sequence[OrderIntent]:
        self.bars += 1
        return tuple(self._script(int(bar.volume), bar, view))

    def get_state(self) -> dict[str, Any]:
        return {"bars": self.bars}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.bars = state["bars"]


def buy(quantity: str, **extra: Any) -> OrderIntent:
    """A buy intent for the test symbol."""
    return OrderIntent(symbol=SYMBOL, side=Side.BUY, quantity=Decimal(quantity), **extra)


def sell(quantity: str, **extra: Any) -> OrderIntent:
    """A sell intent for the test symbol."""
    return OrderIntent(symbol=SYMBOL, side=Side.SELL, quantity=Decimal(quantity), **extra)


def at(bars: Mapping[int, Sequence[OrderIntent]]) -> Script:
    """A script that sends ``bars[n]`` on bar ``n`` and nothing otherwise."""
    return lambda n, _bar, _view: bars.get(n, ())
