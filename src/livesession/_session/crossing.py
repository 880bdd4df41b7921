"""Whether the venue let reduce-only fills add exposure (the ``REDUCE_ONLY_CROSSED`` kill).

A venue that holds reduce-only orders to its position fills one only for what it closes.
The book learns of the fills in the order the venue reports them, which need not be the
order the venue filled them in: a protective leg's two partial fills can be reported around
an entry's fill that opened the other way (the leg closed the long at the venue, then the
entry went short), or a step apart, and a leg's late fill after the strategy's own order that
reversed the position. Judged one report at a time, such a fill reads as a reduce-only fill
that flipped or grew the position.

So a reduce-only fill counts as crossing only when both of these hold:

- its order has filled more than the position on its side when its first fill came (what a
  venue holding it to the position could have filled, as far as the book can tell);
- the fills the session applied since the last look (one step's), judged together per
  symbol from the position before them, cannot be read as the reduce-only ones only closing
  it, taken either before the other fills or after them.

Both legs of an OCO pair filled by a venue that does not hold them to the position (the
second leg's room was nothing), or a long's leg filled once the strategy had gone short, are
crossings; the exposure nobody asked for is flattened. An order whose first fill this
process did not see (before a resume) is judged by the second rule alone.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import attrs

from .._domain.decimal import ZERO

__all__ = ["ReduceOnlyWatch", "only_closes"]

_ROOMS_KEPT: Final = 10_000
"""Reduce-only orders whose room is remembered (the oldest forgotten first)."""


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
    beyond_room: bool = False


@attrs.define
class ReduceOnlyWatch:
    """The fills applied since the last look, per symbol; ``take`` judges and forgets them."""

    _moves: dict[str, _Moves] = attrs.field(factory=dict)
    _rooms: dict[str, Decimal | None] = attrs.field(factory=dict)

    def fill(self, symbol: str, before: Decimal, after: Decimal) -> None:
        """A fill of an order that is not reduce-only moved ``symbol`` from ``before``."""
        self._moves.setdefault(symbol, _Moves(start=before)).other += after - before

    def reduce_only_fill(
        self, cid: str, symbol: str, before: Decimal, after: Decimal, filled: Decimal
    ) -> None:
        """A fill of the reduce-only order ``cid``, which has ``filled`` in all with it."""
        moves = self._moves.setdefault(symbol, _Moves(start=before))
        moves.reduce_only += after - before
        if cid not in self._rooms:
            closing = -before if after > before else before  # the side the order closes
            seen_whole = filled == abs(after - before)  # else it filled before this process
            self._rooms[cid] = max(closing, ZERO) if seen_whole else None
            if len(self._rooms) > _ROOMS_KEPT:
                del self._rooms[next(iter(self._rooms))]
        room = self._rooms[cid]
        moves.beyond_room |= room is None or filled > room

    def take(self) -> bool:
        """Whether reduce-only fills added exposure since the last call (then forgets them)."""
        added = any(
            m.beyond_room
            and not only_closes(m.start, m.reduce_only)
            and not only_closes(m.start + m.other, m.reduce_only)
            for m in self._moves.values()
        )
        self._moves.clear()
        return added
