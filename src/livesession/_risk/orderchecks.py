"""The session's own checks of an order as asked, before or after the rails.

Not rails: no limit of the config's ``[risk]`` table, and no caller's ``rails=`` list
replaces them. A reduce-only intent for more than the position (``REDUCE_ONLY``) and a price
off the tick (``PRICE_OFF_TICK``) are refused before the rails, an intent for a symbol
without a price (``NO_MARKET_PRICE``) after them; the lot's (``QTY_BELOW_LOT``) is the
session's rounding itself (``_session/execution.py``). Their rule codes are in ``kinds.py``.
"""

from __future__ import annotations

from decimal import Decimal

from .._domain.decimal import ZERO, plain
from .._domain.model import OrderIntent, OrderType, Side
from .kinds import NO_MARKET_PRICE, PRICE_OFF_TICK, REDUCE_ONLY
from .rails import Rejection, RiskContext
from .shares import price_kind

__all__ = ["beyond_the_position", "off_the_tick", "unpriced"]


def beyond_the_position(
    intent: OrderIntent, held: Decimal, closing: Decimal = ZERO
) -> Rejection | None:
    """Why a ``reduce_only`` intent may not go (``REDUCE_ONLY``), or None.

    It may only take off what is ``held``: never open, add to or flip a position. Nor what
    the other orders open on its side (not reduce-only) have still to fill, ``closing``:
    the rails passed those as closing the position, and once a reduce-only order had closed
    it they would open exposure no rail measured (long 10 with a SELL 10 limit resting, a
    reduce-only SELL 10 would leave the limit to open a short 10). Any other intent passes.
    """
    if not intent.reduce_only:
        return None
    room = held if intent.side is Side.SELL else -held
    if intent.quantity <= room - closing:
        return None
    side = intent.side.value
    detail = {"position": plain(held)}
    if intent.quantity > room or not closing:
        reason = f"reduce-only {side} {intent.quantity} is more than the position {held} allows"
        return Rejection(rule=REDUCE_ONLY, reason=reason, detail=detail)
    return Rejection(
        rule=REDUCE_ONLY,
        reason=(
            f"reduce-only {side} {intent.quantity} is more than the position {held} allows "
            f"beside the {side} {plain(closing)} already open to close it"
        ),
        detail={**detail, "open_on_side": plain(closing)},
    )


def off_the_tick(intent: OrderIntent, tick: Decimal) -> Rejection | None:
    """Why a limit price may not go (``PRICE_OFF_TICK``), or None.

    A price must be a multiple of ``tick``: a venue refuses any other, and the session never
    rounds a price (which way would be the strategy's call). Intents without one pass.
    """
    price = intent.limit_price
    if price is None or intent.order_type is OrderType.MARKET or price % tick == 0:
        return None
    return Rejection(
        rule=PRICE_OFF_TICK,
        reason=(
            f"{price_kind(intent)} {plain(price)} is not a multiple of the price_tick {plain(tick)}"
        ),
        detail={"limit_price": plain(price), "tick": plain(tick)},
    )


def unpriced(intent: OrderIntent, ctx: RiskContext) -> Rejection | None:
    """Why an intent may not go for want of a market price (``NO_MARKET_PRICE``), or None."""
    if ctx.last_price > 0:
        return None
    return Rejection(
        rule=NO_MARKET_PRICE,
        reason=f"no market price for {intent.symbol}: the feed has given none, so the rails "
        "cannot value the order",
        detail={},
    )
