"""What ``prom``'s metrics need from one run, read leniently from its files in one pass.

The counters, the replayed positions, the last closes and the equity (``prom``'s module
docstring says what each metric counts); moved out of ``prom.py``, which serves them.
"""

from __future__ import annotations

import copy
import math
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from ._artifacts import names
from ._artifacts.fills import apply_fill
from ._artifacts.marks import MarkedEquity
from ._artifacts.releases import before_0_2
from ._artifacts.runread import _opened, iter_records, json_object, payload
from ._domain.decimal import finite_decimal
from ._support.fsutil import raise_if_refused

if TYPE_CHECKING:
    from ._artifacts.runread import RunCut

__all__ = ["_DAY_NS", "_DECIDED", "_EventFold", "_LatestEquity", "_RunView"]

_DAY_NS: Final = 86_400 * 10**9
_DECIDED: Final = "decided"
"""What ``_RunView.kinds`` counts the strategy's decisions under (not an event type)."""
_OUTCOMES: Final = frozenset({"ORDER_SUBMITTED", "ORDER_REJECTED", "RISK_REJECTED"})
"""The outcome of an intent: the one that carries its ``signal_id`` is the strategy's."""


class _EventFold:
    """What ``events.jsonl`` adds up to, read up to ``offset``: kept between two scrapes.

    ``events.jsonl`` is streamed, never held: ``prom`` runs beside live runs of up to
    ``max_steps`` (a million by default), and its memory must not grow with them. An
    exporter's collector keeps the fold of its last scrape and the next one reads on from
    where it stopped (``_read_events``), not from the start: a run's events are only ever
    appended, and a resume cuts them back no further than the checkpoint a scrape reads to.
    """

    def __init__(self, starting_cash: Decimal | None) -> None:
        self.kinds: Counter[str] = Counter()
        self.risk_blocks: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.closes: dict[str, Decimal] = {}
        self.positions: dict[str, Decimal] = {}
        """The last position of each symbol, in the order the symbols were first filled."""
        self.first: dict[str, Any] | None = None
        self.equity = _LatestEquity()
        self.cash = starting_cash
        self.marks = MarkedEquity(starting_cash)
        self._unlinked = False
        """Written by a release before the links: decisions are found by ``intent_seq``."""
        self._undecided: set[object] = set()
        """Of such a run, the intents a SIGNAL announced that no outcome has decided yet."""
        self.offset = 0
        """The bytes of whole lines taken: where the next scrape reads on."""
        self.last_line = b""
        """The last whole line taken: the file is still the one read when it ends there."""
        self.file: tuple[int, int] | None = None
        """The file read (``st_dev``, ``st_ino``)."""
        self.kept = True
        """Whether a next scrape may read on (not after a line cut short: it reads again)."""

    def continued_by(self, handle: BinaryIO, cash: Decimal | None, limit: int | None) -> bool:
        """Whether reading ``handle`` on from ``offset`` (up to ``limit``) gives its fold.

        The same file (not one moved into its place), the same starting cash (the first
        snapshot), not cut back before what was read, and the last line taken still there.
        """
        if not self.kept or cash != self.cash or self.file != _identity(handle):
            return False
        if limit is not None and limit < self.offset:
            return False
        handle.seek(self.offset - len(self.last_line))
        return handle.read(len(self.last_line)) == self.last_line

    def read(self, handle: BinaryIO, limit: int | None) -> None:
        """Take the records of ``handle`` from ``offset`` on, up to ``limit`` bytes.

        As ``iter_records`` reads them: a line the limit cuts, or a last line without its
        newline (a writer mid-line), is taken as it is, but a next scrape reads again.
        """
        self.file = _identity(handle)
        handle.seek(self.offset)
        position = self.offset
        for line in handle:
            taken = line if limit is None else line[: max(limit - position, 0)]
            if not taken:
                return
            position += len(taken)
            record = json_object(taken.removesuffix(b"\n"))
            if record is not None:
                self._count(record)
            if not taken.endswith(b"\n"):
                self.kept = False
                return
            self.offset, self.last_line = position, taken

    def _count(self, event: dict[str, Any]) -> None:
        """Take one event: its counts, its fill, its equity and its close."""
        if self.first is None:
            self.first = event
            self._unlinked = before_0_2(payload(event).get("version"))  # no signal_id links
        kind = str(event.get("event_type"))
        self.kinds[kind] += 1
        fields = payload(event)
        self._apply(kind, fields)
        apply_fill(self.positions, event)
        self.equity.add(event, fields.get("equity"), source=0)
        self.marks.add(kind, fields, event.get("ts_sim"))

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


def _identity(handle: BinaryIO) -> tuple[int, int]:
    found = os.fstat(handle.fileno())
    return found.st_dev, found.st_ino


def _read_events(
    path: Path, cut: RunCut | None, kept: _EventFold | None, cash: Decimal | None
) -> _EventFold:
    """The fold of ``path`` up to ``cut``: ``kept`` read on when it can be, else a new one."""
    limit = None if cut is None else cut.offsets.get(path.name)
    try:
        handle = _opened(path)
    except OSError as exc:
        raise_if_refused(exc, path)  # raises a refusal; a missing file has no events
        return _EventFold(cash)
    with handle:
        fold = kept if kept is not None and kept.continued_by(handle, cash, limit) else None
        fold = fold or _EventFold(cash)
        try:
            fold.read(handle, limit)
        except OSError as exc:
            raise_if_refused(exc, path)
            fold.kept = False
    return fold


class _RunView:
    """What the metrics need from one run: its events' fold, and its state snapshots.

    ``kept``: the fold an earlier scrape of the run left, read on from where it stopped.
    """

    def __init__(
        self, run_dir: Path, cut: RunCut | None = None, kept: _EventFold | None = None
    ) -> None:
        start = next(iter_records(run_dir / names.SNAPSHOTS, cut), None)
        cash = finite_decimal((start or {}).get("equity"))
        self.fold = fold = _read_events(run_dir / names.EVENTS, cut, kept, cash)
        self.kinds, self.risk_blocks, self.retries = fold.kinds, fold.risk_blocks, fold.retries
        self.closes, self.positions, self._marks = fold.closes, fold.positions, fold.marks
        self._first = fold.first
        self._status: object = None
        self._equity = copy.copy(fold.equity)  # the snapshots' are this scrape's alone
        for snapshot in iter_records(run_dir / names.SNAPSHOTS, cut):
            if self._first is None:
                self._first = snapshot
            self._status = snapshot.get("status")
            self._equity.add(snapshot, snapshot.get("equity"), source=1)

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
