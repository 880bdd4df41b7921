"""What the report reads from a run directory: leniently, so broken runs still render."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._artifacts.runread import payload
from .._artifacts.runtime import (
    NS_PER_S,
    clock_ends,
    on_the_wall,
    own_offset_ns,
    parse_utc_ns,
    run_time,
    ts_sim_of,
)
from .._artifacts.unplayed import file_rows, unplayed
from .._domain.lifecycle import ended_early
from .._domain.model import FILL_EVENT_TYPES
from .._exceptions import LiveSessionError
from .._rundir.flattens import WindDownFlattens
from .._rundir.halts import HALTED_BY, faulted_in_wind_down, left_for_an_operator
from .._rundir.nextwords import reason_next
from .._rundir.resumable import checked_checkpoint
from .._rundir.resumes import Resumes, resumed_from
from .._rundir.standing import book

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ..verify import VerifyResult
    from ._book import Book
    from ._integrity import Integrity
    from ._series import Marker, Point

__all__ = ["ReportRun", "Tallies", "parse_utc_ns", "ts_sim_of"]


@attrs.define
class Tallies:
    """What the pass counts rather than keeps: kinds, rails, rejects, retries."""

    kinds: dict[str, int] = attrs.Factory(dict)
    """Events by ``event_type``."""
    kept: list[dict[str, Any]] = attrs.Factory(list)
    """The events the sections list one by one, in order."""
    first: dict[str, Any] = attrs.Factory(dict)
    """The first event that parsed."""
    span: list[int] = attrs.Factory(list)
    """The lowest and highest ``ts_sim`` of the events (empty: none)."""
    rails: dict[str, list[int]] = attrs.Factory(dict)
    """By rule: ``[times, first ts_sim, last ts_sim]``."""
    rejects: Counter[tuple[str, str]] = attrs.Factory(Counter)
    """By ``(source, reason)``: risk rules, broker reasons, failed preflight checks."""
    retries: Counter[str] = attrs.Factory(Counter)
    """``BROKER_CALL_RETRIED`` by operation."""
    late_fills: int = 0
    """Fills the venue reported after the order's cancel (``after_cancel``)."""
    cancels: Counter[str] = attrs.Factory(Counter)
    """The strategy's cancels (``STRATEGY_CANCEL``) by ``outcome``."""
    flattens: WindDownFlattens = attrs.Factory(WindDownFlattens)
    """The session's own flatten orders as the run wound down (not a kill's)."""
    longest_gap: tuple[int, int, int] | None = None
    """On a clock not the simulated time: the longest time by it from one event to the
    next, as ``(nanoseconds, the bars up to the later one, its ts_utc in epoch ns)``."""
    bar_gaps: str = ""
    """Where the bars skip time (``BarGaps.said``), or "" where they never do."""

    def counted(self) -> dict[str, Any]:
        """The counts metrics.json holds, as the events give them (once the pass is over).

        ``late_fills`` is in metrics.json only once it is non-zero, as the collector writes it.
        """
        kinds = self.kinds
        return {
            "steps": kinds.get("BAR", 0),
            "orders_submitted": kinds.get("ORDER_SUBMITTED", 0),
            "fills": sum(kinds.get(kind, 0) for kind in FILL_EVENT_TYPES),
            "sink_retries": kinds.get("SINK_WRITE_RETRIED", 0),
            "late_fills": self.late_fills,
            "events_by_type": dict(sorted(kinds.items())),
        }

    def count(self, kind: str, fields: dict[str, Any], ts_sim: int) -> None:
        """Count one event that is not a bar."""
        if kind == "RISK_REJECTED":
            rule = str(fields.get("rule", "(none)"))
            self.rejects["risk rule", rule] += 1
            fired = self.rails.get(rule)
            if fired is None:
                self.rails[rule] = [1, ts_sim, ts_sim]
            else:
                fired[0] += 1
                fired[2] = ts_sim
        elif kind == "ORDER_REJECTED":
            self.rejects["broker", str(fields.get("reason", "(none)"))] += 1
        elif kind == "PREFLIGHT_CHECK" and fields.get("passed") is False:
            self.rejects["preflight", f"{fields.get('check')}: {fields.get('reason')}"] += 1
        elif kind == "BROKER_CALL_RETRIED":
            self.retries[str(fields.get("operation"))] += 1
        elif kind == "STRATEGY_CANCEL":
            self.cancels[str(fields.get("outcome"))] += 1

    def cancels_text(self) -> str:
        """How many cancels the strategy asked for, and what became of each (by outcome).

        A no-op (``NOT_OPEN``, ``ALREADY_REQUESTED``) or a failure is no cancel sent.
        """
        outcomes = ", ".join(f"{n} {what}" for what, n in sorted(self.cancels.items()))
        return f"{self.cancels.total()} ({outcomes})"


_ENDINGS: Final = {"request_stop": "stopped", "fault": "faulted", "preflight_failed": "rejected"}
"""The transitions that end a run, and how the header says each."""


def _why(change: dict[str, Any]) -> str:
    """`` (RuntimeError: model file missing)``: the fault's error and message, as the evidence.

    The header said only ``faulted: STRATEGY_ERROR``, while the CLI's line, ``status``'s
    next step and the evidence's "Run ended" named the error and its message: a reviewer
    reading the report alone saw no cause.
    """
    detail = change.get("detail")
    if not isinstance(detail, dict):
        return ""
    why = ": ".join(str(detail[key]) for key in ("error", "message") if detail.get(key))
    return f" ({why})" if why else ""


@attrs.define(kw_only=True)
class ReportRun:
    """What the report needs, read leniently from the run directory in one pass."""

    run_dir: Path
    events: list[dict[str, Any]]
    """Only the events listed one by one (see ``_scan``); the rest are in ``tallies``."""
    snapshots: list[dict[str, Any]]
    metrics: dict[str, Any]
    live: str = ""
    """Empty, or (for a run a process is writing now) who and up to which checkpoint."""
    live_steps: int | None = None
    """For a live run, the step of the checkpoint it is read up to (0: none yet, nothing is
    read); None for a run no process is writing."""
    audit: list[dict[str, Any]] = attrs.Factory(list)
    """The audit records the report shows: the resumes (``C2_RESUME``)."""
    config: dict[str, Any] = attrs.Factory(dict)
    """``config.json``: the effective config, its plug-in ``sources``; ``{}`` when missing."""
    run_meta: dict[str, Any] = attrs.Factory(dict)
    """``run.json``: config hash, version, data file; ``{}`` when missing."""
    tallies: Tallies = attrs.Factory(Tallies)
    last_event: dict[str, Any] = attrs.Factory(dict)
    """The last record of events.jsonl (read from its end): its clock against the first's."""
    bar_times: dict[int, int] = attrs.Factory(dict)
    """``ts_sim`` of the steps resumes started from, read only under a clock that is not
    simulated time (``audit_ts_sim``)."""
    span: tuple[int, int] = (0, 0)
    """First and last ts_sim of the run: the x range every chart shares."""
    closes: dict[str, list[Point]] = attrs.Factory(dict)
    """The close of every bar by symbol, thinned to the chart's pixel columns."""
    markers: dict[str, list[Marker]] = attrs.Factory(dict)
    """Order marks by symbol."""
    book: Book
    integrity: Integrity
    """What the report's own pass checked, and found."""
    verified: VerifyResult | None = None
    """The full verifier's verdict, when it was asked for or handed in."""
    no_schemas: bool = False
    """Full verification was asked for, but ``jsonschema`` (a dependency) is missing."""
    sealed: bool = False
    """Whether the run is sealed, read as ``status`` reads the seal (``_rundir.seal``).

    The events' ``SESSION_STOPPED`` alone is no seal. Until the seal the last state
    snapshot is that of the last transition (the activation, at step 0, for a run that
    crashed while trading), and metrics.json is that of the last checkpoint: what an
    unsealed run did is in its events only.
    """
    seal_doubt: str = ""
    """What the files lack for the seal they claim ("" when none is claimed or they bear it
    out): ``the seal is not borne out: audit.jsonl does not end with C2_DRYRUN_STOP``."""
    sealing_book: dict[str, Any] | None = None
    """A sealed run's checkpoint's ``book`` (None: none there, or not a checkpoint this release
    reads), as the pass read the checkpoint: the open orders the seal left."""
    position_in_doubt: str = ""
    """A sealed run's fills the venue made that the book did not take, as ``status`` says
    them (``BROKER_REPORT_INVALID``, ``FILL_NOT_SEEN``): its final position is the book's."""

    @classmethod
    def load(
        cls,
        run_dir: Path,
        *,
        verify: bool | VerifyResult = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> ReportRun:
        """Read ``run_dir`` in one pass; see ``_scan.scan``.

        A live run (a process holds its writer lock) is read, and checked, up to its last
        checkpoint: the same cut for both, and the lock is never taken.
        """
        from ._scan import scan  # noqa: PLC0415 - the pass builds this class

        return scan(run_dir, verify=verify, progress=progress)

    def _first(self, key: str) -> str:
        for record in (self.tallies.first, *self.snapshots[:1], self.metrics):
            if key in record:
                return str(record[key])
        return "(unknown)"

    @property
    def run_id(self) -> str:
        """The run id, from the first record that has one."""
        return self._first("run_id")

    @property
    def strategy_id(self) -> str:
        """The strategy id, from the first record that has one."""
        return self._first("strategy_id")

    @property
    def status(self) -> str:
        """The status of the last snapshot, else of the metrics."""
        if self.snapshots and "status" in self.snapshots[-1]:
            return str(self.snapshots[-1]["status"])
        return str(self.metrics.get("status", "(unknown)"))

    @property
    def resumed(self) -> str:
        """``2 times, the last from step 200``, as ``status`` says it; "" for none."""
        resumes = [payload(record) for record in self.audit if record.get("code") == "C2_RESUME"]
        if not resumes:
            return ""
        return Resumes(count=len(resumes), last_from=resumed_from(resumes[-1])).says()

    @property
    def steps_recorded(self) -> int:
        """The steps the events record: their ``BAR`` events."""
        return self.tallies.kinds.get("BAR", 0)

    @property
    def ending(self) -> str:
        """Its steps and what ended it: ``18,056 of 300,000 steps, stopped: SIGNAL_SIGTERM``.

        A sealed run's steps are the last snapshot's; an unsealed run's are the ``BAR``
        events, said as of the last recorded step (``as of step 500 of 6,000 (the last
        step recorded)``), never as an end. The reason is that of the last stop or fault
        (``STATE_CHANGED``); a stop's only when the run ended early (``ended_early``: a run
        that ran all its steps says none, neither ``session closed`` nor ``max_steps
        reached``, as the evidence says it).
        """
        steps, planned = self._steps_of_planned()
        if not isinstance(steps, int):
            return ""
        text = f"{steps:,} of {planned:,} steps" if isinstance(planned, int) else f"{steps:,} steps"
        if not self.sealed:
            of = f" of {planned:,}" if isinstance(planned, int) else ""
            text = f"as of step {steps:,}{of} (the last step recorded)"
        early = ended_early(steps, planned)
        reason = ""
        change = self._ended_by()
        if change is not None:
            trigger = change.get("trigger")
            reason = str(change.get("reason") or "")
            if reason and (early or trigger != "request_stop"):
                text += f", {_ENDINGS[str(trigger)]}: {reason}{_why(change)}"
        return text + self._left(reason) + self._killed()

    def _ended_by(self) -> dict[str, Any] | None:
        """The payload of the last ``STATE_CHANGED`` that ends a run (``_ENDINGS``), or None."""
        for event in reversed(self.events):
            change = payload(event)
            if event.get("event_type") == "STATE_CHANGED" and change.get("trigger") in _ENDINGS:
                return change
        return None

    @property
    def next_step(self) -> str:
        """``status``'s next step for a sealed run its reason decides (``reason_next``), or "".

        A run its strategy's error sealed ``FAILED`` (wound down, nothing in doubt): status
        said where the error and its traceback are and to start a new run, and the report
        said nothing after the fault.
        """
        last = self.snapshots[-1] if self.sealed and self.snapshots else {}
        change = self._ended_by()
        if change is None or last.get("status") != "FAILED" or change.get("trigger") != "fault":
            return ""
        if last.get("fsm_state") == "ERROR_REQUIRES_OPERATOR":
            return ""  # status's verdict is NEEDS_OPERATOR: ``_left`` says it
        # Named RUN_DIR, as the report's other commands: the report is read where it is moved.
        return reason_next("FAILED", change.get("reason"), "RUN_DIR")

    def _steps_of_planned(self) -> tuple[object, object]:
        """The steps run (a sealed run's last snapshot's, else the ``BAR`` events) and planned."""
        if self.sealed:
            steps = self.snapshots[-1].get("step") if self.snapshots else None
        else:
            steps = self.steps_recorded if self.tallies.first else None
        planned = next(
            (
                payload(event).get("steps_planned")
                for event in self.events
                if event.get("event_type") == "SESSION_STARTED"
            ),
            None,
        )
        return steps, planned

    @property
    def unplayed(self) -> str:
        """What a run that took its planned steps left of its data file (``unplayed``), or ""."""
        return unplayed(file_rows(self.run_meta), *self._steps_of_planned())

    @property
    def ended_early(self) -> bool:
        """Whether the run ended before its planned steps (``ended_early``)."""
        return ended_early(*self._steps_of_planned())

    def _left(self, reason: str) -> str:
        """``; left in ERROR_REQUIRES_OPERATOR, not wound down: ...`` of a run sealed there.

        Such a run (a reconciliation escalated, a broker report it cannot book) was sealed
        without cancelling or flattening: the evidence and ``status`` say so, and a header
        reading ``faulted: RECONCILE_MISMATCH`` alone read as a strategy error's, wound down.
        One a stop's wind-down the venue did not confirm left there (``reason``
        ``STOP_INCOMPLETE``) did wind down, and is said so (``left_for_an_operator``); so is
        one that faulted in its wind-down (``faulted_in_wind_down``), in the words of
        ``wind_down_words``: the CLI's, ``status``'s and the evidence's.
        """
        last = self.snapshots[-1] if self.sealed and self.snapshots else {}
        if last.get("fsm_state") != "ERROR_REQUIRES_OPERATOR":
            return ""
        return f"; {left_for_an_operator(reason, faulted_in_wind_down(reason, self.snapshots))}"

    def _killed(self) -> str:
        """``; KILLED: trading HALTED by the kill switch (DAILY_LOSS) from ... to the end``.

        A run the kill switch halted for good said only ``COMPLETED, 600 of 600 steps``: a
        reviewer read a run that stopped trading at step 428 as one that ran to its end. So
        did a ``COMPLETED`` run the session halted itself (the execution throttle, a broker
        halt) and no operator re-enabled: ``; HALTED: trading HALTED by the execution
        throttle (EXECUTION_THROTTLE) from ... to the end``, as the evidence says it.
        """
        kill: dict[str, Any] | None = None
        halt: dict[str, Any] | None = None
        for event in self.events:
            kind = event.get("event_type")
            if kind == "KILL_SWITCH" and kill is None:
                kill = event
            elif kind == "TRADING_STATE_CHANGED" and payload(event).get("to") == "HALTED":
                halt = halt or event
            elif kind == "TRADING_REENABLED":
                kill = halt = None  # an operator lifted it: trading went on
        if kill is not None:
            reason = payload(kill).get("reason") or "no reason recorded"
            at = self._run_time(kill)
            return f"; KILLED: trading HALTED by the kill switch ({reason}) from {at} to the end"
        if halt is None or self.status != "COMPLETED":
            return ""  # a faulted run's halt is its fault's, which the ending names
        reason = str(payload(halt).get("reason") or "")
        by = HALTED_BY.get(reason, "the session")
        said = f" ({reason})" if reason else ""
        return f"; HALTED: trading HALTED by {by}{said} from {self._run_time(halt)} to the end"

    @property
    def lifted_halts(self) -> list[str]:
        """Each halt an operator lifted, by what, from when, by whom, until when.

        ``trading HALTED by the kill switch (SIGNAL_SIGUSR1) from ... until SIGNAL_SIGUSR2
        re-enabled it at ...``: the header's ending names only a halt that lasted.
        """
        lifted: list[str] = []
        start: dict[str, Any] | None = None
        for event in self.events:
            kind, body = event.get("event_type"), payload(event)
            halts = kind == "TRADING_STATE_CHANGED" and body.get("to") == "HALTED"
            if start is None and (kind == "KILL_SWITCH" or halts):
                start = event
            elif kind == "TRADING_REENABLED" and start is not None:
                why = payload(start).get("reason") or "no reason recorded"
                killed = start.get("event_type") == "KILL_SWITCH"
                by = "the kill switch" if killed else HALTED_BY.get(str(why), "the session")
                who = body.get("operator") or "an operator"
                lifted.append(
                    f"trading HALTED by {by} ({why}) from {self._run_time(start)} until {who} "
                    f"re-enabled it at {self._run_time(event)}"
                )
                start = None
        return lifted

    def _run_time(self, event: dict[str, Any]) -> str:
        """When ``event`` happened in the run's time, as every time in the report (``run_time``)."""
        return run_time(event, self.utc_offset_ns)

    def of_type(self, *event_types: str) -> list[tuple[int, dict[str, Any]]]:
        """(ts_sim, payload) of the events of the given types, in order."""
        return [
            (ts_sim_of(event), payload(event))
            for event in self.events
            if event.get("event_type") in event_types
        ]

    def _clock_ends(self) -> list[tuple[int, int]]:
        """(``ts_utc``, ``ts_sim``) of the run's first and last records that stamp both."""
        return clock_ends(
            (self.tallies.first, *self.snapshots[:1], self.last_event, *self.snapshots[-1:])
        )

    @property
    def utc_offset_ns(self) -> int:
        """What to add to ``ts_sim`` for UTC nanoseconds since the epoch (``own_offset_ns``).

        Offset 0 for a wall or fixed clock: the run's own (simulated) time, with the
        clock's times said apart (``clock_span``).
        """
        if self._wall_clock:
            return 0
        return own_offset_ns(self._clock_ends())

    @property
    def _wall_clock(self) -> bool:
        """The run says its clock was the wall's (``on_the_wall``, ``status``'s rule too)."""
        return on_the_wall(self.config, self.tallies.first)

    @property
    def clock_span(self) -> tuple[int, int] | None:
        """The clock's (``ts_utc``) first and last time when it is not simulated time, else None."""
        ends = self._clock_ends()
        offsets = {round((utc - sim) / NS_PER_S) for utc, sim in ends}
        if not ends or (len(offsets) == 1 and not self._wall_clock):
            return None
        return min(utc for utc, _ in ends), max(utc for utc, _ in ends)

    def audit_ts_sim(self, record: dict[str, Any]) -> int | None:
        """An audit record's time (its ``ts``) on the ``ts_sim`` scale, or None.

        Under a clock that is not simulated time the ``ts`` is the wall's: a resume is then
        placed at the simulated time of the step it resumed from (``bar_times``).
        """
        if self.clock_span is not None:
            step = payload(record).get("from_step")
            return self.bar_times.get(step) if isinstance(step, int) else None
        utc = parse_utc_ns(record.get("ts"))
        return None if utc is None else utc - self.utc_offset_ns


def sealing_book(run_dir: Path, checkpoint: dict[str, Any]) -> dict[str, Any] | None:
    """The ``book`` of ``checkpoint`` (``run_dir``'s, as read), if it is one a resume reads."""
    try:
        checked = checked_checkpoint(run_dir, checkpoint or None)
    except (LiveSessionError, ValueError):
        return None
    found = None if checked is None else checked.get("book")
    return found if isinstance(found, dict) else None


def sealed_open_orders(run: ReportRun, final: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The open orders a sealed run ended with, as ``status`` lists them.

    The sealing checkpoint's book (each order's type, price, leg, fill and cancel), else the
    final snapshot's; None when neither records them (a report reads broken runs too).
    """
    if run.sealing_book is not None:
        return book({"book": run.sealing_book}, None)[1]
    orders = final.get("open_orders")
    return orders if isinstance(orders, list) else None
