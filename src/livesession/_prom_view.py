"""What ``prom``'s metrics need from one run, read leniently from its files in one pass.

The counters, the replayed positions, the last closes and the equity (``prom``'s module
docstring says what each metric counts); moved out of ``prom.py``, which serves them.
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ._artifacts import names
from ._artifacts.fills import replay_fills
from ._artifacts.marks import MarkedEquity
from ._artifacts.runread import iter_records, payload
from ._domain.decimal import finite_decimal

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._artifacts.runread import RunCut

__all__ = ["_DAY_NS", "_DECIDED", "_LatestEquity", "_RunView"]

_DAY_NS: Final = 86_400 * 10**9
_DECIDED: Final = "decided"
"""What ``_RunView.kinds`` counts the strategy's decisions under (not an event type)."""
_OUTCOMES: Final = frozenset({"ORDER_SUBMITTED", "ORDER_REJECTED", "RISK_REJECTED"})
_BEFORE_LINKS: Final = ("0.0.", "0.1.")
"""The releases that wrote no ``signal_id`` (``SESSION_STARTED``'s ``version``)."""
"""The outcome of an intent: the one that carries its ``signal_id`` is the strategy's."""


class _RunView:
    """What the metrics need from one run, read leniently from its files in one pass.

    ``events.jsonl`` is streamed, never held: ``prom`` runs beside live runs of up to
    ``max_steps`` (a million by default), and its memory must not grow with them.
    """

    def __init__(self, run_dir: Path, cut: RunCut | None = None) -> None:
        self.kinds: Counter[str] = Counter()
        self.risk_blocks: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.closes: dict[str, Decimal] = {}
        self._first: dict[str, Any] | None = None
        self._status: object = None
        self._equity = _LatestEquity()
        start = next(iter_records(run_dir / names.SNAPSHOTS, cut), None)
        self._marks = MarkedEquity(finite_decimal((start or {}).get("equity")))
        self._unlinked = False
        """Written by a release before the links: decisions are found by ``intent_seq``."""
        self._undecided: set[object] = set()
        """Of such a run, the intents a SIGNAL announced that no outcome has decided yet."""
        events = self._counted(iter_records(run_dir / names.EVENTS, cut))
        # The last position of each symbol, in the order the symbols were first filled.
        self.positions: dict[str, Decimal] = {
            change.symbol: change.after for change in replay_fills(events)
        }
        for snapshot in iter_records(run_dir / names.SNAPSHOTS, cut):
            if self._first is None:
                self._first = snapshot
            self._status = snapshot.get("status")
            self._equity.add(snapshot, snapshot.get("equity"), source=1)

    def _counted(self, events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """``events``, each counted on its way to the fills' replay."""
        for event in events:
            if self._first is None:
                self._first = event
                version = str(payload(event).get("version"))
                self._unlinked = version.startswith(_BEFORE_LINKS)
            kind = str(event.get("event_type"))
            self.kinds[kind] += 1
            fields = payload(event)
            self._apply(kind, fields)
            self._equity.add(event, fields.get("equity"), source=0)
            self._marks.add(kind, fields, event.get("ts_sim"))
            yield event

    def _decided(self, kind: str, fields: dict[str, Any]) -> bool:
        """Whether this event decides one of the strategy's intents (see the module's doc)."""
        if not self._unlinked:
            return kind in _OUTCOMES and "signal_id" in fields
        intent = fields.get("intent_seq")
        if kind == "SIGNAL":
            self._undecided.add(intent)
        if kind not in _OUTCOMES or "oco_group" in fields or "leg" in fields:
            return False
        if intent not in self._undecided:
            return False
        self._undecided.discard(intent)
        return True

    def _apply(self, kind: str, fields: dict[str, Any]) -> None:
        if self._decided(kind, fields):
            # The decision on one of the strategy's intents: submitted, refused by a rail,
            # or refused at the send. A protective leg's links to its fill instead, and a
            # flatten order (the wind-down's, the kill switch's) to nothing.
            self.kinds[_DECIDED] += 1
        if kind == "RISK_REJECTED":
            self.risk_blocks[str(fields.get("rule", "unknown"))] += 1
        elif kind == "BROKER_CALL_RETRIED":
            self.retries[str(fields.get("operation", "broker_call"))] += 1
        elif kind.endswith("_RETRIED"):
            self.retries[kind.removesuffix("_RETRIED").lower()] += 1
        elif kind == "BAR":
            close = finite_decimal(fields.get("close"))
            if close is not None:
                self.closes[str(fields.get("symbol"))] = close

    def info(self, directory: str) -> dict[str, str]:
        """``trader_run_info``'s labels; ``run_id`` the directory's name when no record has it."""
        first = self._first or {}
        return {
            "run_id": str(first.get("run_id") or directory),
            "strategy_id": str(first.get("strategy_id", "")),
            "status": str(self._status or "INIT"),
        }

    def positions_open(self) -> int:
        return sum(1 for quantity in self.positions.values() if quantity != 0)

    def heat(self, equity: float) -> float:
        exposure = sum(
            (abs(q) * self.closes.get(symbol, Decimal(0)) for symbol, q in self.positions.items()),
            Decimal(0),
        )
        if exposure == 0:
            return 0.0
        return float(exposure) / equity if equity > 0 else math.inf

    def equity(self) -> tuple[float, float]:
        """Latest equity marked at the last close, and its change since the day began.

        From the records that carry an equity only when the run's cash is not known (no
        first snapshot): then since the first of them of the same simulated day.
        """
        marked = self._marks.result()
        if marked is None:
            return self._equity.result()
        return float(marked[0]), float(marked[1])


class _LatestEquity:
    """The latest equity of a run and the first of its simulated day, kept as records pass.

    Ordered by ``(ts_sim, source)``, events (source 0) before snapshots (source 1) at the
    same time, and in file order among equals: the latest is the last of the greatest, the
    day's first the first of the least within the latest's day. The day only moves forward
    (a record of a later day is the latest at once), so the day's first is reset when it
    does and no record need be kept.
    """

    def __init__(self) -> None:
        self._latest: tuple[int, int, Decimal] | None = None
        self._day_first: tuple[int, int, Decimal] | None = None

    def add(self, record: dict[str, Any], equity: object, *, source: int) -> None:
        """Take ``record`` (its ``ts_sim``) with ``equity``; one without either is skipped."""
        value, ts_sim = finite_decimal(equity), record.get("ts_sim")
        if value is None or not isinstance(ts_sim, int):
            return
        seen = (ts_sim, source, value)
        latest, first = self._latest, self._day_first
        if latest is None or first is None or ts_sim // _DAY_NS > latest[0] // _DAY_NS:
            self._latest = self._day_first = seen
            return
        if ts_sim // _DAY_NS < latest[0] // _DAY_NS:
            return
        if (ts_sim, source) >= latest[:2]:
            self._latest = seen
        if (ts_sim, source) < first[:2]:
            self._day_first = seen

    def result(self) -> tuple[float, float]:
        """``(latest, latest - day's first)``; ``(0.0, 0.0)`` when no record had equity."""
        if self._latest is None or self._day_first is None:
            return 0.0, 0.0
        latest = self._latest[2]
        return float(latest), float(latest - self._day_first[2])
