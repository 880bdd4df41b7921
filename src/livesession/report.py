"""A one-file HTML report of a run, for a person reviewing it.

``render_report`` reads a run directory and returns one self-contained HTML document:
inline CSS, inline SVG charts drawn here, no scripts, no external URLs, so it can be
mailed, archived or opened offline. Every piece of text from the run is escaped.

The report shows the run id, strategy and status; the verifier's verdict; key metrics; a
state timeline; the price with order submits and fills marked; position and equity over
simulated time; and rejects by reason. It reads the artifacts leniently, so it also
renders runs that are incomplete or broken (the verdict then lists what is wrong).
The same run directory always gives the same bytes.
"""

from __future__ import annotations

import html
from collections import Counter
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from ._artifacts import names
from ._exceptions import MissingExtra
from ._support.fsutil import atomic_write_bytes
from .verify import read_records, verify_run

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["render_report", "write_report"]

_WIDTH: Final = 1100
_HEIGHT: Final = 240
_MARGIN_LEFT: Final = 80
_MARGIN_RIGHT: Final = 20
_MARGIN_TOP: Final = 16
_MARGIN_BOTTOM: Final = 36
_TICKS: Final = 5
_MAX_VIOLATIONS_SHOWN: Final = 50
_NS_PER_S: Final = 10**9
_FILL_TYPES: Final = frozenset({"ORDER_FILLED", "ORDER_PARTIALLY_FILLED"})
_STATUS_COLOURS: Final = {
    "INIT": ("#eeeeee", "#555555"),
    "RUNNING": ("#dbeafe", "#1d4ed8"),
    "COMPLETED": ("#dcfce7", "#15803d"),
    "REJECTED": ("#fef3c7", "#b45309"),
    "FAILED": ("#fee2e2", "#b91c1c"),
}
_SERIES_COLOURS: Final = ("#1d4ed8", "#b45309", "#7c3aed", "#0f766e", "#be185d")
_BUY: Final = "#15803d"
_SELL: Final = "#b91c1c"

_CSS: Final = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  margin: 0 auto; max-width: 1160px; padding: 24px; color: #111827; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.sub { color: #4b5563; margin: 0; word-break: break-all; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600;
  border: 1px solid; }
.ok { color: #15803d; } .bad { color: #b91c1c; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid #f3f4f6;
  vertical-align: top; }
th { font-weight: 600; color: #374151; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font: 11px system-ui, sans-serif; fill: #374151; }
svg text.strong { font-weight: 600; fill: #111827; }
.legend { color: #4b5563; font-size: 12px; margin: 2px 0 0; }
.legend span { margin-right: 16px; }
.empty { color: #6b7280; font-style: italic; }
ul.violations { font-family: ui-monospace, monospace; font-size: 12px; padding-left: 18px; }
footer { margin-top: 32px; color: #6b7280; font-size: 12px; }
"""


def render_report(run_dir: Path | str) -> str:
    """The HTML report of the run in ``run_dir``: one self-contained document.

    Never fetches anything and contains no script; missing or broken artifacts are
    shown as such instead of raising.
    """
    run = _Run.load(Path(run_dir))
    sections = (
        _header(run),
        _section("Verification", _verification(run)),
        _section("Key metrics", _metrics_table(run)),
        _section("State timeline", _state_timeline(run)),
        _section("Price, orders and fills", _price_charts(run)),
        _section("Position and equity", _position_and_equity(run)),
        _section("Rejects by reason", _rejects_table(run)),
    )
    title = f"livesession run {run.run_id}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n<footer>Drawn from the run's artifacts; simulated time on every x axis.</footer>\n"
        "</body>\n</html>\n"
    )


def write_report(run_dir: Path | str, path: Path | str) -> None:
    """Write ``render_report(run_dir)`` to ``path`` atomically (temporary file, rename)."""
    atomic_write_bytes(Path(path), render_report(run_dir).encode("utf-8"))


# --- reading the run -----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Point:
    ts_sim: int
    value: float


@attrs.frozen(kw_only=True)
class _Marker:
    ts_sim: int
    value: float
    kind: str  # "submit", "fill", "reject"
    side: str
    label: str


@attrs.define
class _Run:
    """What the report needs, read leniently from the run directory."""

    run_dir: Path
    events: list[dict[str, Any]]
    snapshots: list[dict[str, Any]]
    metrics: dict[str, Any]
    violations: tuple[str, ...] | None

    @classmethod
    def load(cls, run_dir: Path) -> _Run:
        try:
            metrics = orjson.loads((run_dir / names.METRICS).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            metrics = {}
        try:
            violations: tuple[str, ...] | None = verify_run(run_dir).violations
        except MissingExtra:
            violations = None
        return cls(
            run_dir=run_dir,
            events=read_records(run_dir / names.EVENTS),
            snapshots=read_records(run_dir / names.SNAPSHOTS),
            metrics=metrics if isinstance(metrics, dict) else {},
            violations=violations,
        )

    def _first(self, key: str) -> str:
        for record in (*self.events[:1], *self.snapshots[:1], self.metrics):
            if key in record:
                return str(record[key])
        return "(unknown)"

    @property
    def run_id(self) -> str:
        return self._first("run_id")

    @property
    def strategy_id(self) -> str:
        return self._first("strategy_id")

    @property
    def status(self) -> str:
        if self.snapshots and "status" in self.snapshots[-1]:
            return str(self.snapshots[-1]["status"])
        return str(self.metrics.get("status", "(unknown)"))

    def span(self) -> tuple[int, int]:
        """First and last ts_sim of the run: the x range every chart shares."""
        times = [_int(r.get("ts_sim")) for r in (*self.events, *self.snapshots)]
        return (min(times), max(times)) if times else (0, 0)

    def of_type(self, *event_types: str) -> list[tuple[int, dict[str, Any]]]:
        """(ts_sim, payload) of the events of the given types, in order."""
        return [
            (_int(event.get("ts_sim")), _payload(event))
            for event in self.events
            if event.get("event_type") in event_types
        ]

    def closes(self) -> dict[str, list[_Point]]:
        series: dict[str, list[_Point]] = {}
        for ts_sim, bar in self.of_type("BAR"):
            close = _number(bar.get("close"))
            if close is not None:
                series.setdefault(str(bar.get("symbol")), []).append(
                    _Point(ts_sim=ts_sim, value=close)
                )
        return series


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _payload(event: dict[str, Any]) -> dict[str, Any]:
    payload = event.get("payload")
    return payload if isinstance(payload, dict) else {}


def _decimal(value: object) -> Decimal | None:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _number(value: object) -> float | None:
    number = _decimal(value)
    return None if number is None else float(number)


# --- sections ------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _section(title: str, body: str) -> str:
    return f"<section>\n<h2>{_e(title)}</h2>\n{body}\n</section>"


def _badge(status: str) -> str:
    fill, stroke = _STATUS_COLOURS.get(status, ("#f3f4f6", "#374151"))
    return (
        f'<span class="badge" style="background:{fill};border-color:{stroke};color:{stroke}">'
        f"{_e(status)}</span>"
    )


def _header(run: _Run) -> str:
    return (
        f"<header>\n<h1>Run <code>{_e(run.run_id)}</code></h1>\n"
        f'<p class="sub">strategy <code>{_e(run.strategy_id)}</code> &middot; status '
        f"{_badge(run.status)}</p>\n</header>"
    )


def _verification(run: _Run) -> str:
    if run.violations is None:
        return (
            '<p class="empty">Not verified: install the observability extra '
            "(<code>livesession[observability]</code>) for the JSON schemas.</p>"
        )
    if not run.violations:
        return (
            '<p class="ok"><strong>Verified:</strong> the four artifacts agree with each other, '
            "the audit chain and the contract.</p>"
        )
    shown = run.violations[:_MAX_VIOLATIONS_SHOWN]
    items = "\n".join(f"<li>{_e(v)}</li>" for v in shown)
    more = len(run.violations) - len(shown)
    tail = f"<p>... and {more} more.</p>" if more > 0 else ""
    return (
        f'<p class="bad"><strong>{len(run.violations)} violation(s):</strong> this run does not '
        f'match the contract.</p>\n<ul class="violations">\n{items}\n</ul>{tail}'
    )


def _table(header: tuple[str, ...], rows: Sequence[Sequence[str]], numeric: frozenset[int]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _metrics_table(run: _Run) -> str:
    kinds = Counter(str(event.get("event_type")) for event in run.events)
    final = run.snapshots[-1] if run.snapshots else {}
    held = final.get("positions")
    positions: dict[str, Any] = held if isinstance(held, dict) else {}
    start, end = run.span()
    rows = [
        ("status", run.status),
        ("steps (bars)", str(run.metrics.get("steps", kinds["BAR"]))),
        ("events", str(run.metrics.get("events_emitted", len(run.events)))),
        ("state snapshots", str(run.metrics.get("state_snapshots", len(run.snapshots)))),
        ("audit records", str(run.metrics.get("audit_events", "(unknown)"))),
        ("signals", str(kinds["SIGNAL"])),
        ("orders submitted", str(run.metrics.get("orders_submitted", kinds["ORDER_SUBMITTED"]))),
        ("fills", str(run.metrics.get("fills", sum(kinds[k] for k in _FILL_TYPES)))),
        ("risk blocks", str(kinds["RISK_REJECTED"])),
        ("broker rejects", str(kinds["ORDER_REJECTED"])),
        ("sink retries", str(run.metrics.get("sink_retries", kinds["SINK_WRITE_RETRIED"]))),
        ("final equity", str(final.get("equity", "(unknown)"))),
        (
            "final positions",
            ", ".join(f"{s} {q}" for s, q in sorted(positions.items()) if _decimal(q) != 0)
            or "flat",
        ),
        ("simulated span", _duration(end - start)),
        ("audit head", str(run.metrics.get("audit_head", "(unknown)"))),
    ]
    return _table(("metric", "value"), rows, frozenset())


def _rejects_table(run: _Run) -> str:
    counts: Counter[tuple[str, str]] = Counter()
    for _, payload in run.of_type("RISK_REJECTED"):
        counts["risk rule", str(payload.get("rule", "(none)"))] += 1
    for _, payload in run.of_type("ORDER_REJECTED"):
        counts["broker", str(payload.get("reason", "(none)"))] += 1
    for _, payload in run.of_type("PREFLIGHT_CHECK"):
        if payload.get("passed") is False:
            counts["preflight", f"{payload.get('check')}: {payload.get('reason')}"] += 1
    if not counts:
        return '<p class="empty">No rejects.</p>'
    rows = [(source, reason, str(n)) for (source, reason), n in sorted(counts.items())]
    return _table(("source", "reason", "count"), rows, frozenset({2}))


def _state_timeline(run: _Run) -> str:
    snaps = run.snapshots
    if not snaps:
        return '<p class="empty">No state snapshots.</p>'
    box_w, gap, top, box_h = 176, 22, 30, 46
    width = max(_WIDTH, len(snaps) * (box_w + gap))
    parts = [_svg_open(width, top + box_h + 44, "State timeline", arrow=True)]
    for index, snap in enumerate(snaps):
        x = index * (box_w + gap) + 2
        status = str(snap.get("status", ""))
        fill, stroke = _STATUS_COLOURS.get(status, ("#f3f4f6", "#374151"))
        state = str(snap.get("fsm_state", "?"))
        trigger = str(snap.get("trigger", "?"))
        tooltip = f"#{snap.get('seq')} {trigger}: {snap.get('from_state')} -> {state} ({status})"
        parts.append(
            f'<g><title>{_e(tooltip)}</title><rect x="{x}" y="{top}" width="{box_w}" '
            f'height="{box_h}" rx="6" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{x + 6}" y="{top + 18}" class="strong">{_e(_clip(state, 26))}</text>'
            f'<text x="{x + 6}" y="{top + 36}">{_e(status)}</text></g>'
        )
        parts.append(f'<text x="{x}" y="{top - 10}">{_e(_clip(trigger, 24))}</text>')
        elapsed = _duration(_int(snap.get("ts_sim")) - run.span()[0])
        when = f"step {snap.get('step', '?')} · t=+{elapsed}"
        parts.append(f'<text x="{x}" y="{top + box_h + 16}">{_e(when)}</text>')
        if index:
            ax = x - gap + 2
            parts.append(
                f'<path d="M{ax} {top + box_h / 2}h{gap - 8}" stroke="#6b7280" '
                f'marker-end="url(#arrow)"/>'
            )
    parts.append("</svg>")
    rows = [
        (
            str(s.get("seq", "")),
            str(s.get("trigger", "")),
            f"{s.get('from_state', '')} → {s.get('fsm_state', '')}",
            str(s.get("status", "")),
            str(s.get("step", "")),
            str(s.get("equity", "")),
        )
        for s in snaps
    ]
    table = _table(
        ("seq", "trigger", "transition", "status", "step", "equity"), rows, frozenset({0, 4, 5})
    )
    return "\n".join(parts) + "\n" + table


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _price_charts(run: _Run) -> str:
    closes = run.closes()
    if not closes:
        return '<p class="empty">No bars in this run.</p>'
    markers = _order_markers(run, closes)
    charts = []
    for symbol in sorted(closes):
        chart = _chart(
            f"Close of {symbol}",
            [(symbol, _SERIES_COLOURS[0], closes[symbol])],
            markers.get(symbol, []),
            run.span(),
        )
        charts.append(f"<h3>{_e(symbol)}</h3>\n{chart}")
    legend = (
        '<p class="legend"><span>▲ buy submitted</span><span>▼ sell submitted</span>'
        "<span>● fill (at its price)</span><span>✕ rejected</span>"
        f'<span style="color:{_BUY}">green: buy</span>'
        f'<span style="color:{_SELL}">red: sell</span></p>'
    )
    return "\n".join(charts) + "\n" + legend


def _order_markers(run: _Run, closes: dict[str, list[_Point]]) -> dict[str, list[_Marker]]:
    """Submits at the last close before them, fills at their price, rejects at the last close."""
    orders: dict[str, dict[str, Any]] = {}
    markers: dict[str, list[_Marker]] = {}

    def last_close(symbol: str, ts_sim: int) -> float | None:
        before = [p.value for p in closes.get(symbol, []) if p.ts_sim <= ts_sim]
        return before[-1] if before else None

    for event in run.events:
        kind, payload, ts_sim = event.get("event_type"), _payload(event), _int(event.get("ts_sim"))
        coid = str(payload.get("client_order_id", ""))
        if kind == "ORDER_SUBMITTED":
            orders[coid] = payload
        order = orders.get(coid, {})
        symbol = str(payload.get("symbol", order.get("symbol", "")))
        side = str(payload.get("side", order.get("side", "")))
        if kind in _FILL_TYPES:
            value = _number(payload.get("price"))
            label = f"{kind} {side} {payload.get('quantity')} @ {payload.get('price')} ({coid})"
            marker_kind = "fill"
        elif kind in ("ORDER_SUBMITTED", "ORDER_REJECTED"):
            value = _number(payload.get("limit_price")) or last_close(symbol, ts_sim)
            label = f"{kind} {side} {payload.get('quantity', order.get('quantity', ''))} ({coid})"
            if kind == "ORDER_REJECTED":
                label += f": {payload.get('reason')}"
            marker_kind = "submit" if kind == "ORDER_SUBMITTED" else "reject"
        else:
            continue
        if value is not None:
            markers.setdefault(symbol, []).append(
                _Marker(ts_sim=ts_sim, value=value, kind=marker_kind, side=side, label=label)
            )
    return markers


def _position_and_equity(run: _Run) -> str:
    positions: dict[str, list[_Point]] = {}
    held: dict[str, Decimal] = {}
    start, end = run.span()
    for ts_sim, fill in run.of_type(*_FILL_TYPES):
        quantity = _decimal(fill.get("quantity"))
        if quantity is None:
            continue
        symbol = str(fill.get("symbol"))
        series = positions.setdefault(symbol, [_Point(ts_sim=start, value=0.0)])
        before = held.get(symbol, Decimal(0))
        held[symbol] = before + (quantity if fill.get("side") == "BUY" else -quantity)
        series.append(_Point(ts_sim=ts_sim, value=float(before)))  # a step, not a ramp
        series.append(_Point(ts_sim=ts_sim, value=float(held[symbol])))
    for symbol, series in positions.items():
        series.append(_Point(ts_sim=end, value=float(held[symbol])))
    parts = []
    if positions:
        lines = [
            (symbol, _SERIES_COLOURS[i % len(_SERIES_COLOURS)], series)
            for i, (symbol, series) in enumerate(sorted(positions.items()))
        ]
        parts.append(
            "<h3>Position (net quantity)</h3>\n" + _chart("Position", lines, [], run.span())
        )
        parts.append(
            '<p class="legend">'
            + "".join(f'<span style="color:{c}">━ {_e(s)}</span>' for s, c, _ in lines)
            + "</p>"
        )
    else:
        parts.append('<p class="empty">No fills, so no position.</p>')
    equity = _equity_points(run)
    if equity:
        parts.append(
            "<h3>Equity</h3>\n" + _chart("Equity", [("equity", "#0f766e", equity)], [], run.span())
        )
    else:
        parts.append('<p class="empty">No equity recorded.</p>')
    return "\n".join(parts)


def _equity_points(run: _Run) -> list[_Point]:
    """Equity from the snapshots and from any event payload that carries ``equity``."""
    found: list[tuple[int, int, int, float]] = []
    for order, records in ((0, run.events), (1, run.snapshots)):
        for index, record in enumerate(records):
            source = _payload(record) if order == 0 else record
            value = _number(source.get("equity"))
            if value is not None:
                found.append((_int(record.get("ts_sim")), order, index, value))
    found.sort()
    points: list[_Point] = []
    for ts_sim, _, _, value in found:
        if points:  # equity holds until the next record: draw a step, not a ramp
            points.append(_Point(ts_sim=ts_sim, value=points[-1].value))
        points.append(_Point(ts_sim=ts_sim, value=value))
    return points


# --- SVG -----------------------------------------------------------------------------


def _svg_open(width: int, height: int, label: str, *, arrow: bool = False) -> str:
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
        f'aria-label="{_e(label)}">{defs}'
    )


def _duration(ns: int) -> str:
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


def _chart(
    label: str,
    lines: list[tuple[str, str, list[_Point]]],
    markers: list[_Marker],
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
    plot_w = _WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT
    plot_h = _HEIGHT - _MARGIN_TOP - _MARGIN_BOTTOM

    def px(ts_sim: int) -> float:
        return _MARGIN_LEFT + (ts_sim - x_low) / (x_high - x_low) * plot_w

    def py(value: float) -> float:
        return _MARGIN_TOP + (y_high - value) / (y_high - y_low) * plot_h

    parts = [_svg_open(_WIDTH, _HEIGHT, label)]
    bottom = _MARGIN_TOP + plot_h
    for value in _ticks(y_low, y_high):
        y = py(value)
        parts.append(
            f'<line x1="{_MARGIN_LEFT}" x2="{_WIDTH - _MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#f3f4f6"/><text x="{_MARGIN_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{_e(f"{value:.6g}")}</text>'
        )
    for index, ts in enumerate(_ticks(x_low, x_high)):
        anchor = "start" if index == 0 else "end" if index == _TICKS - 1 else "middle"
        parts.append(
            f'<text x="{px(round(ts)):.1f}" y="{bottom + 16}" text-anchor="{anchor}">'
            f"+{_duration(round(ts) - x_low)}</text>"
        )
    parts.append(
        f'<rect x="{_MARGIN_LEFT}" y="{_MARGIN_TOP}" width="{plot_w}" height="{plot_h}" '
        'fill="none" stroke="#d1d5db"/>'
    )
    for name, colour, points in lines:
        path = " ".join(f"{px(p.ts_sim):.1f},{py(p.value):.1f}" for p in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6">'
            f"<title>{_e(name)}</title></polyline>"
        )
    parts.extend(_marker_svg(m, px(m.ts_sim), py(m.value)) for m in markers)
    parts.append("</svg>")
    return "".join(parts)


def _marker_svg(marker: _Marker, x: float, y: float) -> str:
    colour = _BUY if marker.side == "BUY" else _SELL
    title = f"<title>{_e(marker.label)}</title>"
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
