"""The net positions a run's fill events add up to, replayed in event order.

For the tools that summarise a run (``prom``'s position gauges): lenient as ``runread`` is,
a fill whose quantity is not a finite decimal is skipped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from .._domain.decimal import finite_decimal
from .._domain.model import FILL_EVENT_TYPES
from .runread import payload

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["PositionChange", "replay_fills"]


@attrs.frozen(kw_only=True)
class PositionChange:
    """One fill applied to the net position of its symbol."""

    event: dict[str, Any]
    symbol: str
    before: Decimal
    after: Decimal


def replay_fills(
    events: Iterable[dict[str, Any]], *, allow_int: bool = False
) -> Iterator[PositionChange]:
    """The net position changes the fill events add up to, in event order.

    A buy adds its quantity and anything else subtracts it; a fill whose quantity is not a
    finite decimal (see ``finite_decimal``) is skipped.
    """
    held: dict[str, Decimal] = {}
    for event in events:
        if event.get("event_type") not in FILL_EVENT_TYPES:
            continue
        fill = payload(event)
        quantity = finite_decimal(fill.get("quantity"), allow_int=allow_int)
        if quantity is None:
            continue
        symbol = str(fill.get("symbol"))
        before = held.get(symbol, Decimal(0))
        held[symbol] = before + (quantity if fill.get("side") == "BUY" else -quantity)
        yield PositionChange(event=event, symbol=symbol, before=before, after=held[symbol])
