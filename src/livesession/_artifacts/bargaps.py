"""Where a run's bars skip time: a gap in its data, said by the burn-in review and the report.

A paper day played from a minute-bar export with 90 minutes missing read ``the session
stopped at step 1350 of 1440 planned (FEED_EXHAUSTED)``, as a half day's file does: nothing
said that the strategy never saw 10:00 to 11:30. The bars' usual spacing is the most common
interval between them; each longer one is a gap (a data fault on a market that never closes,
a night or a weekend on one that does: the note says both). The gap is named by the bars'
own times (``ts_sim``, in UTC), never by their ``ts_utc``: under ``clock_mode`` ``fixed`` or
``system`` that is the clock's stamp (``start_time``, or the wall clock), not the bar's time.
"""

from __future__ import annotations

from typing import Any

from .._domain.clock import format_utc_ns
from .._support.text import span_words

__all__ = ["BarGaps"]

_NS_PER_S = 1_000_000_000
_NAMED = 3
"""How many gaps the note names, the longest first."""


class BarGaps:
    """The intervals between a run's ``BAR`` events (their ``ts_sim``), fed one at a time.

    Memory grows with the number of different intervals, not with the run's length: each
    interval keeps its count and the first place it was seen.
    """

    def __init__(self) -> None:
        self._last: int | None = None
        # interval -> [how many times, from ts_sim, to ts_sim of its first time]
        self._spacing: dict[int, list[int]] = {}
        # The longest intervals, longest first (of equal ones, the first): (interval, from, to)
        self._longest: list[tuple[int, int, int]] = []

    def note(self, event: dict[str, Any]) -> None:
        """Take one event (only a ``BAR`` with an integer ``ts_sim`` counts)."""
        if event.get("event_type") == "BAR":
            self.bar(event.get("ts_sim"))

    def bar(self, at: object) -> None:
        """Take one ``BAR`` by its ``ts_sim`` (``at``: only an integer counts)."""
        if type(at) is not int:
            return
        last = self._last
        if last is not None and at > last:
            seen = self._spacing.get(at - last)
            if seen is None:
                self._spacing[at - last] = [1, last, at]
            else:
                seen[0] += 1
            longest = self._longest
            if len(longest) < _NAMED or at - last > longest[-1][0]:
                longest.append((at - last, last, at))
                longest.sort(key=lambda gap: (-gap[0], gap[1]))
                del longest[_NAMED:]
        self._last = at

    def said(self) -> str:
        """A note on the gaps, or "" when the bars never skip their usual spacing."""
        if not self._spacing:
            return ""
        # The most common interval; of equally common ones, the shortest.
        usual = max(self._spacing.items(), key=lambda item: (item[1][0], -item[0]))[0]
        gaps = {interval: seen for interval, seen in self._spacing.items() if interval > usual}
        if not gaps:
            return ""
        _, start, end = gaps[max(gaps)]
        count = sum(seen[0] for seen in gaps.values())
        missing = sum(seen[0] * (interval - usual) for interval, seen in gaps.items())
        return (
            f"the bars skip time: {count} gap(s) longer than their usual "
            f"{span_words(usual / _NS_PER_S)} spacing, {span_words(missing / _NS_PER_S)} "
            f"without a bar in all, the longest from {format_utc_ns(start)} to "
            f"{format_utc_ns(end)}{self._next_longest(usual, count)}: a gap in "
            "the data, or the market closed (the strategy saw no bar in between)"
        )

    def _next_longest(self, usual: int, count: int) -> str:
        """``, then from A to B (1 h 1 min) and from C to D (5 min), and 3 more``, or "".

        The gaps after the longest, of the ``_NAMED`` longest: a month's files joined with
        an hour missing at the join, or at a change of summer time, beside a missing day.
        """
        named = [gap for gap in self._longest[1:] if gap[0] > usual]
        if not named:
            return ""
        said = [
            f"from {format_utc_ns(start)} to {format_utc_ns(end)} ({span_words(gap / _NS_PER_S)})"
            for gap, start, end in named
        ]
        more = count - 1 - len(named)
        return f", then {' and '.join(said)}" + (f", and {more} more" if more else "")
