"""Which refusal rules are the rails', and which the session's own order checks.

Every ``RISK_REJECTED`` names a ``rule``. Most are rails (``rails.py``: a limit of the
config's ``[risk]`` table); four are the session's own checks of an order as asked
(``orderchecks.py``; their codes are here), before or after the rails: a quantity below
the lot, a reduce-only order that would not reduce, a limit price off the tick, a symbol
without a price. A run refused by them was not kept from trading by a limit: its strategy
asked for orders no venue takes (a quantity the lot rounds to nothing, say). The tools that
say the refusals say the two apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "NO_MARKET_PRICE",
    "ORDER_CHECKS",
    "PRICE_OFF_TICK",
    "QTY_BELOW_LOT",
    "REDUCE_ONLY",
    "rails_and_checks",
]

QTY_BELOW_LOT: Final = "QTY_BELOW_LOT"
"""The rule code of an intent whose quantity rounds to nothing at the config's ``qty_lot``:
the session itself refuses it, before any rail."""
REDUCE_ONLY: Final = "REDUCE_ONLY"
"""The rule code of a reduce-only intent for more than the position it would reduce (or of
the wrong side): the session itself refuses it, before any rail, so it never opens, adds to
or flips a position."""
PRICE_OFF_TICK: Final = "PRICE_OFF_TICK"
"""The rule code of a limit price that is not a multiple of the config's ``price_tick``: the
session itself refuses it, before any rail, as a venue would (prices are never rounded)."""
NO_MARKET_PRICE: Final = "NO_MARKET_PRICE"
"""The rule code of an intent for a symbol the feed has given no price for: the rails value
an order at its symbol's last price, so one without a price would pass them as if worth
nothing. The session itself refuses it, after the rails (whose refusal names more)."""
ORDER_CHECKS: Final = frozenset({QTY_BELOW_LOT, REDUCE_ONLY, PRICE_OFF_TICK, NO_MARKET_PRICE})
"""The rule codes of the session's own order checks (the others are rails)."""

_T = TypeVar("_T")


def rails_and_checks(
    rules: Iterable[tuple[str, _T]],
) -> tuple[list[tuple[str, _T]], list[tuple[str, _T]]]:
    """``rules`` (rule, what) split into the rails' and the order checks', in their order."""
    both: tuple[list[tuple[str, _T]], list[tuple[str, _T]]] = ([], [])
    for rule, what in rules:
        both[rule in ORDER_CHECKS].append((rule, what))
    return both
