"""The built-in demo strategy: a long-only simple-moving-average crossover."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from .._domain.decimal import ZERO, plain
from .._domain.model import Bar, OrderIntent, Side
from .._typing import StrategyView

__all__ = ["SmaCrossover"]


class SmaCrossover:
    """Hold ``order_qty`` while the fast SMA is above the slow SMA, else stay flat.

    Emits at most one intent per bar, and none while an order in the symbol is open.
    With ``protect_pct`` above zero every entry asks for a protective OCO pair (take
    profit and stop, each ``protect_pct`` away from the entry price); while those legs are
    open the strategy waits, so a protected position is closed by one of its legs (or by
    a stop of the session), not by the crossover.
    """

    def __init__(
        self,
        *,
        strategy_id: str,
        fast: int = 5,
        slow: int = 20,
        order_qty: Decimal,
        protect_pct: Decimal = ZERO,
    ) -> None:
        if fast >= slow:
            msg = f"fast ({fast}) must be smaller than slow ({slow})"
            raise ValueError(msg)
        if protect_pct < 0:
            msg = f"protect_pct must not be negative, got {protect_pct}"
            raise ValueError(msg)
        self.strategy_id = strategy_id
        self._fast = fast
        self._slow = slow
        self._qty = order_qty
        self._protect = protect_pct
        self._closes: deque[Decimal] = deque(maxlen=slow)
        self._fast_sum = ZERO
        self._slow_sum = ZERO

    @property
    def order_qty(self) -> Decimal:
        """The position it holds while the fast SMA is above the slow one."""
        return self._qty

    def on_bar(self, bar: Bar, view: StrategyView) -> Sequence[OrderIntent]:
        """Update the averages with the bar's close; return the intent to reach the target."""
        closes = self._closes
        if len(closes) == self._slow:
            self._slow_sum -= closes[0]
        if len(closes) >= self._fast:
            self._fast_sum -= closes[-self._fast]
        closes.append(bar.close)
        self._fast_sum += bar.close
        self._slow_sum += bar.close
        if len(closes) < self._slow or view.has_open_orders(bar.symbol):
            return ()
        bullish = self._fast_sum * self._slow > self._slow_sum * self._fast
        target = self._qty if bullish else ZERO
        delta = target - view.position(bar.symbol)
        if delta == 0:
            return ()
        side = Side.BUY if delta > 0 else Side.SELL
        protect = self._protect if self._protect and delta > 0 else None
        return (
            OrderIntent(
                symbol=bar.symbol,
                side=side,
                quantity=abs(delta),
                reduce_only=target == 0,
                reason="sma_cross_up" if bullish else "sma_cross_down",
                take_profit_pct=protect,
                stop_loss_pct=protect,
            ),
        )

    def get_state(self) -> dict[str, Any]:
        """The remembered closes."""
        return {"closes": [plain(c) for c in self._closes]}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore the remembered closes and recompute the sums."""
        self._closes = deque((Decimal(c) for c in state["closes"]), maxlen=self._slow)
        self._slow_sum = sum(self._closes, ZERO)
        self._fast_sum = sum(list(self._closes)[-self._fast :], ZERO)

    def __repr__(self) -> str:
        protect = f", protect_pct={self._protect}" if self._protect else ""
        return f"SmaCrossover(fast={self._fast}, slow={self._slow}, order_qty={self._qty}{protect})"
