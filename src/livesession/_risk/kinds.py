"""Which refusal rules are the rails', and which the session's own order checks.

Every ``RISK_REJECTED`` names a ``rule``. Most are rails (``rails.py``: a limit of the
config's ``[risk]`` table); four are the session's own checks of an order as asked, before
or after the rails: a quantity below the lot, a reduce-only order that would not reduce, a
limit price off the tick, a symbol without a price. A run refused by them was not kept from
trading by a limit: its strategy asked for orders no venue takes (a quantity the lot rounds
to nothing, say). The tools that say the refusals say the two apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeVar

from .rails import NO_MARKET_PRICE, PRICE_OFF_TICK, QTY_BELOW_LOT, REDUCE_ONLY

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ORDER_CHECKS", "rails_and_checks"]

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
