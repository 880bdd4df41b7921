"""Inline SVG: the line chart over simulated time, its order markers, and the axes' text."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from ._series import Marker, Point

__all__ = ["BUY", "SELL", "SERIES_COLOURS", "WIDTH", "chart", "duration", "escape", "svg_open"]

#: The width of a chart, and the least width of the state timeline.
WIDTH: Final = 1100
_TICKS: Final = 5
_NS_PER_S: Final = 10**9
SERIES_COLOURS: Final = ("#1d4ed8", "#b45309", "#7c3aed", "#0f766e", "#be185d")
BUY: Final = "#15803d"
SELL: Final = "#b91c1c"


@attrs.frozen(kw_only=True)
class _Frame:
    """A chart's SVG box and, inside its margins, the plot area; in pixels."""

    width: int
    height: int
    margins: tuple[int, int, int, int]  # left, right, top, bottom

    @property
    def left(self) -> int:
        """The x of the plot area's left edge."""
        return self.margins[0]

    @property
    def top(self) -> int:
        """The y of the plot area's top edge."""
        return self.margins[2]

    @property
    def plot_width(self) -> int:
        """The width of the plot area."""
        return self.width - self.margins[0] - self.margins[1]

    @property
    def plot_height(self) -> int:
        """The height of the plot area."""
        return self.height - self.margins[2] - self.margins[3]


_FRAME: Final = _Frame(width=WIDTH, height=240, margins=(80, 20, 16, 36))


def escape(text: object) -> str:
    """``text`` as HTML text or attribute value: every markup character escaped."""
    return html.escape(str(text), quote=True)


def svg_open(width: int, height: int, label: str, *, arrow: bool = False) -> str:
    """An ``<svg>`` start tag; ``arrow`` adds the one arrow-head marker of the document."""
    defs = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" '
        'fill="#6b7280"/></marker></defs>'
        if arrow
        else ""
    )
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}">{defs}'
    )


def duration(ns: int) -> str:
    """A short, human span of simulated time: ``42s``, ``3.5min``, ``2.25h``."""
    seconds = ns / _NS_PER_S
    if seconds < 120:  # noqa: PLR2004 - two minutes
        return f"{seconds:.3g}s"
    if seconds < 7200:  # noqa: PLR2004 - two hours
        return f"{seconds / 60:.3g}min"
    return f"{seconds / 3600:.3g}h"


def _ticks(low: float, high: float) -> list[float]:
    step = (high - low) / (_TICKS - 1)
    return [low + i * step for i in range(_TICKS)]


def _padded(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.01 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.08
    return low - pad, high + pad


def chart(
    label: str,
    lines: list[tuple[str, str, list[Point]]],
    markers: list[Marker],
    x_range: tuple[int, int],
) -> str:
    """A line chart over simulated time with optional order markers, as inline SVG.

    ``x_range`` is the run's span, so charts of one report line up with each other.
    """
    ys = [p.value for _, _, pts in lines for p in pts] + [m.value for m in markers]
    x_low, x_high = x_range
    if x_low >= x_high:
        x_high = x_low + 1
    y_low, y_high = _padded(ys)
    frame = _FRAME
    left, top, plot_w, plot_h = frame.left, frame.top, frame.plot_width, frame.plot_height

    def px(ts_sim: int) -> float:
        return left + (ts_sim - x_low) / (x_high - x_low) * plot_w

    def py(value: float) -> float:
        return top + (y_high - value) / (y_high - y_low) * plot_h

    parts = [svg_open(frame.width, frame.height, label)]
    bottom = top + plot_h
    for value in _ticks(y_low, y_high):
        y = py(value)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#f3f4f6"/><text x="{left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(f"{value:.6g}")}</text>'
        )
    for index, ts in enumerate(_ticks(x_low, x_high)):
        anchor = "start" if index == 0 else "end" if index == _TICKS - 1 else "middle"
        parts.append(
            f'<text x="{px(round(ts)):.1f}" y="{bottom + 16}" text-anchor="{anchor}">'
            f"+{duration(round(ts) - x_low)}</text>"
        )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" '
        'fill="none" stroke="#d1d5db"/>'
    )
    for name, colour, points in lines:
        path = " ".join(f"{px(p.ts_sim):.1f},{py(p.value):.1f}" for p in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6">'
            f"<title>{escape(name)}</title></polyline>"
        )
    parts.extend(_marker_svg(m, px(m.ts_sim), py(m.value)) for m in markers)
    parts.append("</svg>")
    return "".join(parts)


def _marker_svg(marker: Marker, x: float, y: float) -> str:
    colour = BUY if marker.side == "BUY" else SELL
    title = f"<title>{escape(marker.label)}</title>"
    if marker.kind == "fill":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">{title}</circle>'
    if marker.kind == "reject":
        return (
            f'<path d="M{x - 5:.1f} {y - 5:.1f}l10 10m0 -10l-10 10" stroke="{colour}" '
            f'stroke-width="2">{title}</path>'
        )
    # Submits: a hollow triangle pointing the way the order trades, offset off the line.
    if marker.side == "BUY":
        d = f"M{x:.1f} {y + 4:.1f}l-6 10h12z"
    else:
        d = f"M{x:.1f} {y - 4:.1f}l-6 -10h12z"
    return f'<path d="{d}" fill="#fff" stroke="{colour}" stroke-width="1.6">{title}</path>'
