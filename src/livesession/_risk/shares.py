"""How a rail says what fired, and which priced orders the collar lets rest.

A share past its limit, which price of an order a rail judged, and ``rests_to_close``.

One owner for the figures the ``DAILY_LOSS`` rail's refusal and the daily-loss cap's kill
(``KILL_SWITCH`` reason ``DAILY_LOSS``) record, so the two say the same drawdown the same way.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from .._domain.decimal import plain
from .._domain.model import OrderIntent, OrderType, Side

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "daily_loss_figures",
    "daily_loss_words",
    "price_kind",
    "rests_to_close",
    "shown_past",
]


def shown_past(share: Decimal, limit: Decimal, *, reached: bool) -> str:
    """A share that fired (beyond ``limit``; or at it, when ``reached`` fires), to six places.

    Or to as many more as it takes to read as what fired: 0.05000025 is ``0.0500002``,
    not ``0.050000`` beside a collar of 0.05 it is said to be beyond. Else exact.
    """
    for places in range(6, 21):
        shown = share.quantize(Decimal(1).scaleb(-places))
        if shown > limit or (reached and shown == limit):
            return plain(shown)
    return plain(share)


def daily_loss_figures(pct: Decimal, peak: Decimal, equity: Decimal) -> dict[str, str] | None:
    """The drawdown from the day's ``peak`` once it reached ``pct``; None before it did.

    A ``peak`` of 0 or less has no drawdown. The keys are the ``DAILY_LOSS`` rail's
    ``detail``: ``drawdown``, ``limit``, ``peak_equity`` and ``equity``, computed in the
    caller's decimal context (the library's, in a step).
    """
    if peak <= 0:
        return None
    drawdown = (peak - equity) / peak
    if drawdown < pct:
        return None
    return {
        "drawdown": shown_past(drawdown, pct, reached=True),
        "limit": plain(pct),
        "peak_equity": plain(peak),
        "equity": plain(equity),
    }


def daily_loss_words(figures: Mapping[str, object], *, amounts: bool = False) -> str | None:
    """``drawdown 0.010000 from the day's peak >= daily_loss_pct 0.01``, or None.

    ``figures``: ``daily_loss_figures``'s, as the rail's refusal or the cap's kill recorded
    them; None when they are not all there (a kill of a run recorded before the cap's kill
    carried them, or an operator's). ``amounts``: the peak and the equity too.
    """
    said = {key: figures.get(key) for key in ("drawdown", "limit", "peak_equity", "equity")}
    if not all(isinstance(value, str) for value in said.values()):
        return None
    words = f"drawdown {said['drawdown']} from the day's peak >= daily_loss_pct {said['limit']}"
    if amounts:
        words += f" (peak equity {said['peak_equity']}, equity {said['equity']})"
    return words


def price_kind(intent: OrderIntent) -> str:
    """``stop price`` for a stop order, else ``limit price``.

    A stop order's ``limit_price`` is the price that triggers it: a refusal of a stop entry
    said ``limit price 106.00``.
    """
    return "stop price" if intent.order_type is OrderType.STOP else "limit price"


def rests_to_close(intent: OrderIntent, last_price: Decimal) -> bool:
    """Whether ``intent`` is a reduce-only order resting on its exit side.

    It cannot trade until the market comes to it, and then only closes (a protective stop
    the strategy moved, a take profit): a SELL STOP at or below the last price, a SELL
    LIMIT at or above it; a BUY the mirror image. Far from the market it is no fat finger,
    as an entry that far would be: the collar refusing it left the position without the
    stop it replaced.
    """
    if not intent.reduce_only or intent.limit_price is None:
        return False
    below = intent.limit_price <= last_price
    above = intent.limit_price >= last_price
    stop = intent.order_type is OrderType.STOP
    if intent.side is Side.SELL:
        return below if stop else above
    return above if stop else below
