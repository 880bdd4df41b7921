"""Where a run's bars skip time: a gap in a day's data, said beside the burn-in verdict.

A paper day played from a minute-bar export with 90 minutes missing read ``the session
stopped at step 1350 of 1440 planned (FEED_EXHAUSTED)``, as a half day's file does: nothing
said that the strategy never saw 10:00 to 11:30. The bars' usual spacing is the most common
interval between them; each longer one is a gap (a data fault on a market that never closes,
a night or a weekend on one that does: the note says both).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .._support.text import span_words

__all__ = ["BarGaps"]

_NS_PER_S = 1_000_000_000


class BarGaps:
    """The intervals between a run's ``BAR`` events (their ``ts_sim``), fed one at a time."""

    def __init__(self) -> None:
        self._last: tuple[int, object] | None = None
        self._spacing: Counter[int] = Counter()
        self._steps: list[tuple[int, object, object]] = []  # (interval, from ts_utc, to ts_utc)

    def note(self, event: dict[str, Any]) -> None:
        """Take one event (only a ``BAR`` with an integer ``ts_sim`` counts)."""
        at = event.get("ts_sim")
        if event.get("event_type") != "BAR" or not isinstance(at, int):
            return
        if self._last is not None and at > self._last[0]:
            interval = at - self._last[0]
            self._spacing[interval] += 1
            self._steps.append((interval, self._last[1], event.get("ts_utc")))
        self._last = (at, event.get("ts_utc"))

    def said(self) -> str:
        """A note on the gaps, or "" when the bars never skip their usual spacing."""
        if not self._spacing:
            return ""
        usual = max(self._spacing.items(), key=lambda item: (item[1], -item[0]))[0]
        gaps = [step for step in self._steps if step[0] > usual]
        if not gaps:
            return ""
        longest = max(gaps, key=lambda step: step[0])
        missing = sum(interval - usual for interval, _, _ in gaps)
        return (
            f"the bars skip time: {len(gaps)} gap(s) longer than their usual "
            f"{span_words(usual / _NS_PER_S)} spacing, {span_words(missing / _NS_PER_S)} "
            f"without a bar in all, the longest from {longest[1]} to {longest[2]}: a gap in "
            "the data, or the market closed (the strategy saw no bar in between)"
        )
