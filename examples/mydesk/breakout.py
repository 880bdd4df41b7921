"""A channel breakout: buy when the close clears the highest high of the last N bars.

Long only. Flat again when the close falls below the lowest low of the last N bars.
Everything the strategy remembers is in ``get_state``, so a resumed run continues exactly
where the interrupted one stopped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from livesession import Bar, OrderIntent, Side, StrategyView

_MIN_LOOKBACK = 2


class ChannelBreakout:
    """Enter ``qty`` on a breakout above the ``lookback``-bar high; exit below its low."""

    def __init__(self, *, strategy_id: str, lookback: int = 20, qty: str = "0.01") -> None:
        if lookback < _MIN_LOOKBACK:
            msg = f"lookback must be at least {_MIN_LOOKBACK}, got {lookback}"
            raise ValueError(msg)
        self.strategy_id = strategy_id
        self._lookback = lookback
        self._qty = Decimal(qty)
        self._highs: deque[Decimal] = deque(maxlen=lookback)
        self._lows: deque[Decimal] = deque(maxlen=lookback)

    def on_bar(self, bar: Bar, view: StrategyView) -> Sequence[OrderIntent]:
        """Compare the close with the channel of the bars before this one."""
        intents: tuple[OrderIntent, ...] = ()
        full = len(self._highs) == self._lookback
        if full and not view.has_open_orders(bar.symbol):
            held = view.position(bar.symbol)
            if held == 0 and bar.close > max(self._highs):
                intents = (
                    OrderIntent(
                        symbol=bar.symbol, side=Side.BUY, quantity=self._qty, reason="breakout_up"
                    ),
                )
            elif held > 0 and bar.close < min(self._lows):
                intents = (
                    OrderIntent(
                        symbol=bar.symbol,
                        side=Side.SELL,
                        quantity=held,
                        reduce_only=True,
                        reason="breakout_down",
                    ),
                )
        self._highs.append(bar.high)
        self._lows.append(bar.low)
        return intents

    def get_state(self) -> dict[str, Any]:
        """The channel's bars, as strings (JSON-compatible and exact)."""
        return {"highs": [str(h) for h in self._highs], "lows": [str(v) for v in self._lows]}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore the channel saved by ``get_state``."""
        self._highs = deque((Decimal(h) for h in state["highs"]), maxlen=self._lookback)
        self._lows = deque((Decimal(v) for v in state["lows"]), maxlen=self._lookback)


def make_strategy(
    *, strategy_id: str = "breakout", lookback: int = 20, qty: str = "0.01"
) -> ChannelBreakout:
    """The factory a config names: ``strategy_factory = "mydesk.breakout:make_strategy"``."""
    return ChannelBreakout(strategy_id=strategy_id, lookback=lookback, qty=qty)
