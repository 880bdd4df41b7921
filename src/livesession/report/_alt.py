"""A chart's text alternative: what a screen reader says, and a printout cannot hover.

A chart is an ``<svg role="img">``: its marks' tooltips are not read out, and a printout
shows no tooltip at all. Its ``aria-label`` therefore says what the chart shows: its
title, both axes and their ranges, each line, and how many marks of each kind it holds
and what they look like, so the picture is never the only carrier of what it holds.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._series import Flag, Marker, Point

__all__ = ["TIMELINE_ALT", "chart_text"]

TIMELINE_ALT: Final = (
    "State timeline: each state the session moved through, in order, from left to right; "
    "the table of state snapshots below lists each move with its time, trigger and status"
)

_MARKS: Final = (
    ("submit", "BUY", "buy order(s) submitted (hollow triangle pointing up)"),
    ("submit", "SELL", "sell order(s) submitted (hollow triangle pointing down)"),
    ("fill", "BUY", "buy fill(s) at their price (dot with an up chevron)"),
    ("fill", "SELL", "sell fill(s) at their price (dot with a down chevron)"),
    ("reject", "BUY", "buy order(s) the broker rejected (cross)"),
    ("reject", "SELL", "sell order(s) the broker rejected (cross)"),
    ("rail", "", "order(s) a rail blocked (diamond on the bottom edge)"),
)


def _number(value: float) -> str:
    return f"{round(value, 8):,.12g}"  # no float noise (-8.99796, not -8.99796000001)


def chart_text(
    label: str,
    lines: Sequence[tuple[str, str, Sequence[Point]]],
    markers: Sequence[Marker],
    flags: Sequence[Flag],
    times: tuple[str, str],
) -> str:
    """``label``'s chart in words: axes, lines, and every kind of mark with its count."""
    values = [point.value for _, _, points in lines for point in points]
    vertical = f"Vertical axis: {label}"
    if values:
        vertical += f", from {_number(min(values))} to {_number(max(values))}"
    names = ", ".join(name for name, _, _ in lines)
    parts = [
        f"Chart: {label}, over time.",
        f"Horizontal axis: time, UTC, from {times[0]} to {times[1]}.",
        f"{vertical}; line(s): {names}.",
    ]
    kinds = Counter((m.kind, m.side if m.kind != "rail" else "") for m in markers)
    marks = [f"{kinds[kind, side]} {words}" for kind, side, words in _MARKS if kinds[kind, side]]
    if marks:
        parts.append("Marks: " + "; ".join(marks) + ".")
    drawn = Counter(flag.kind for flag in flags)
    if drawn:
        parts.append(
            "Dashed vertical lines, each labelled with its kind: "
            + "; ".join(f"{kind} ({count})" for kind, count in drawn.items())
            + "."
        )
    return " ".join(parts)
