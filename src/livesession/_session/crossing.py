"""Whether the venue let reduce-only fills add exposure (the ``REDUCE_ONLY_CROSSED`` kill).

A venue that holds reduce-only orders to its position fills one only for what it closes.
The book learns of the fills in the order the venue reports them, which need not be the
order the venue filled them in: a protective leg's two partial fills can be reported around
an entry's fill that opened the other way (the leg closed the long at the venue, then the
entry went short), and a late fill of a leg after the strategy's own order that reversed the
position. Judged one fill at a time, such a report reads as a reduce-only fill that flipped
or grew the position.

So the fills the session applies between two looks (one step's polls) are judged together,
per symbol: from the position before them, the reduce-only fills together must only close
it, taken either before the other fills or after them (the two orders a venue that holds
reduce-only orders to the position may have filled them in). When neither reading holds, the
venue filled reduce-only orders for more than they could close (it does not hold them to the
position: both legs of an OCO pair filled, say) and the exposure nobody asked for is
flattened.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from .._domain.decimal import ZERO

__all__ = ["ReduceOnlyWatch", "only_closes"]


def only_closes(position: Decimal, change: Decimal) -> bool:
    """Whether ``change`` to ``position`` closes some of it and opens nothing."""
    after = position + change
    if position > 0:
        return change < 0 and after >= 0
    if position < 0:
        return change > 0 and after <= 0
    return False


@attrs.define
class _Moves:
    start: Decimal
    reduce_only: Decimal = ZERO
    other: Decimal = ZERO


@attrs.define
class ReduceOnlyWatch:
    """The fills applied since the last look, per symbol; ``take`` judges and forgets them."""

    _moves: dict[str, _Moves] = attrs.field(factory=dict)

    def fill(self, symbol: str, before: Decimal, after: Decimal, *, reduce_only: bool) -> None:
        """One fill applied: the symbol's position went from ``before`` to ``after``."""
        moves = self._moves.setdefault(symbol, _Moves(start=before))
        if reduce_only:
            moves.reduce_only += after - before
        else:
            moves.other += after - before

    def take(self) -> bool:
        """Whether reduce-only fills added exposure since the last call (then forgets them)."""
        added = any(
            m.reduce_only != 0
            and not only_closes(m.start, m.reduce_only)
            and not only_closes(m.start + m.other, m.reduce_only)
            for m in self._moves.values()
        )
        self._moves.clear()
        return added
