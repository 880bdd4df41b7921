"""Whether the venue let reduce-only fills add exposure (the ``REDUCE_ONLY_CROSSED`` kill).

A venue that holds reduce-only orders to its position fills one only for what it closes at
the moment it fills it. The book learns of the fills in the order the venue reports them,
which need not be that order: a protective leg's fill may be reported late, a step or more
after the strategy's own order that reversed the position, though the venue filled the leg
first; a leg's two parts may be reported around another fill. Judged in report order, such a
fill reads as a reduce-only fill that flipped or grew the position.

So each reduce-only fill is judged against the position at the venue's fill time, the
``ts_ns`` of its ``FillReport``: the book's position less every fill applied whose
``ts_ns`` is later (``MockBroker`` and ``RealishBroker`` stamp a fill with the time the venue
made it due, a late fill keeping it; ``FaultBroker`` stamps when it delivers a fill, a late
one's delay included; a caller's broker, what it stamps). Fills of one ``ts_ns`` are taken
together per symbol: they cross only when their reduce-only part cannot be read as only
closing the position before them, taken either before the other fills of that time or after
them (the time alone cannot order them). What the fill time cannot decide is judged by report order:

- a fill is judged when it is applied, with the fills known then: another order's fill that
  the venue timed earlier but reports later (a late fill) is not among them;
- a fill whose ``ts_ns`` is no integer is read as timed after the latest fill known;
- a venue stamping its fills with the time it reports them (``CcxtBroker`` stamps the poll's
  time) has its fills of one poll judged together, and those of different polls in report
  order;
- the earliest-timed fills beyond the ``_FILLS_KEPT`` latest of a symbol are not
  remembered: a fill timed before them is judged after them.

What it remembers goes into the checkpoint (``get_state``, under ``reduce_only_fills`` once a
fill was applied), so a resumed session judges a fill reported after the checkpoint as the
uninterrupted one would have: before, it remembered nothing from before the resume, and a
protective leg the venue filled before the strategy's reversal but reported after the
checkpoint read as flipping the position (a kill the uninterrupted run never had), or one
filled on a flat book before a late-reported entry read as only closing it (a kill missed).

Both legs of an OCO pair filled by a venue that does not hold them to the position, a
long's leg filled once the strategy had gone short, or a reduce-only fill on a flat book,
are crossings; the exposure nobody asked for is flattened.
"""

from __future__ import annotations

import bisect
from decimal import Decimal
from typing import Any, Final

import attrs

from .._domain.decimal import ZERO

__all__ = ["ReduceOnlyWatch", "only_closes"]

_FILLS_KEPT: Final = 1024
"""Fills remembered per symbol (the earliest timed forgotten first: a fill is judged against
those timed at or after it only)."""


def only_closes(position: Decimal, change: Decimal) -> bool:
    """Whether ``change`` to ``position`` closes some of it and opens nothing."""
    after = position + change
    if position > 0:
        return change < 0 and after >= 0
    if position < 0:
        return change > 0 and after <= 0
    return False


@attrs.frozen
class _Fill:
    ts_ns: int
    change: Decimal
    reduce_only: bool


@attrs.define
class _Timeline:
    """One symbol's fills in the order the venue timed them, and its position now.

    ``times`` and ``fills`` are kept sorted by time (a fill is nearly always the latest, so
    it is appended), so that judging a fill reads only those timed at or after it: scanning
    every fill kept made each reduce-only fill cost a thousand and more additions.
    """

    position: Decimal
    times: list[int] = attrs.field(factory=list)
    fills: list[_Fill] = attrs.field(factory=list)
    unjudged: set[int] = attrs.field(factory=set)
    """The times of reduce-only fills applied since the last look."""

    def add(self, fill: _Fill) -> None:
        """Keep ``fill`` in its place in time; forget the earliest beyond ``_FILLS_KEPT``."""
        at = bisect.bisect_right(self.times, fill.ts_ns)
        self.times.insert(at, fill.ts_ns)
        self.fills.insert(at, fill)
        if len(self.fills) > _FILLS_KEPT:
            del self.times[0], self.fills[0]

    def crosses_at(self, ts_ns: int) -> bool:
        """Whether the reduce-only fills timed ``ts_ns`` cannot be read as only closing."""
        later = reduce_only = other = ZERO
        for fill in self.fills[bisect.bisect_left(self.times, ts_ns) :]:
            if fill.ts_ns > ts_ns:
                later += fill.change
            elif fill.reduce_only:
                reduce_only += fill.change
            else:
                other += fill.change
        start = self.position - later - reduce_only - other
        return (
            reduce_only != 0
            and not only_closes(start, reduce_only)
            and not only_closes(start + other, reduce_only)
        )


@attrs.define
class ReduceOnlyWatch:
    """Per symbol, the fills applied as the venue timed them; ``take`` judges the new ones."""

    _lines: dict[str, _Timeline] = attrs.field(factory=dict)
    _unjudged: bool = False
    """A reduce-only fill was applied since the last ``take`` (most steps: none)."""

    def fill(
        self, symbol: str, before: Decimal, after: Decimal, ts_ns: object, *, reduce_only: bool
    ) -> None:
        """A fill the venue timed ``ts_ns`` moved ``symbol`` from ``before`` to ``after``."""
        line = self._lines.get(symbol)
        if line is None or line.position != before:  # nothing known of what moved it
            line = self._lines[symbol] = _Timeline(position=before)
        if isinstance(ts_ns, bool) or not isinstance(ts_ns, int):
            ts_ns = line.times[-1] + 1 if line.times else 0  # after the latest
        line.add(_Fill(ts_ns, after - before, reduce_only))
        line.position = after
        if reduce_only:
            line.unjudged.add(ts_ns)
            self._unjudged = True

    def take(self) -> bool:
        """Whether reduce-only fills added exposure since the last call (then forgets them)."""
        if not self._unjudged:
            return False
        self._unjudged = False
        added = False
        for line in self._lines.values():
            if line.unjudged:
                added = added or any(line.crosses_at(ts) for ts in sorted(line.unjudged))
                line.unjudged.clear()
        return added

    def get_state(self) -> dict[str, Any]:
        """Per symbol, its position and the fills kept (``[ts_ns, change, reduce_only]``).

        Empty before the first fill (the checkpoint then has no key for it).
        """
        return {
            symbol: {
                "position": str(line.position),
                "fills": [[f.ts_ns, str(f.change), f.reduce_only] for f in line.fills],
                "unjudged": sorted(line.unjudged),
            }
            for symbol, line in sorted(self._lines.items())
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore ``get_state``'s memory (an empty one for a checkpoint without it)."""
        self._lines = {}
        for symbol, kept in state.items():
            fills = [_Fill(int(ts), Decimal(change), bool(ro)) for ts, change, ro in kept["fills"]]
            self._lines[symbol] = _Timeline(
                position=Decimal(kept["position"]),
                times=[f.ts_ns for f in fills],
                fills=fills,
                unjudged={int(ts) for ts in kept["unjudged"]},
            )
        self._unjudged = any(line.unjudged for line in self._lines.values())
