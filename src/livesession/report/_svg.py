"""Inline SVG: the line chart over time, its markers and flags, and the axes' text."""

from __future__ import annotations

import datetime as dt
import html
import math
from typing import TYPE_CHECKING, Final

import attrs

from .._support.text import escape_bidi
from ._alt import TIMELINE_ALT, chart_text

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._series import Flag, Marker, Point

__all__ = [
    "BUY",
    "FLAG_COLOURS",
    "PLOT_COLUMNS",
    "PRICE_LEGEND",
    "RAIL",
    "SELL",
    "SERIES_COLOURS",
    "STATUS_COLOURS",
    "TIMELINE_ALT",
    "WIDTH",
    "chart",
    "duration",
    "escape",
    "svg_open",
    "thin",
    "utc_text",
]

#: The width of a chart, and the least width of the state timeline.
WIDTH: Final = 1100
_Y_TICKS: Final = 5
_MAX_TICKS: Final = 7
_NS_PER_S: Final = 10**9
_MINUTE_S: Final = 60
_DAY_S: Final = 86_400
_TICK_STEPS_S: Final = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200,
    86_400, 172_800, 345_600, 604_800, 1_209_600, 2_592_000,
)  # fmt: skip
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MERGE_PX: Final = 4
"""Submits or fills closer than this (in pixels, same column) share one marker."""
_SAME_SPOT_PX: Final = 2
"""Rejects or rail blocks on the same square of this many pixels share one marker."""
_LABELS_PER_GROUP: Final = 5
_DENSE_CELL: Final = (8, 16)
"""Where a chart has more submits and fills than pixel columns, they share one marker per
cell of this many pixels (wide, high), with fewer labels: a crowd of markers a pixel apart
shows nothing more, and would make the file megabytes."""
_DENSE_LABELS: Final = 2
SERIES_COLOURS: Final = ("#1d4ed8", "#b45309", "#7c3aed", "#0f766e", "#be185d")
BUY: Final = "#15803d"
SELL: Final = "#b91c1c"
RAIL: Final = "#c2410c"
FLAG_COLOURS: Final = {
    "kill": "#b91c1c",
    "halt": "#a16207",
    "resume": "#2563eb",
    "operator": "#7c3aed",
    "fault": "#7f1d1d",
}
STATUS_COLOURS: Final = {
    "INIT": ("#eeeeee", "#555555"),
    "RUNNING": ("#dbeafe", "#1d4ed8"),
    "COMPLETED": ("#dcfce7", "#15803d"),
    "REJECTED": ("#fef3c7", "#b45309"),
    "FAILED": ("#fee2e2", "#b91c1c"),
}
"""Each session status's (fill, stroke): the report's badges and state timeline, and the
lifecycle diagram of docs/lifecycle.md (``lifecycle_diagram``), so both show a status alike."""
PRICE_LEGEND: Final = (
    '<p class="legend"><span>▲ buy submitted</span><span>▼ sell submitted</span>'
    "<span>● fill at its price (^ inside: buy, v: sell)</span>"
    "<span>✕ rejected by the broker</span>"
    f'<span style="color:{RAIL}">◆ blocked by a rail (on the bottom edge)</span>'
    f'<span style="color:{BUY}">green: buy</span><span style="color:{SELL}">red: sell</span>'
    + "".join(
        f'<span style="color:{colour}">┆ {kind}</span>' for kind, colour in FLAG_COLOURS.items()
    )
    + "</p>"
)
"""The key of the price charts' marks: each is told by its shape or its label, not its
colour alone."""


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


_FRAME: Final = _Frame(width=WIDTH, height=250, margins=(80, 20, 16, 46))
PLOT_COLUMNS: Final = _FRAME.plot_width
"""Pixel columns of a chart's plot area: what a line is thinned to (two points each)."""


def escape(text: object) -> str:
    r"""``text`` as HTML text or attribute value: every markup character escaped.

    A bidi control is shown as its escape (``\u202e``), not obeyed.
    """
    escaped = html.escape(str(text), quote=True)
    return escape_bidi(escaped)


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
    """A short, human span of time: ``42s``, ``3.5min``, ``5h 20min``, ``69d 10h 40min``."""
    seconds = ns / _NS_PER_S
    if seconds < 120:  # noqa: PLR2004 - two minutes
        return f"{seconds:.3g}s"
    if seconds < 7200:  # noqa: PLR2004 - two hours
        return f"{seconds / 60:.3g}min"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h", f"{minutes}min"] if minutes else [f"{hours}h"]
    return " ".join(parts)


def utc_text(ns: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """UTC nanoseconds since the epoch as text (``2026-01-01 00:00:00``)."""
    moment = _EPOCH + dt.timedelta(microseconds=ns // 1000)
    return moment.strftime(fmt)


def _time_ticks(low_ns: int, high_ns: int) -> tuple[list[int], str]:
    """Round UTC moments in ``[low_ns, high_ns]`` (at most ``_MAX_TICKS``) and their format."""
    span_s = max((high_ns - low_ns) / _NS_PER_S, 1e-9)
    step_s = next((s for s in _TICK_STEPS_S if span_s / s <= _MAX_TICKS), None)
    if step_s is None:  # beyond the table: whole multiples of 30 days
        step_s = 2_592_000 * (int(span_s / 2_592_000 / _MAX_TICKS) + 1)
    step = step_s * _NS_PER_S
    first = -(-low_ns // step) * step
    ticks = list(range(first, high_ns + 1, step))
    if step_s >= _DAY_S:
        fmt = "%Y-%m-%d"
    elif step_s < _MINUTE_S:
        fmt = "%H:%M:%S"
    elif utc_text(low_ns, "%Y%m%d") == utc_text(high_ns, "%Y%m%d"):
        fmt = "%H:%M"
    else:
        fmt = "%m-%d %H:%M"
    return ticks, fmt


def _value_ticks(low: float, high: float) -> list[tuple[float, int]]:
    """Round values in ``[low, high]`` (1, 2, 2.5 or 5 times a power of ten apart).

    Each comes with the decimals that show its step exactly, so labels read ``42,000`` or
    ``0.005`` rather than ``41,997.3`` or ``0.0050001``.
    """
    raw = (high - low) / _Y_TICKS
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    decimals = max(0, -math.floor(math.log10(power) + 1e-9)) + (
        1 if step / power == 2.5 and power <= 1 else 0  # noqa: PLR2004 - the 2.5 step
    )
    first = math.ceil(low / step)
    return [(n * step, decimals) for n in range(first, math.floor(high / step) + 1)]


def _padded(values: list[float]) -> tuple[float, float]:
    if not values:
        return -1.0, 1.0
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.01 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.08
    return low - pad, high + pad


def thin(points: list[Point], x_range: tuple[int, int], columns: int) -> list[Point]:
    """At most two points per pixel column (its lowest and highest), in time order.

    A long run has far more points than a chart has pixels; keeping each column's extremes
    draws the same picture (every spike stays) in a fraction of the bytes. The first and
    last points always stay, so the line spans what it spanned.
    """
    if len(points) <= 2 * columns + 2:
        return points
    low, high = x_range
    span = max(high - low, 1)
    keep: set[int] = {0, len(points) - 1}
    column, lo, hi = None, 0, 0
    for index, point in enumerate(points):
        at = min(columns - 1, max(0, (point.ts_sim - low) * columns // span))
        if at != column:
            if column is not None:
                keep.update((lo, hi))
            column, lo, hi = at, index, index
        elif point.value < points[lo].value:
            lo = index
        elif point.value > points[hi].value:
            hi = index
    keep.update((lo, hi))
    return [points[i] for i in sorted(keep)]


def _group_markers(
    markers: list[Marker],
    px: Callable[[int], float],
    py: Callable[[float], float],
    rail_y: float,
) -> list[tuple[Marker, float, float, int, list[str]]]:
    """Markers of one kind and side that fall on one spot drawn once, with a count.

    Submits and fills merge within a pixel column and ``_MERGE_PX`` of height (within
    a ``_DENSE_CELL`` when there are more of them than pixel columns); broker
    rejects only when they land on the same ``_SAME_SPOT_PX`` square, where separate marks
    could not be told apart anyway. Rail blocks sit on a lane along the plot's bottom edge
    (a rail that blocks every bar for a week would otherwise hide the price under it) and
    merge within ``_SAME_SPOT_PX`` columns. No spot where something happened loses its mark,
    and the tooltip says how many it stands for.
    """
    out: list[tuple[Marker, float, float, int, list[str]]] = []
    groups: dict[tuple[int, int, str, str], int] = {}
    orders = sum(1 for marker in markers if marker.kind in ("submit", "fill"))
    cell_x, cell_y = _DENSE_CELL if orders > PLOT_COLUMNS else (1, _MERGE_PX)
    most = _DENSE_LABELS if orders > PLOT_COLUMNS else _LABELS_PER_GROUP
    for marker in markers:
        x, y = px(marker.ts_sim), py(marker.value)
        if marker.kind == "rail":  # on the lane along the bottom edge, whatever the price
            y = rail_y
            key = (int(x) // _SAME_SPOT_PX, 0, marker.kind, "")
        elif marker.kind in ("submit", "fill"):
            key = (int(x) // cell_x, int(y) // cell_y, marker.kind, marker.side)
        else:
            key = (int(x) // _SAME_SPOT_PX, int(y) // _SAME_SPOT_PX, marker.kind, marker.side)
        at = groups.get(key)
        if at is None:
            groups[key] = len(out)
            out.append((marker, x, y, 1, [marker.label]))
        else:
            first, fx, fy, count, labels = out[at]
            if len(labels) < (most if marker.kind in ("submit", "fill") else _LABELS_PER_GROUP):
                labels.append(marker.label)
            out[at] = (first, fx, fy, count + 1, labels)
    return out


def chart(
    label: str,
    lines: list[tuple[str, str, list[Point]]],
    markers: list[Marker],
    x_range: tuple[int, int],
    *,
    utc_offset_ns: int = 0,
    flags: Sequence[Flag] = (),
    zero_line: bool = False,
) -> str:
    """A line chart over time with order markers and flags, as inline SVG.

    ``x_range`` is the run's span, so charts of one report line up with each other; the
    x axis reads absolute UTC (``ts_sim + utc_offset_ns``). Lines are thinned to two
    points per pixel column; every reject, rail block and flag keeps its own mark.
    """
    frame = _FRAME
    left, top, plot_w, plot_h = frame.left, frame.top, frame.plot_width, frame.plot_height
    x_low, x_high = x_range
    if x_low >= x_high:
        x_high = x_low + 1
    thinned = [
        (name, colour, thin(points, (x_low, x_high), plot_w)) for name, colour, points in lines
    ]
    ys = [p.value for _, _, pts in thinned for p in pts] + [m.value for m in markers]
    y_low, y_high = _padded([*ys, 0.0] if zero_line else ys)

    def px(ts_sim: int) -> float:
        return left + (ts_sim - x_low) / (x_high - x_low) * plot_w

    def py(value: float) -> float:
        return top + (y_high - value) / (y_high - y_low) * plot_h

    times = (utc_text(x_low + utc_offset_ns), utc_text(x_high + utc_offset_ns))
    alt = chart_text(label, thinned, markers, flags, times)
    parts = [svg_open(frame.width, frame.height, alt)]
    bottom = top + plot_h
    parts.extend(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{py(v):.1f}" y2="{py(v):.1f}" '
        f'stroke="#f3f4f6"/><text x="{left - 6}" y="{py(v) + 4:.1f}" '
        f'text-anchor="end">{escape(f"{v:,.{decimals}f}")}</text>'
        for v, decimals in _value_ticks(y_low, y_high)
    )
    ticks, fmt = _time_ticks(x_low + utc_offset_ns, x_high + utc_offset_ns)
    for tick in ticks:
        x = px(tick - utc_offset_ns)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#f3f4f6"/>'
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
            f"{escape(utc_text(tick, fmt))}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w}" y="{bottom + 30}" text-anchor="end" class="axis">UTC, '
        f"{escape(times[0])} to {escape(times[1])}</text>"
    )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" '
        'fill="none" stroke="#d1d5db"/>'
    )
    if zero_line and y_low < 0 < y_high:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{py(0):.1f}" y2="{py(0):.1f}" '
            'stroke="#9ca3af"/>'
        )
    parts.extend(_flag_svg(flag, px(flag.ts_sim), top, bottom) for flag in flags)
    for name, colour, points in thinned:
        path = " ".join(f"{px(p.ts_sim):.1f},{py(p.value):.1f}" for p in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.4">'
            f"<title>{escape(name)}</title></polyline>"
        )
    parts.extend(
        _marker_svg(marker, x, y, count, labels)
        for marker, x, y, count, labels in _group_markers(markers, px, py, bottom - 5)
    )
    parts.append("</svg>")
    return "".join(parts)


_PLURAL: Final = {
    "submit": "submits",
    "fill": "fills",
    "reject": "broker rejects",
    "rail": "rail blocks",
}


def _flag_svg(flag: Flag, x: float, top: int, bottom: int) -> str:
    """A dashed line with a pennant, labelled with its kind.

    A colour alone says nothing to a reader who cannot tell red from brown, nor on a grey
    printout.
    """
    colour = FLAG_COLOURS.get(flag.kind, "#374151")
    return (
        f'<text {_flag_label_at(x)} y="{top + 8}" class="flag">{escape(flag.kind)}</text>'
        f'<g class="flag-{escape(flag.kind)}"><title>{escape(flag.label)}</title>'
        f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="{colour}" '
        f'stroke-width="1.5" stroke-dasharray="4 3"/>'
        f'<path d="M{x:.1f} {top}h9l-3 4l3 4h-9z" fill="{colour}"/></g>'
    )


_FLAG_LABEL_PX: Final = 60
"""Room a flag's label takes (``operator`` at 10 px, with its gap): nearer the chart's right
edge than this, the label goes to the left of its line rather than off the chart."""


def _flag_label_at(x: float) -> str:
    if x + 11 + _FLAG_LABEL_PX > WIDTH:
        return f'x="{x - 3:.1f}" text-anchor="end"'
    return f'x="{x + 11:.1f}"'


def _marker_svg(marker: Marker, x: float, y: float, count: int, labels: list[str]) -> str:
    colour = BUY if marker.side == "BUY" else SELL
    text = "\n".join(labels)
    if count > 1:
        text = f"{count} {_PLURAL[marker.kind]} here; the first {len(labels)}:\n{text}"
    title = f"<title>{escape(text)}</title>"
    if marker.kind == "fill":  # a dot with a white chevron the way it traded: not colour alone
        radius = 5 if count == 1 else 6
        turn = -3 if marker.side == "BUY" else 3
        return (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{colour}">{title}</circle>'
            f'<path class="side" d="M{x - 3:.1f} {y - turn / 2:.1f}l3 {turn}l3 {-turn}"/>'
        )
    if marker.kind == "reject":
        return (
            f'<path d="M{x - 5:.1f} {y - 5:.1f}l10 10m0 -10l-10 10" stroke="{colour}" '
            f'stroke-width="2">{title}</path>'
        )
    if marker.kind == "rail":
        return (
            f'<path class="rail" d="M{x:.1f} {y - 4:.1f}l3 4l-3 4l-3 -4z" fill="{RAIL}">'
            f"{title}</path>"
        )
    # Submits: a hollow triangle pointing the way the order trades, offset off the line.
    if marker.side == "BUY":
        d = f"M{x:.1f} {y + 4:.1f}l-6 10h12z"
    else:
        d = f"M{x:.1f} {y - 4:.1f}l-6 -10h12z"
    return f'<path d="{d}" fill="#fff" stroke="{colour}" stroke-width="1.6">{title}</path>'
