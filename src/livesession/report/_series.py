"""What the charts draw: lines thinned as they are read, order markers and flags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from .._artifacts.runread import payload
from .._domain.decimal import finite_decimal
from .._domain.lifecycle import SESSION_CLOSED
from .._domain.model import FILL_EVENT_TYPES
from .._domain.reasons import FEED_EXHAUSTED, MAX_STEPS_REACHED
from .._rundir.halts import ACTED_BY
from ._reading import ts_sim_of
from ._svg import PLOT_COLUMNS

if TYPE_CHECKING:
    from ._reading import ReportRun

__all__ = [
    "FLAG_EVENTS",
    "Columns",
    "Flag",
    "Marker",
    "OrderMarkers",
    "Point",
    "acted_by",
    "flags",
    "number",
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
    kind: str  # "kill", "halt", "resume", "operator", "fault"
    label: str
    counted: bool = True
    """False for a mark of one occurrence marked already: the kill switch's flat
    (``KILL_SWITCH_FLAT``) after its ``KILL_SWITCH``, the move into
    ERROR_REQUIRES_OPERATOR after the fault that caused it. The counts are of kills and
    faults, not of lines."""


_SIGNALS_KEPT: Final = 64
"""How many signals awaiting their order's fate ``OrderMarkers`` keeps, at most."""

_STOPPABLE: Final = frozenset({"PREFLIGHT_OK", "DRYRUN_ACTIVE"})
"""The states a ``request_stop`` stops from (the lifecycle's ``request_stop`` transitions)."""

#: Events drawn as flags, by the flag kind they are. ``TRADING_STATE_CHANGED`` is an
#: operator's only into REDUCING (``reduce_only``); into HALTED it is the session's own
#: halt (``_flag_kind``).
FLAG_EVENTS = {
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
    """``kind: reason X, detail (error: ValueError; message: ...)``: what a flag's line says.

    A fault's detail is an object: said as ``key: value`` pairs, not Python's repr of it.
    A strategy's or feed's error names its message with it (``error ValueError: ...``), on
    the line of the event that records it. The report escapes the label where it writes it.
    """
    detail = ", ".join(
        f"{key} {_readable(fields[key])}" + acted_by(fields[key]) + _message(key, fields)
        for key in ("reason", "operator", "to", "error", "sink", "detail")
        if fields.get(key) not in (None, "")
    )
    return f"{kind}: {detail}" if detail else kind


def _message(key: str, fields: dict[str, Any]) -> str:
    """``: <message>`` after an ``error`` whose event records its message; else ""."""
    message = fields.get("message")
    return f": {_readable(message)}" if key == "error" and message not in (None, "") else ""


def _readable(value: object) -> str:
    """A recorded value as text: a string as it is, an object as ``(key: value; ...)``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "(" + "; ".join(f"{key}: {_readable(item)}" for key, item in value.items()) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_readable(item) for item in value) + "]"
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def acted_by(name: object) -> str:
    """`` (livesession kill (the signal SIGUSR1))`` for a name a reviewer cannot read, or ""."""
    words = ACTED_BY.get(name) if isinstance(name, str) else None
    return "" if words is None else f" ({words})"


def _flag_kind(kind: str, fields: dict[str, Any]) -> str | None:
    """The flag an event is, or None.

    Trading HALTED by ``TRADING_STATE_CHANGED`` is the session's own doing (the execution
    throttle, an unhealthy broker, a strategy or feed error): a ``halt``, not an operator
    event a reader would attribute to a person. No verb records it: a kill records
    ``KILL_SWITCH``, a re-enable ``TRADING_REENABLED``, ``reduce_only`` a change to
    REDUCING.
    """
    if kind == "TRADING_STATE_CHANGED" and fields.get("to") == "HALTED":
        return "halt"
    return FLAG_EVENTS.get(kind)


def flags(run: ReportRun) -> list[Flag]:
    """Kills, halts, resumes (``C2_RESUME`` in the audit), operator events, faults, in order.

    A fault is a state change into ``ERROR_REQUIRES_OPERATOR`` or an event that causes one.
    """
    found: list[tuple[int, int, Flag]] = []
    fault_at: int | None = None
    for index, event in enumerate(run.events):
        kind, fields = str(event.get("event_type")), payload(event)
        flag_kind = _flag_kind(kind, fields)
        if kind == "STATE_CHANGED" and fields.get("to_state") == "ERROR_REQUIRES_OPERATOR":
            flag_kind = "fault"
            kind = f"{fields.get('from_state')} -> ERROR_REQUIRES_OPERATOR"
        elif kind == "STATE_CHANGED" and _asked_stop(run, fields):
            flag_kind = "operator"
            kind = f"{fields.get('from_state')} -> {fields.get('to_state')}"
        if flag_kind is not None:
            label = _flag_label(kind, fields)
            at = ts_sim_of(event)
            # The move into ERROR_REQUIRES_OPERATOR is the fault marked just before it.
            again = kind == "KILL_SWITCH_FLAT" or (
                kind.endswith("ERROR_REQUIRES_OPERATOR") and fault_at == at
            )
            if flag_kind == "fault":
                fault_at = at
            flag = Flag(ts_sim=at, kind=flag_kind, label=label, counted=not again)
            found.append((at, index, flag))
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
            # Whole steps past the checkpoint as well as a torn last line: bytes, not lines.
            label += (
                " (set aside in .torn files: "
                + ", ".join(f"{k} {_bytes(v)} B" for k, v in sorted(torn.items()) if v)
                + ")"
            )
        found.append(
            (ts_sim, len(run.events) + index, Flag(ts_sim=ts_sim, kind="resume", label=label))
        )
    found.sort(key=lambda item: (item[0], item[1]))
    return [flag for _, _, flag in found]


def _asked_stop(run: ReportRun, fields: dict[str, Any]) -> bool:
    """Whether a ``STATE_CHANGED`` is a stop someone asked for, as the evidence tells them.

    ``request_stop`` out of PREFLIGHT_OK or DRYRUN_ACTIVE (``livesession stop``'s SIGTERM,
    Ctrl-C, a program closing its session early), but not the stops the session makes
    itself: the feed ran out, ``max_steps``, the close once its steps are done.
    """
    if fields.get("trigger") != "request_stop" or fields.get("from_state") not in _STOPPABLE:
        return False
    reason = fields.get("reason")
    if not reason or reason in (FEED_EXHAUSTED, MAX_STEPS_REACHED):
        return False  # a stop records who asked for it: one without a reason says no one
    return reason != SESSION_CLOSED or run.ended_early


def _bytes(value: object) -> str:
    """A count of bytes with thousands marked (anything else as it was recorded)."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def number(value: object) -> float | None:
    """``value`` (a decimal string or an integer) as a float, or None."""
    found = finite_decimal(value, allow_int=True)
    return None if found is None else float(found)


class Columns:
    """A line's points, thinned as they arrive: bounded memory for any length of run.

    Keeps every point while there are at most ``2 * columns + 2`` of them; beyond that,
    the first and the last point and, in each pixel column of ``x_range``, the lowest and
    the highest (the first of equals). That is what ``_svg.thin`` keeps of the whole line,
    so the chart is the same as if every point had been held, and the true extremes of
    every column stay.
    """

    __slots__ = (
        "_bins", "_columns", "_count", "_current", "_end", "_head", "_last", "_low", "_raw",
        "_span", "_start",
    )  # fmt: skip

    def __init__(self, x_range: tuple[int, int], columns: int = PLOT_COLUMNS) -> None:
        low, high = x_range
        self._low, self._span, self._columns = low, max(high - low, 1), columns
        self._raw: list[tuple[int, float]] | None = []
        self._bins: dict[int, list[Any]] = {}
        self._count = 0
        self._head: tuple[int, float] | None = None
        self._last: tuple[int, float] = (0, 0.0)
        # The column the last point fell in, and its ts_sim bounds [start, end): a point
        # inside them updates it without working out its column again.
        self._current: list[Any] = []
        self._start = self._end = 0

    def add(self, ts_sim: int, value: float) -> None:
        """One more point, later in the line than the ones before."""
        index = self._count
        self._count = index + 1
        raw = self._raw
        if raw is not None:
            raw.append((ts_sim, value))
            if len(raw) > 2 * self._columns + 2:
                self._raw = None
            if not index:
                self._head = (ts_sim, value)
        self._last = (ts_sim, value)
        if self._start <= ts_sim < self._end:
            current = self._current
            if value < current[2]:
                current[0:3] = index, ts_sim, value
            elif value > current[5]:
                current[3:6] = index, ts_sim, value
            return
        self._open(index, ts_sim, value)

    def _open(self, index: int, ts_sim: int, value: float) -> None:
        """A point in another column than the last one."""
        low, span, columns = self._low, self._span, self._columns
        at = min(columns - 1, max(0, (ts_sim - low) * columns // span))
        found = self._bins.get(at)
        if found is None:
            found = self._bins[at] = [index, ts_sim, value, index, ts_sim, value]
        elif value < found[2]:
            found[0:3] = index, ts_sim, value
        elif value > found[5]:
            found[3:6] = index, ts_sim, value
        self._current = found
        # ts_sim in [start, end) is in column ``at``; a clamped point never matches.
        self._start = low - (-at * span // columns)
        self._end = low - (-(at + 1) * span // columns)
        if not low <= ts_sim < low + span:
            self._start = self._end = 0

    def __len__(self) -> int:
        """How many points were added (not how many are kept)."""
        return self._count

    def points(self) -> list[Point]:
        """The kept points, in the order they were added."""
        if self._raw is not None:
            return [Point(ts_sim=ts, value=v) for ts, v in self._raw]
        kept: dict[int, tuple[int, float]] = {}
        for bin_ in self._bins.values():
            kept[bin_[0]] = (bin_[1], bin_[2])
            kept[bin_[3]] = (bin_[4], bin_[5])
        if self._head is not None:
            kept[0] = self._head
        if self._count:
            kept[self._count - 1] = self._last
        return [Point(ts_sim=ts, value=v) for _, (ts, v) in sorted(kept.items())]


class OrderMarkers:
    """Submits at the last close before them, fills at their price, rejects at the last close.

    Rail blocks (``RISK_REJECTED``) are marked like rejects, at their limit price if any.
    Fed one event at a time, in order, with the closes as they stand at that event.

    An ``ORDER_REJECTED`` whose send failed (``SEND_FAILED``), or that the venue refused as
    it was sent, follows no ``ORDER_SUBMITTED`` and names no symbol: it takes the symbol and
    side of the ``SIGNAL`` it links (``signal_id``), else the session's ``symbol`` (a
    flatten order links none), else the one symbol with closes. Without this it was
    marked nowhere: the tables counted it and the chart did not.
    """

    def __init__(self, symbol: str = "") -> None:
        self.orders: dict[str, tuple[str, str, object]] = {}
        self.markers: dict[str, list[Marker]] = {}
        self.symbol = symbol
        # The latest signals, by event id, until the order they became is decided: a
        # handful at a time (a signal's order is decided in its step), capped all the same.
        self.signals: dict[str, tuple[str, str, object]] = {}

    def signal(self, event_id: object, fields: dict[str, Any]) -> None:
        """A ``SIGNAL``: what an order that fails to be sent is marked with."""
        signals = self.signals
        signals[str(event_id)] = (
            str(fields.get("symbol", "")),
            str(fields.get("side", "")),
            fields.get("quantity", ""),
        )
        if len(signals) > _SIGNALS_KEPT:
            del signals[next(iter(signals))]

    def _known(
        self, coid: str, fields: dict[str, Any], last_close: dict[str, float]
    ) -> tuple[str, str, object]:
        """(symbol, side, quantity) of the order an event is about, as far as can be told."""
        known = self.orders.get(coid)
        if known is None:
            known = self.signals.pop(str(fields.get("signal_id")), None)
        if known is None:
            only = next(iter(last_close)) if len(last_close) == 1 else ""
            known = (self.symbol or only, "", "")
        return known

    def feed(
        self, kind: str, fields: dict[str, Any], ts_sim: int, last_close: dict[str, float]
    ) -> None:
        """Mark the event if it is an order event (``last_close``: by symbol, so far)."""
        coid = str(fields.get("client_order_id", ""))
        if kind == "ORDER_SUBMITTED":
            self.signals.pop(str(fields.get("signal_id")), None)
            self.orders[coid] = (
                str(fields.get("symbol", "")),
                str(fields.get("side", "")),
                fields.get("quantity", ""),
            )
        known = self._known(coid, fields, last_close)
        symbol = str(fields.get("symbol", known[0]))
        side = str(fields.get("side", known[1]))
        if kind == "RISK_REJECTED":
            value = number(fields.get("limit_price")) or last_close.get(symbol)
            label = f"RISK_REJECTED {fields.get('rule')} {side} {fields.get('quantity', '')}"
            label += f": {fields['reason']}" if fields.get("reason") else ""
            marker_kind = "rail"
        elif kind in FILL_EVENT_TYPES:
            value = number(fields.get("price"))
            label = f"{kind} {side} {fields.get('quantity')} @ {fields.get('price')} ({coid})"
            marker_kind = "fill"
        elif kind in ("ORDER_SUBMITTED", "ORDER_REJECTED"):
            value = number(fields.get("limit_price")) or last_close.get(symbol)
            what = " ".join(str(part) for part in (side, fields.get("quantity", known[2])) if part)
            label = f"{kind} {what} ({coid})" if what else f"{kind} ({coid})"
            if kind == "ORDER_REJECTED":
                label += f": {fields.get('reason')}"
            marker_kind = "submit" if kind == "ORDER_SUBMITTED" else "reject"
        else:
            return
        if value is not None:
            self.markers.setdefault(symbol, []).append(
                Marker(ts_sim=ts_sim, value=value, kind=marker_kind, side=side, label=label)
            )
