"""The net positions a run's fill events add up to, applied one event at a time.

For the tools that summarise a run (``prom``'s position gauges): lenient as ``runread`` is,
a fill whose quantity is not a finite decimal is skipped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from .._domain.decimal import finite_decimal
from .._domain.model import FILL_EVENT_TYPES
from .runread import payload

__all__ = ["PositionChange", "apply_fill"]


@attrs.frozen(kw_only=True)
class PositionChange:
    """One fill applied to the net position of its symbol."""

    event: dict[str, Any]
    symbol: str
    before: Decimal
    after: Decimal


def apply_fill(
    held: dict[str, Decimal], event: dict[str, Any], *, allow_int: bool = False
) -> PositionChange | None:
    """``event``'s change to the positions ``held`` (updated), if it is a fill taken.

    A buy adds its quantity and anything else subtracts it; a fill whose quantity is not a
    finite decimal (see ``finite_decimal``) is skipped (None). Given a run's events in
    order, ``held`` ends as the net positions they add up to.
    """
    if event.get("event_type") not in FILL_EVENT_TYPES:
        return None
    fill = payload(event)
    quantity = finite_decimal(fill.get("quantity"), allow_int=allow_int)
    if quantity is None:
        return None
    symbol = str(fill.get("symbol"))
    before = held.get(symbol, Decimal(0))
    held[symbol] = before + (quantity if fill.get("side") == "BUY" else -quantity)
    return PositionChange(event=event, symbol=symbol, before=before, after=held[symbol])
