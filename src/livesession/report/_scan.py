"""One pass over a run directory: everything the report draws, counts and checks.

``events.jsonl`` is read once, in chunks, each line parsed once: its SHA-256 and
``seq`` checked on the way (``_integrity``), bar closes and the replayed book thinned into
pixel columns as they come (``Columns``, ``BookReplay``), order marks placed at the close
standing at that moment, rejects and rails counted. Only the few events the sections
list one by one (preflight checks, state changes, kills, operator actions, faults) are
kept, so memory grows with what happened to the run, not with its length.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts import names
from .._artifacts.bargaps import BarGaps
from .._artifacts.runread import json_object, payload, read_json_object, records_of
from .._artifacts.runtime import LongestGap, stamped_apart
from .._domain.model import FILL_EVENT_TYPES
from .._exceptions import MissingExtra
from .._rundir.flattens import FLATTEN_KINDS
from .._rundir.livecut import live_cut
from .._rundir.seal import claimed_seal
from .._rundir.standing import unbooked_fill
from .._support.fsutil import raise_if_refused
from ..verify._checkpoint import KeptCheckpoint
from ._book import BookReplay, start_equity
from ._integrity import Integrity, LineReader, read_metrics
from ._reading import ReportRun, Tallies, sealing_book, ts_sim_of
from ._series import FLAG_EVENTS, Columns, OrderMarkers

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from .._artifacts.runread import RunCut
    from .._rundir.livecut import LiveRun
    from ..verify import VerifyResult

__all__ = ["scan"]

#: Events the sections list one by one; every other kind is only counted or drawn.
_KEPT: Final = frozenset({*FLAG_EVENTS, "STATE_CHANGED", "SESSION_STARTED", "PREFLIGHT_CHECK"})
_ORDER_KINDS: Final = frozenset(
    {"ORDER_SUBMITTED", "ORDER_FILLED", "ORDER_CANCELED", "ORDER_REJECTED"}
)
"""The events that give an order's terms or close it (the trades' ``why``)."""
#: Events drawn as order marks (fills also move the book), and events only counted.
_MARKED: Final = frozenset(
    {*FILL_EVENT_TYPES, "ORDER_SUBMITTED", "ORDER_REJECTED", "RISK_REJECTED"}
)
_COUNTED: Final = frozenset(
    {"RISK_REJECTED", "ORDER_REJECTED", "PREFLIGHT_CHECK", "BROKER_CALL_RETRIED", "STRATEGY_CANCEL"}
)
_AUDIT_KEPT: Final = frozenset({"C2_RESUME"})
"""Audit records the report shows (as resume flags); the others are only checked."""
_TAIL: Final = 1 << 16
_NO_SPAN: Final = (2**63, -(2**63))


def _ends(path: Path, cut: RunCut | None) -> list[dict[str, Any]]:
    """The first and the last record of a JSON Lines file, read from its two ends.

    Raises:
        OSError: the host refused to read it (``raise_if_refused``).
    """
    limit = None if cut is None else cut.offsets.get(path.name)
    try:
        with path.open("rb") as f:
            head = f.readline(_TAIL)
            size = f.seek(0, 2) if limit is None else limit
            f.seek(max(0, size - _TAIL))
            tail = f.read(size - max(0, size - _TAIL))
    except OSError as exc:
        raise_if_refused(exc, path)
        return []
    return records_of(head)[:1] + records_of(tail)[-1:]


def _x_range(ends: list[dict[str, Any]]) -> tuple[int, int]:
    """The charts' shared x range, from the first and last records (ts_sim only grows)."""
    times = [ts_sim_of(record) for record in ends]
    return (min(times), max(times)) if times else (0, 0)


def _verify(
    run_dir: Path, verify: bool | VerifyResult, live: LiveRun | None
) -> tuple[VerifyResult | None, bool]:
    """The full verdict to show (None: not asked) and whether jsonschema was missing."""
    if verify is False:
        return None, False
    if verify is not True:
        return verify, False
    from ..verify import verify_run  # noqa: PLC0415 - only when asked: it costs seconds

    try:
        return verify_run(run_dir, live=live), False
    except MissingExtra:
        return None, True


def scan(
    run_dir: Path,
    *,
    verify: bool | VerifyResult = False,
    progress: Callable[[int, int], None] | None = None,
) -> ReportRun:
    """Read ``run_dir`` in one pass (and verify it fully only when ``verify`` is True).

    ``verify`` may also be a ``VerifyResult`` the caller has already: it is shown as is.
    ``progress`` is told ``(bytes read, bytes in all)`` of events.jsonl as the pass goes.
    """
    live = live_cut(run_dir) if run_dir.is_dir() else None
    cut = None if live is None else live.cut
    verified, no_schemas = _verify(run_dir, verify, live)
    checks = Integrity()
    snapshots = _snapshots(run_dir, cut, checks)
    config = read_json_object(run_dir / names.CONFIG)
    event_ends = _ends(run_dir / names.EVENTS, cut)
    ends = event_ends + snapshots[:1] + snapshots[-1:]
    x_range = _x_range(ends)
    tallies = Tallies()
    book = BookReplay(start_equity(snapshots, config), x_range)
    closes: dict[str, Columns] = {}
    symbol = config.get("symbol")
    markers = OrderMarkers(symbol if isinstance(symbol, str) else "")
    to = _Pass(tallies, book, closes, markers, checks)
    if stamped_apart(config):
        to.clock = LongestGap()
    _events(run_dir / names.EVENTS, cut, checks, progress, to)
    tallies.longest_gap = None if to.clock is None else to.clock.longest
    tallies.bar_gaps = to.gaps.said()
    metrics, unread = read_metrics(run_dir / names.METRICS, cut)
    audit, last_audit = checks.audit_chain(
        run_dir / names.AUDIT, cut, _AUDIT_KEPT, mark=metrics.get("audit_events")
    )
    run_meta = read_json_object(run_dir / names.RUN_META)
    started = next((e for e in tallies.kept if e.get("event_type") == "SESSION_STARTED"), {})
    kept = KeptCheckpoint(run_dir)  # read once, for each of the questions below
    bars = tallies.kinds.get("BAR", 0)
    checks.recorded(run_dir, payload(started), run_meta, bars=bars, checkpoint=kept)
    # The seal as `status` reads it: the events' SESSION_STOPPED alone is none.
    seal = claimed_seal(run_dir, kept.document()) if live is None and run_dir.is_dir() else None
    if live is None or live.cut.steps:
        # A crashed run's metrics.json is its last checkpoint's while its events go on: its
        # event counts say nothing of the events read (Key metrics show both).
        stopped = "SESSION_STOPPED" in tallies.kinds
        counted = tallies.counted() if stopped or live is not None else None
        checks.closing(
            last_audit,
            metrics,
            live=live is not None,
            counted=counted,
            claimed=seal is not None,
            unread=unread,
        )
    if live is None and last_audit is not None and last_audit.get("code") == "C2_DRYRUN_STOP":
        checks.torn(run_dir, audit)  # a sealed run: every resume counted what it set aside
    times = [*tallies.span, *(ts_sim_of(s) for s in snapshots)]
    run = ReportRun(
        run_dir=run_dir,
        events=tallies.kept,
        snapshots=snapshots,
        metrics=metrics,
        live="" if live is None else live.describe(),
        live_steps=None if live is None else live.cut.steps,
        audit=audit,
        config=config,
        run_meta=run_meta,
        tallies=tallies,
        last_event=event_ends[-1] if event_ends else {},
        span=(min(times), max(times)) if times else (0, 0),
        closes={symbol: line.points() for symbol, line in closes.items()},
        markers=markers.markers,
        book=book.finish(),
        integrity=checks,
        verified=verified,
        no_schemas=no_schemas,
        sealed=seal is not None and seal.whole,
        seal_doubt="" if seal is None else seal.doubt,
        sealing_book=None if seal is None else sealing_book(run_dir, kept.document()),
        position_in_doubt="" if seal is None else unbooked_fill(run_dir, kept.document()),
    )
    steps = {payload(r).get("from_step") for r in audit if r.get("code") == "C2_RESUME"}
    if steps and run.clock_span is not None:
        run.bar_times = _bar_times(run_dir / names.EVENTS, cut, steps)
    return run


def _bar_times(path: Path, cut: RunCut | None, steps: set[Any]) -> dict[int, int]:
    """``ts_sim`` of the ``BAR`` that ended each of ``steps``.

    A second read, and a rare one: resumes under a wall clock, whose records' times do not
    place them on the simulated axis.
    """
    found: dict[int, int] = {}
    bars = 0
    try:
        for line in LineReader(path, cut):
            if b'"BAR"' not in line:
                continue
            record = json_object(line)
            if record is None or record.get("event_type") != "BAR":
                continue
            bars += 1
            if bars in steps:
                found[bars] = ts_sim_of(record)
                if len(found) == len(steps):
                    break
    except OSError:
        pass  # the pass has said what it could not read
    return found


def _snapshots(run_dir: Path, cut: RunCut | None, checks: Integrity) -> list[dict[str, Any]]:
    path = run_dir / names.SNAPSHOTS
    reader = LineReader(path, cut)
    snapshots: list[dict[str, Any]] = []
    number = 0
    try:
        for number, line in enumerate(reader, start=1):
            record = json_object(line)
            if record is None:
                checks.add(names.SNAPSHOTS, number, "not a JSON object")
                continue
            checks.seq(names.SNAPSHOTS, number, record)
            snapshots.append(record)
    except OSError as exc:
        raise_if_refused(exc, path)
        checks.missing(names.SNAPSHOTS)
    checks.check_ends(names.SNAPSHOTS, reader, number)
    checks.lines[names.SNAPSHOTS] = number
    checks.sha256[names.SNAPSHOTS] = reader.digest.hexdigest()
    return snapshots


class _Pass:
    """Where each event goes: the tallies, the book, the close lines, the order marks."""

    def __init__(
        self,
        tallies: Tallies,
        book: BookReplay,
        closes: dict[str, Columns],
        markers: OrderMarkers,
        checks: Integrity,
    ) -> None:
        self.tallies, self.book, self.closes, self.markers = tallies, book, closes, markers
        self.last_close: dict[str, float] = {}
        self.x_range = book.x_range
        self.checks = checks
        self.kinds = tallies.kinds
        self.bars = 0
        self.low, self.high = _NO_SPAN
        self.clock: LongestGap | None = None
        """The records timed by a clock that is not the run's time (``stamped_apart``)."""
        self.gaps = BarGaps()
        """Where the bars skip time (a gap in the run's data)."""

    def event(self, number: int, event: dict[str, Any]) -> None:
        """One event, the ``number``th line of events.jsonl."""
        get = event.get
        self.checks.seq(names.EVENTS, number, event)
        ts = at = get("ts_sim")
        if type(ts) is not int:
            ts = 0
        if self.clock is not None:
            self.clock.note(event)
        self.high = max(self.high, ts)
        self.low = min(self.low, ts)
        fields = get("payload")
        if type(fields) is not dict:
            fields = {}
        kind = get("event_type")
        if kind == "BAR":
            self.bars += 1
            self.gaps.bar(at)
            self.bar(fields, ts)
            return
        kind = str(kind)
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        self.other(kind, event, fields, ts)

    def finish(self) -> None:
        """Put the bars' count and the span where the report reads them."""
        if self.bars:
            self.kinds["BAR"] = self.kinds.get("BAR", 0) + self.bars
        if self.low <= self.high:
            self.tallies.span = [self.low, self.high]

    def bar(self, fields: dict[str, Any], ts_sim: int) -> None:
        """A bar: its close on the close line and in the book."""
        raw = fields.get("close")
        if type(raw) is not str and type(raw) is not int:  # a decimal's text, or an integer
            return
        try:
            value, close = float(raw), Decimal(raw)
        except (ValueError, ArithmeticError):
            return
        if not math.isfinite(value):
            return
        symbol = str(fields.get("symbol"))
        line = self.closes.get(symbol)
        if line is None:
            line = self.closes[symbol] = Columns(self.x_range)
        line.add(ts_sim, value)
        self.last_close[symbol] = value
        self.book.bar(symbol, close, ts_sim)

    def other(self, kind: str, event: dict[str, Any], fields: dict[str, Any], ts: int) -> None:
        """Any event but a bar: marked, replayed, counted or kept, as its kind asks."""
        if kind in _MARKED:
            if kind in FILL_EVENT_TYPES:
                self.book.fill(event)
                if fields.get("after_cancel"):
                    self.tallies.late_fills += 1
            self.markers.feed(kind, fields, ts, self.last_close)
        elif kind == "SIGNAL":
            self.markers.signal(event.get("event_id"), fields)
        if kind in _ORDER_KINDS:
            self.book.order(kind, fields)
        if kind in _COUNTED:
            self.tallies.count(kind, fields, ts)
        if kind in FLATTEN_KINDS:
            self.tallies.flattens.note(kind, event, self.bars)
        if kind in _KEPT:
            self.tallies.kept.append(event)


def _events(
    path: Path,
    cut: RunCut | None,
    checks: Integrity,
    progress: Callable[[int, int], None] | None,
    to: _Pass,
) -> None:
    total = 0
    if progress is not None:
        try:
            limit = None if cut is None else cut.offsets.get(path.name)
            total = path.stat().st_size if limit is None else limit
        except OSError:
            total = 0
    done = 0

    def read(size: int) -> None:
        nonlocal done
        done += size
        if progress is not None:
            progress(done, total)

    reader = LineReader(path, cut, read)
    loads, decode_error, event_of = orjson.loads, orjson.JSONDecodeError, to.event
    number = 0
    try:
        for number, line in enumerate(reader, start=1):
            try:
                event = loads(line)
            except decode_error:
                event = None
            if type(event) is dict:
                if number == 1 or not to.tallies.first:
                    to.tallies.first = event
                event_of(number, event)
            else:
                checks.add(names.EVENTS, number, "not a JSON object")
    except OSError as exc:
        raise_if_refused(exc, path)
        checks.missing(names.EVENTS)
    to.finish()
    checks.check_ends(names.EVENTS, reader, number)
    checks.lines[names.EVENTS] = number
    checks.sha256[names.EVENTS] = reader.digest.hexdigest()
