"""One pass over a run's events: what the burn-in criteria count, through the causal links.

The links (``signal_id``, ``order_event_id``, ``fill_event_id``; see docs/artifacts.md) let
each trade be walked back to its signal, or to the kill switch or wind-down for a flatten
order, and each OCO leg to the entry fill that placed it.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Final

from .._artifacts.bargaps import BarGaps
from .._artifacts.runread import payload
from .._artifacts.runtime import parse_utc_ns
from .._artifacts.unplayed import unplayed
from .._domain.model import FILL_EVENT_TYPES
from .._rundir.halts import Halts, halt_text, last_turn
from .._rundir.refused import unsealed_because
from ._review import FailurePaths

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Chain"]

_MAX_DEPTH: Final = 8
"""How many OCO generations a trade may trace through (a leg of a leg...)."""


def _elapsed_ns(start: object, end: object) -> int | None:
    """Nanoseconds from the clock reading ``start`` to ``end`` (``ts_utc`` texts), or None."""
    began, ended = parse_utc_ns(start), parse_utc_ns(end)
    if began is None or ended is None or ended < began:
        return None
    return ended - began


class Chain:
    """One pass over a run's events: what the criteria count, through the causal links."""

    def __init__(self, events: Iterable[dict[str, Any]]) -> None:
        self.any_event = False
        self.run_id: object = None
        """The first event's ``run_id``."""
        self.strategy_id: object = None
        """The first event's ``strategy_id``."""
        self.stopped: dict[str, Any] | None = None
        """The last ``SESSION_STOPPED`` event."""
        self.planned: object = None
        """``SESSION_STARTED``'s ``steps_planned``."""
        self.bars = 0
        """The steps the run took (its ``BAR`` events)."""
        self.stop_reason: object = None
        """The reason the stop was asked with (``STATE_CHANGED`` by ``request_stop``)."""
        self.halts = Halts()
        self.paths = FailurePaths()
        """The failure paths the run went through (``FailurePaths.listed``)."""
        self.gaps = BarGaps()
        """Where the run's bars skip time (a gap in the day's data)."""
        self.flat_ns: int | None = None
        """From the kill switch tripping to the first ``KILL_SWITCH_FLAT``, by their ``ts_utc``:
        wall time on a system clock (``time_to_flat_ns`` is run time, ``ts_sim``, on any)."""
        self._kill_utc: object = None
        self.already_flat = False
        """The kill before that ``KILL_SWITCH_FLAT`` found the book flat, no order open: it
        flattened nothing, so its ``time_to_flat_ns`` (0) measured no flatten."""
        self.signals = 0
        self.risk_rejected = 0
        self.trades = 0
        self.decisions: set[str] = set()
        self.orders: dict[str, dict[str, Any]] = {}  # ORDER_SUBMITTED event id -> payload
        self.fills: dict[str, dict[str, Any]] = {}  # fill event id -> payload
        self._signal_ids: set[str] = set()
        self._submitted: Counter[str] = Counter()
        self._legs: dict[str, list[str]] = {}
        self._ended: dict[str, str] = {}
        self._leg_parent: dict[str, str] = {}
        self._fill_events: list[tuple[str, dict[str, Any]]] = []
        for event in events:
            self._note(event)
            self._read(event)
        self.duplicates = sorted(cid for cid, n in self._submitted.items() if n > 1)
        self.full_oco, self.orphans = self._oco(self._legs, self._ended, self._leg_parent)
        self.oco_placed = bool(self._legs)
        """Whether the run submitted any OCO leg (an order of an ``oco_group``)."""
        self.complete, self.exits, self.broken = self._trace(self._fill_events)

    def _note(self, event: dict[str, Any]) -> None:
        """What the criteria need besides the chain: the run, its seal, its kill to flat."""
        kind = event.get("event_type")
        if not self.any_event:
            self.any_event, self.run_id = True, event.get("run_id")
            self.strategy_id = event.get("strategy_id")
        self.halts.note(event)
        self.paths.note(event)
        self.gaps.note(event)
        if kind == "BAR":
            self.bars += 1
        elif kind == "SESSION_STARTED" and self.planned is None:
            self.planned = payload(event).get("steps_planned")
        elif kind == "STATE_CHANGED" and payload(event).get("trigger") == "request_stop":
            self.stop_reason = payload(event).get("reason")
        elif kind == "SESSION_STOPPED":
            self.stopped = event
        elif kind == "KILL_SWITCH" and self.flat_ns is None:
            fields = payload(event)
            self.already_flat = fields.get("flat") is True and fields.get("open_orders") == 0
            if self._kill_utc is None:
                self._kill_utc = event.get("ts_utc")
        elif kind == "KILL_SWITCH_FLAT" and self.flat_ns is None:
            self.flat_ns = _elapsed_ns(self._kill_utc, event.get("ts_utc"))

    def ended(self, stopped_by: str = "", rows: int | None = None) -> list[str]:
        """What a verdict does not say of how the session ended, a line each.

        A stop before its planned steps (SIGTERM, the feed run out), and trading HALTED (the
        run then steps on without trading), for how long and by what. A ``COMPLETED`` run
        can have stopped trading at step 27 of 2,000 (RUNBOOK): a burn-in that says PASS of
        it says so too. ``stopped_by``: the refused write an unsealed run's process logged
        as it stopped (``status``'s ``stopped by``), said rather than a crash. ``rows``: the
        data file's (``run.json``), of which a run that took its planned steps left some.
        """
        fields = payload(self.stopped or {})
        steps, planned = fields.get("steps"), self.planned
        steps = steps if isinstance(steps, int) else self.bars
        lines = []
        why = fields.get("reason") or self.stop_reason
        if isinstance(planned, int) and steps < planned and self.stopped is None:
            lines.append(
                f"the session recorded {steps} of {planned} planned steps and never stopped"
                + (
                    f", unsealed: {unsealed_because(stopped_by)}"
                    if stopped_by
                    else ": its process ended there, unsealed (a crash)"
                )
                + (f", with a stop ({why}) asked" if why else "")
            )
        elif isinstance(planned, int) and steps < planned:
            lines.append(
                f"the session stopped at step {steps} of {planned} planned"
                + (f" ({why})" if why else "")
            )
        elif left := unplayed(rows, steps, planned):
            lines.append(left)
        for halt in self.halts.found:
            left = steps - last_turn(halt)
            to_the_end = f"to the end of the run ({left} of its {steps} steps without a new order)"
            lines.append(f"trading HALTED {halt_text(halt, to_the_end, steps=steps)}")
        gaps = self.gaps.said()
        return [*lines, gaps] if gaps else lines

    def _read(self, event: dict[str, Any]) -> None:
        kind, fields, eid = event.get("event_type"), payload(event), str(event.get("event_id"))
        cid = str(fields.get("client_order_id", ""))
        if kind == "SIGNAL":
            self.signals += 1
            self._signal_ids.add(eid)
        elif kind == "RISK_REJECTED":
            self.risk_rejected += 1
        elif kind == "ORDER_SUBMITTED":
            self._submitted[cid] += 1
            self.orders[eid] = fields
            if "signal_id" in fields:
                self.decisions.add(str(fields["signal_id"]))
            group = fields.get("oco_group")
            if isinstance(group, str):
                self._legs.setdefault(group, []).append(cid)
                self._leg_parent[cid] = str(fields.get("fill_event_id", ""))
        elif kind == "ORDER_REJECTED" and "signal_id" in fields:
            self.decisions.add(str(fields["signal_id"]))
        ended = self._ended
        if kind in FILL_EVENT_TYPES:
            self.trades += 1
            self.fills[eid] = fields
            self._fill_events.append((eid, fields))
            if kind == "ORDER_FILLED":
                ended[cid] = "filled"
            else:
                ended.setdefault(cid, "partial")
        elif kind in ("ORDER_CANCELED", "ORDER_REJECTED") and ended.get(cid) != "filled":
            ended[cid] = "cancelled" if kind == "ORDER_CANCELED" else "rejected"

    def _oco(
        self, legs: dict[str, list[str]], ended: dict[str, str], leg_parent: dict[str, str]
    ) -> tuple[int, list[str]]:
        full = 0
        orphans: list[str] = []
        for group, cids in sorted(legs.items()):
            hit = [cid for cid in cids if ended.get(cid) in ("filled", "partial")]
            if not hit:
                continue
            rest = [cid for cid in cids if cid not in hit]
            orphans += [cid for cid in rest if cid not in ended]
            parents = [self.fills.get(leg_parent.get(cid, "")) for cid in cids]
            from_entry = all(p is not None and p.get("client_order_id") == group for p in parents)
            if (
                from_entry
                and any(ended.get(c) == "filled" for c in hit)
                and all(ended.get(c) == "cancelled" for c in rest)
            ):
                full += 1
        return full, orphans

    def _trace(self, fills: list[tuple[str, dict[str, Any]]]) -> tuple[int, int, list[str]]:
        """How many trades reach a signal, how many a flatten order, and which break."""
        complete = exits = 0
        broken: list[str] = []
        for eid, fields in fills:
            root = self._root(fields, depth=0)
            if root == "signal":
                complete += 1
            elif root == "exit":
                exits += 1
            else:
                broken.append(f"{fields.get('trade_id', eid)} ({root})")
        return complete, exits, broken

    def _root(self, fill: dict[str, Any], *, depth: int) -> str:
        order = self.orders.get(str(fill.get("order_event_id")))
        if order is None:
            return "no order_event_id" if "order_event_id" not in fill else "unknown order"
        if order.get("client_order_id") != fill.get("client_order_id"):
            return "order_event_id names another order"
        if "signal_id" in order:
            return "signal" if order["signal_id"] in self._signal_ids else "unknown signal"
        if "fill_event_id" in order:
            parent = self.fills.get(str(order["fill_event_id"]))
            if parent is None or depth > _MAX_DEPTH:
                return "unknown entry fill"
            return self._root(parent, depth=depth + 1)
        return "exit" if order.get("reduce_only") else "order without signal"
