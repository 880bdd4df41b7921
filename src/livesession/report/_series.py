"""The series the charts draw: closes, order markers, flags and positions over time."""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

import attrs

from .._artifacts.runread import finite_decimal, payload, replay_fills
from .._domain.model import FILL_EVENT_TYPES
from ._reading import ts_sim_of

if TYPE_CHECKING:
    from decimal import Decimal

    from ._reading import ReportRun

__all__ = [
    "Flag",
    "Marker",
    "Point",
    "closes",
    "flags",
    "number",
    "order_markers",
    "positions",
]


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
    kind: str  # "submit", "fill", "reject" (by the broker), "rail" (a risk block)
    side: str
    label: str


@attrs.frozen(kw_only=True)
class Flag:
    """A moment every time chart marks with a vertical line: a kill, a resume, an operator."""

    ts_sim: int
    kind: str  # "kill", "resume", "operator", "fault"
    label: str


#: Events drawn as flags, by the flag kind they are.
_FLAG_EVENTS = {
    "KILL_SWITCH": "kill",
    "KILL_SWITCH_FLAT": "kill",
    "OPERATOR_ACK": "operator",
    "TRADING_REENABLED": "operator",
    "TRADING_STATE_CHANGED": "operator",
    "RECONCILE_ESCALATED": "fault",
    "BROKER_UNHEALTHY": "fault",
    "STRATEGY_ERROR": "fault",
    "FEED_ERROR": "fault",
    "SINK_WRITE_FAILED": "fault",
}


def _flag_label(kind: str, fields: dict[str, Any]) -> str:
    detail = ", ".join(
        f"{key} {fields[key]}"
        for key in ("reason", "operator", "to", "error", "sink", "detail")
        if fields.get(key) not in (None, "")
    )
    return f"{kind}: {detail}" if detail else kind


def flags(run: ReportRun) -> list[Flag]:
    """Kills, resumes (``C2_RESUME`` in the audit), operator actions and faults, in time order.

    A fault is a state change into ``ERROR_REQUIRES_OPERATOR`` or an event that causes one.
    """
    found: list[tuple[int, int, Flag]] = []
    for index, event in enumerate(run.events):
        kind, fields = str(event.get("event_type")), payload(event)
        flag_kind = _FLAG_EVENTS.get(kind)
        if kind == "STATE_CHANGED" and fields.get("to_state") == "ERROR_REQUIRES_OPERATOR":
            flag_kind = "fault"
            kind = f"{fields.get('from_state')} -> ERROR_REQUIRES_OPERATOR"
        if flag_kind is not None:
            label = _flag_label(kind, fields)
            found.append(
                (
                    ts_sim_of(event),
                    index,
                    Flag(ts_sim=ts_sim_of(event), kind=flag_kind, label=label),
                )
            )
    for index, record in enumerate(run.audit):
        if record.get("code") != "C2_RESUME":
            continue
        ts_sim = run.audit_ts_sim(record)
        if ts_sim is None:
            continue
        fields = payload(record)
        label = f"C2_RESUME from step {fields.get('from_step', '?')}"
        torn = fields.get("torn_bytes")
        if isinstance(torn, dict) and any(torn.values()):
            label += (
                " (torn lines cut: "
                + ", ".join(f"{k} {v} B" for k, v in sorted(torn.items()) if v)
                + ")"
            )
        found.append(
            (ts_sim, len(run.events) + index, Flag(ts_sim=ts_sim, kind="resume", label=label))
        )
    found.sort(key=lambda item: (item[0], item[1]))
    return [flag for _, _, flag in found]


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
    """Submits at the last close before them, fills at their price, rejects at the last close.

    Rail blocks (``RISK_REJECTED``) are marked like rejects, at their limit price if any.
    """
    orders: dict[str, dict[str, Any]] = {}
    markers: dict[str, list[Marker]] = {}

    times = {symbol: [p.ts_sim for p in points] for symbol, points in closes.items()}

    def last_close(symbol: str, ts_sim: int) -> float | None:
        index = bisect.bisect_right(times.get(symbol, []), ts_sim)
        return closes[symbol][index - 1].value if index else None

    for event in run.events:
        kind, fields, ts_sim = event.get("event_type"), payload(event), ts_sim_of(event)
        coid = str(fields.get("client_order_id", ""))
        if kind == "ORDER_SUBMITTED":
            orders[coid] = fields
        order = orders.get(coid, {})
        symbol = str(fields.get("symbol", order.get("symbol", "")))
        side = str(fields.get("side", order.get("side", "")))
        if kind == "RISK_REJECTED":
            value = number(fields.get("limit_price")) or last_close(symbol, ts_sim)
            label = f"RISK_REJECTED {fields.get('rule')} {side} {fields.get('quantity', '')}"
            label += f": {fields['reason']}" if fields.get("reason") else ""
            marker_kind = "rail"
        elif kind in FILL_EVENT_TYPES:
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
