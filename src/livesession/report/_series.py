"""The series the charts draw: closes, order markers, positions and equity over sim time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from .._artifacts.runread import equity_readings, finite_decimal, payload, replay_fills
from .._domain.model import FILL_EVENT_TYPES
from ._reading import ts_sim_of

if TYPE_CHECKING:
    from decimal import Decimal

    from ._reading import ReportRun

__all__ = ["Marker", "Point", "closes", "equity_points", "number", "order_markers", "positions"]


@attrs.frozen(kw_only=True)
class Point:
    """One point of a line: a value at a simulated time."""

    ts_sim: int
    value: float


@attrs.frozen(kw_only=True)
class Marker:
    """An order drawn on a price chart."""

    ts_sim: int
    value: float
    kind: str  # "submit", "fill", "reject"
    side: str
    label: str


def number(value: object) -> float | None:
    """``value`` (a decimal string or an integer) as a float, or None."""
    found = finite_decimal(value, allow_int=True)
    return None if found is None else float(found)


def closes(run: ReportRun) -> dict[str, list[Point]]:
    """The close of every bar, by symbol."""
    series: dict[str, list[Point]] = {}
    for ts_sim, bar in run.of_type("BAR"):
        close = number(bar.get("close"))
        if close is not None:
            series.setdefault(str(bar.get("symbol")), []).append(Point(ts_sim=ts_sim, value=close))
    return series


def order_markers(run: ReportRun, closes: dict[str, list[Point]]) -> dict[str, list[Marker]]:
    """Submits at the last close before them, fills at their price, rejects at the last close."""
    orders: dict[str, dict[str, Any]] = {}
    markers: dict[str, list[Marker]] = {}

    def last_close(symbol: str, ts_sim: int) -> float | None:
        before = [p.value for p in closes.get(symbol, []) if p.ts_sim <= ts_sim]
        return before[-1] if before else None

    for event in run.events:
        kind, fields, ts_sim = event.get("event_type"), payload(event), ts_sim_of(event)
        coid = str(fields.get("client_order_id", ""))
        if kind == "ORDER_SUBMITTED":
            orders[coid] = fields
        order = orders.get(coid, {})
        symbol = str(fields.get("symbol", order.get("symbol", "")))
        side = str(fields.get("side", order.get("side", "")))
        if kind in FILL_EVENT_TYPES:
            value = number(fields.get("price"))
            label = f"{kind} {side} {fields.get('quantity')} @ {fields.get('price')} ({coid})"
            marker_kind = "fill"
        elif kind in ("ORDER_SUBMITTED", "ORDER_REJECTED"):
            value = number(fields.get("limit_price")) or last_close(symbol, ts_sim)
            label = f"{kind} {side} {fields.get('quantity', order.get('quantity', ''))} ({coid})"
            if kind == "ORDER_REJECTED":
                label += f": {fields.get('reason')}"
            marker_kind = "submit" if kind == "ORDER_SUBMITTED" else "reject"
        else:
            continue
        if value is not None:
            markers.setdefault(symbol, []).append(
                Marker(ts_sim=ts_sim, value=value, kind=marker_kind, side=side, label=label)
            )
    return markers


def positions(run: ReportRun) -> dict[str, list[Point]]:
    """Net position by symbol from the fills, as steps over the run's whole span."""
    series: dict[str, list[Point]] = {}
    held: dict[str, Decimal] = {}
    start, end = run.span()
    for change in replay_fills(run.events, allow_int=True):
        ts_sim = ts_sim_of(change.event)
        points = series.setdefault(change.symbol, [Point(ts_sim=start, value=0.0)])
        held[change.symbol] = change.after
        points.append(Point(ts_sim=ts_sim, value=float(change.before)))  # a step, not a ramp
        points.append(Point(ts_sim=ts_sim, value=float(change.after)))
    for symbol, points in series.items():
        points.append(Point(ts_sim=end, value=float(held[symbol])))
    return series


def equity_points(run: ReportRun) -> list[Point]:
    """Equity from the snapshots and from any event payload that carries ``equity``."""
    found: list[tuple[int, int, int, float]] = []
    for source, index, record, equity in equity_readings(run.events, run.snapshots):
        value = number(equity)
        if value is not None:
            found.append((ts_sim_of(record), source, index, value))
    found.sort()
    points: list[Point] = []
    for ts_sim, _, _, value in found:
        if points:  # equity holds until the next record: draw a step, not a ramp
            points.append(Point(ts_sim=ts_sim, value=points[-1].value))
        points.append(Point(ts_sim=ts_sim, value=value))
    return points
