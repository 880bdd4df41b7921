"""Bars and intents with their numbers written at the grid's places: the tick's, the lot's.

The artifacts write every price with the places of ``price_tick`` and every quantity with
those of ``qty_lot``, so a run's bytes do not depend on how a feed or a strategy wrote its
numbers (``Decimal("1E-2")``, ``101.1``). Only the form changes here, never a value: the
callers hand over numbers already on the grid (checked, or rounded by ``quantize``).
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from .decimal import to_places
from .model import Bar, OrderIntent

__all__ = ["bar_on_tick", "intent_on_grid"]


def bar_on_tick(bar: Bar, tick: Decimal) -> Bar:
    """``bar`` with its prices, multiples of ``tick`` (``bar_problem`` said so), at its places.

    A feed's ``101.1`` is ``101.10`` under a tick of 0.01, as a data file's is. The volume
    is the market's, not an order quantity: it stays as the feed gave it.
    """
    return Bar(
        symbol=bar.symbol,
        ts_ns=bar.ts_ns,
        open=to_places(Decimal(bar.open), tick),
        high=to_places(Decimal(bar.high), tick),
        low=to_places(Decimal(bar.low), tick),
        close=to_places(Decimal(bar.close), tick),
        volume=bar.volume,
    )


def intent_on_grid(intent: OrderIntent, *, quantity: Decimal, tick: Decimal) -> OrderIntent:
    """``intent`` for ``quantity`` (its own, rounded down to the lot), written as a run writes.

    The quantity has the lot's places (``quantize`` gives them) and a limit price on the
    tick gets the tick's, however the strategy wrote them (``1E-2`` is ``0.010`` at a lot of
    0.001, ``4.1E+4`` is ``41000.00`` at a tick of 0.01): in the ``SIGNAL``, the rails'
    numbers and the order alike. A price off the tick is left as it was asked: the session
    refuses it (``PRICE_OFF_TICK``), never rounds it. ``intent`` itself when nothing changes.
    """
    price = placed = intent.limit_price
    if price is not None and not price % tick:
        placed = to_places(Decimal(price), tick)
        if not placed.compare_total(price):
            placed = price  # written so already
    if placed is price and not quantity.compare_total(intent.quantity):
        return intent
    return attrs.evolve(intent, quantity=quantity, limit_price=placed)
