"""A run's equity marked at every bar, rebuilt from its events (the tools' reading).

Equity is cash plus each position at its symbol's last close (docs/artifacts.md). The
records that carry an equity (``POSITION_CHANGED``, the state snapshots) are taken only at
a fill or a transition, so the latest of them can be hours older than the last bar, and the
first of a simulated day can come long after the day began. ``MarkedEquity`` follows the
cash and the positions each ``POSITION_CHANGED`` records and the closes of the ``BAR``
events, so the equity is known after every event: the latest one, and the one the day began
with (marked at the last close before the day's first bar; the starting cash on the run's
first day), which a day's PnL is measured from, as a desk measures it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from .._domain.decimal import finite_decimal

__all__ = ["DAY_NS", "MarkedEquity"]

DAY_NS: Final = 86_400 * 10**9
"""One simulated UTC day, in nanoseconds."""


class MarkedEquity:
    """The equity after each event, from the starting cash, the fills' cash and the closes."""

    def __init__(self, starting_cash: Decimal | None) -> None:
        self._cash = starting_cash
        self._held: dict[str, Decimal] = {}
        self._closes: dict[str, Decimal] = {}
        self._day: int | None = None
        self._day_start = starting_cash

    def add(self, event_type: str, fields: dict[str, Any], ts_sim: object) -> None:
        """Take one event: a ``BAR`` marks its symbol, a ``POSITION_CHANGED`` books a fill."""
        if event_type == "BAR":
            close = finite_decimal(fields.get("close"))
            if close is None or not isinstance(ts_sim, int):
                return
            day = ts_sim // DAY_NS
            if self._day is None or day > self._day:
                # The day begins with the equity marked at the closes before its first bar.
                self._day, self._day_start = day, self.equity()
            self._closes[str(fields.get("symbol"))] = close
        elif event_type == "POSITION_CHANGED":
            cash = finite_decimal(fields.get("cash"))
            position = finite_decimal(fields.get("position"))
            if cash is None or position is None:
                return
            self._cash = cash
            self._held[str(fields.get("symbol"))] = position

    def equity(self) -> Decimal | None:
        """Cash plus each position at its last close; None before the cash is known."""
        if self._cash is None:
            return None
        marked = (q * self._closes.get(s, Decimal(0)) for s, q in self._held.items() if q)
        return self._cash + sum(marked, Decimal(0))

    def result(self) -> tuple[Decimal, Decimal] | None:
        """``(latest equity, its change since the simulated day began)``, or None."""
        latest = self.equity()
        if latest is None:
            return None
        start = self._day_start if self._day_start is not None else latest
        return latest, latest - start
