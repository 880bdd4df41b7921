"""The checks: each artifact against the contract, and the four against each other.

Event ids, sequence numbers and timestamps, the causal links between events (``Links``),
the lifecycle transitions of the snapshots, the audit hash chain and the digests it closes
with, the metrics, the positions, cash and average prices the fills add up to (``Replay``,
``Money``: from the ``initial_cash`` ``config.json`` gives), and every price and quantity
on the grid it gives (``Grid``).
A check that crashes is reported, never raised.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from .._artifacts.runfind import lost_files
from .._domain.lifecycle import STATUS_BY_STATE, TRANSITIONS, SessionStatus
from ._checkpoint import KeptCheckpoint
from ._config import CONFIG, check_config
from ._dead import DeadSink, check_dead_sinks
from ._events import EventChecks, SeqCheck, check_header
from ._faults import broker_fault_counts
from ._grid import Grid
from ._kept import check_ended, check_kept
from ._moments import check_final_moment, check_first_snapshot, check_moments
from ._money import Money, config_decimal
from ._opening import check_opening
from ._prefix import Prefixes
from ._reading import AUDIT, EVENTS, METRICS, SNAPSHOTS, Line, RunFiles, torn_last
from ._result import Violations, short
from ._runmeta import check_run_meta
from ._stamps import Stamps
from ._transit import transit_said

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from .._artifacts.runread import RunCut
    from ._reading import EventSink, Progress
    from ._replay import Replay
    from ._schemas import Schemas

__all__ = ["Verifier"]

_GENESIS_HASH: Final = "0" * 64
_ENDED_STATUSES: Final = frozenset(
    {SessionStatus.COMPLETED.value, SessionStatus.REJECTED.value, SessionStatus.FAILED.value}
)
_LEGAL_MOVES: Final = frozenset((t.value, src.value, dst.value) for t, src, dst in TRANSITIONS)
_STATUS_OF: Final = {state.value: status.value for state, status in STATUS_BY_STATE.items()}
_FAILED: Final = SessionStatus.FAILED.value
_COUNTED: Final = {EVENTS: "events_emitted", AUDIT: "audit_events"}


class Verifier:
    """One verification: reads the artifacts once, then runs each other check in turn.

    The events are checked as they stream by, the other artifacts after the reading.
    ``read`` fills the ``RunFiles`` it is given, handing each event to the callback.
    What the reading finds wrong is listed before what the checks find (``report``).
    """

    def __init__(
        self,
        schemas: Schemas,
        read: Callable[[RunFiles, EventSink], None],
        cut: RunCut | None = None,
        progress: Progress | None = None,
        config: bytes | None = None,
        *,
        run_dir: Path | None = None,
    ) -> None:
        self.read = read
        self.run_dir = run_dir
        """The run directory read, or None (the run was given as bytes)."""
        self.config = config
        """``config.json`` as read, or None (there is none)."""
        self.contents: Mapping[str, bytes | None] = {}
        """Each artifact's bytes, of a run given as bytes (``verify_contents``)."""
        self.cut = cut
        self.open_end = cut is not None and not cut.sealed
        """A live run read up to a checkpoint before its seal: it has no end to check yet."""
        self.report = Violations()
        self.checks = Violations()
        self.grid = Grid.of(self.checks, config)
        """The run's tick and lot, when config.json gives them: prices and quantities on them."""
        money = Money(config_decimal(config, "initial_cash"), config_decimal(config, "price_tick"))
        self.events = EventChecks(self.checks, cut, self.grid, money, Stamps.of(config))
        self.files = RunFiles(schemas, self.report, progress, self.events.as_released)
        self.identity: tuple[str, str] | None = None
        self.replay: Replay | None = None
        self.final_snapshot: dict[str, Any] | None = None
        self.audit_status: str | None = None
        self.incomplete = False
        self.chain_break = 0
        """The first audit line whose ``prev_hash`` is not the line before's (0: none)."""
        self._seqs = SeqCheck()
        self.dead_sinks: tuple[DeadSink, ...] = ()
        """The sinks metrics.json says failed, where their files agree (``_dead``): each
        holds exactly the lines before the one it failed at, and the run is unsealed."""
        self.prefixes = Prefixes(run_dir if cut is None else None, KeptCheckpoint(run_dir))
        """The checkpoint's digests of the files up to it (not a live run's: it moves on)."""
        self.lost = frozenset(lost_files(run_dir)) if run_dir is not None else frozenset()
        """The contract files a run livesession made lost (``lost_files``): said once, as
        missing; nothing is held to them (the other files would only repeat the loss)."""

    def run(self) -> None:
        """Read the run, then check each artifact; every problem ends up in ``report``."""
        self.files.digest_of = self.prefixes.read()
        try:
            self.read(self.files, self.events.apply)
        except OSError:
            raise  # the host refused a read (raise_if_refused): there is nothing to judge
        except Exception as exc:  # noqa: BLE001 - a verifier reports, it never crashes
            self.report.add(
                "(run directory)", 0, f"could not be checked: {type(exc).__name__}: {exc}"
            )
        checks: tuple[tuple[str, Callable[[], None]], ...] = (
            (METRICS, self._check_dead_sinks),
            (AUDIT, self._check_unclosed),
            (EVENTS, self._finish_events),
            (SNAPSHOTS, self._check_snapshots),
            (AUDIT, self._check_audit),
            (EVENTS, lambda: self.prefixes.check(self.checks, self.files, self.incomplete)),
            (METRICS, self._check_metrics),
            (CONFIG, lambda: check_config(self.checks, self.config, self.events.config_sha256)),
            (CONFIG, self._check_kept),
        )
        for name, check in checks:
            try:
                check()
            except Exception as exc:  # noqa: BLE001 - a verifier reports, it never crashes
                self.checks.add(name, 0, f"could not be checked: {type(exc).__name__}: {exc}")
        self.report.extend(self.checks)

    def _check_kept(self) -> None:
        kept = self.prefixes.checkpoint  # read once, for every check that asks
        check_kept(self.checks, self.run_dir, self.bars, self.events.config_sha256, kept)
        check_run_meta(self.checks, self.run_dir, self.events.run_records)
        if not (self.incomplete or self.open_end or self.dead_sinks):  # sealed: all resumed
            check_ended(self.checks, self.run_dir, self.files.lines[AUDIT], kept)

    def _check_dead_sinks(self) -> None:
        said = self.events.sinks_said_failed
        self.dead_sinks = check_dead_sinks(self.files, self.checks, said)

    def _check_unclosed(self) -> None:
        """Whether the run crashed (``incomplete``): like a live run, it has no end to check."""
        audit, ended = self.files.lines[AUDIT], self.files.ends_with_newline.get(AUDIT)
        self.incomplete = not (self.dead_sinks or self.open_end) and _unclosed(audit, ended)

    def _lost(self, name: str) -> bool:
        """Whether the sink ``name`` died, its file cut short (the checks needing it skip)."""
        return any(sink.name == name for sink in self.dead_sinks)

    @property
    def bars(self) -> int:
        """The ``BAR`` events read."""
        return 0 if self.replay is None else self.replay.kinds["BAR"]

    @property
    def stopped(self) -> bool:
        """``events.jsonl`` holds ``SESSION_STOPPED``: the session began its seal."""
        return self.replay is not None and self.replay.kinds["SESSION_STOPPED"] > 0

    def _finish_events(self) -> None:
        self.identity = self.events.identity
        self.events.finish(self.files.counts)
        self.replay = None if EVENTS in self.lost else self.events.replay

    def _check_header(self, name: str, number: int, record: dict[str, Any]) -> None:
        check_header(self.checks, name, number, record, self.identity, seqs=self._seqs)

    def _count_invalid(self, name: str, line: Line) -> None:
        """A line that broke its schema keeps its place in the sequence, if it has a ``seq``."""
        if line.seq is not None:
            self._seqs(self.checks, name, line.number, line.seq)

    # state snapshots

    def _check_snapshots(self) -> None:
        lines = self.files.lines[SNAPSHOTS]
        if not lines:
            return
        transitions: list[tuple[str, str, str]] = []
        previous: dict[str, Any] | None = None
        failed = False
        # A live or crashed run's last snapshot is its latest, not its final one (unless the
        # crash came in the seal, after it); so is the last one a dead state sink took.
        last = lines[-1].obj
        sealing = self.incomplete and last is not None and last["trigger"] == "final"
        open_end = ((self.open_end or self.incomplete) and not sealing) or self._lost("states")
        for line in lines:
            snap = line.obj
            if snap is None:
                self._count_invalid(SNAPSHOTS, line)
                previous = None
                continue
            self._check_header(SNAPSHOTS, line.number, snap)
            if self.grid is not None:
                self.grid.snapshot(line.number, snap)
            is_final = line.number == len(lines) and not open_end
            if line.number == 1:
                check_first_snapshot(self.checks, snap, self.replay, self.events.stamps)
            else:
                self._check_snapshot_move(line.number, snap, previous, is_final, transitions)
            self._check_snapshot_status(line.number, snap, failed=failed, is_final=is_final)
            failed = failed or snap["status"] == _FAILED
            previous = snap
        if self.replay is not None and not self._transitions_agree(transitions):
            self.checks.add(
                SNAPSHOTS, 0, "transitions differ from the STATE_CHANGED events in events.jsonl"
            )
        elif self.replay is not None:
            check_moments(self.checks, lines[1:], self.replay.moments)
        if open_end:
            return
        self.final_snapshot = lines[-1].obj
        if self.final_snapshot is not None and self.final_snapshot["trigger"] != "final":
            self.checks.add(SNAPSHOTS, len(lines), "the last snapshot's trigger is not 'final'")
        self._check_final_book(len(lines))

    def _transitions_agree(self, transitions: list[tuple[str, str, str]]) -> bool:
        """The snapshots' transitions are the events' (up to where a dead sink's file ends)."""
        assert self.replay is not None  # noqa: S101 - the caller checked
        events = self.replay.state_changes
        if self._lost("events") and events == transitions[: len(events)]:
            return True
        return transitions == (events[: len(transitions)] if self._lost("states") else events)

    def _check_snapshot_move(
        self,
        number: int,
        snap: dict[str, Any],
        previous: dict[str, Any] | None,
        is_final: bool,
        transitions: list[tuple[str, str, str]],
    ) -> None:
        trigger, source, state = snap["trigger"], snap["from_state"], snap["fsm_state"]
        if previous is not None:
            self._check_snapshot_order(number, snap, previous)
        if trigger == "start":
            self.checks.add(SNAPSHOTS, number, "trigger 'start' after the first snapshot")
        elif trigger == "final":
            if not is_final:
                self.checks.add(SNAPSHOTS, number, "a 'final' snapshot that is not the last")
            if source != state:
                self.checks.add(SNAPSHOTS, number, "the final snapshot changes the state")
        else:
            transitions.append((trigger, source, state))
            if (trigger, source, state) not in _LEGAL_MOVES:
                self.checks.add(
                    SNAPSHOTS, number, f"illegal transition {source} --{trigger}--> {state}"
                )

    def _check_snapshot_order(
        self, number: int, snap: dict[str, Any], previous: dict[str, Any]
    ) -> None:
        if snap["from_state"] != previous["fsm_state"]:
            self.checks.add(
                SNAPSHOTS,
                number,
                f"from_state {snap['from_state']} but the state was {previous['fsm_state']}",
            )
        if snap["ts_sim"] < previous["ts_sim"]:
            self.checks.add(SNAPSHOTS, number, f"ts_sim goes back to {snap['ts_sim']}")
        if snap["step"] < previous["step"]:
            self.checks.add(SNAPSHOTS, number, f"step goes back to {snap['step']}")

    def _check_snapshot_status(
        self, number: int, snap: dict[str, Any], *, failed: bool, is_final: bool
    ) -> None:
        # FAILED is sticky: once reached (or set by a fail-closed stop) it stays. A sink
        # that died makes the run FAILED from the next snapshot on, whatever the state.
        status, expected = snap["status"], _STATUS_OF[snap["fsm_state"]]
        if failed and status != _FAILED:
            self.checks.add(SNAPSHOTS, number, f"status {status} after FAILED, which is sticky")
        elif status != expected and not (
            status == _FAILED and (failed or is_final or self.dead_sinks)
        ):
            self.checks.add(
                SNAPSHOTS,
                number,
                f"status {status} in state {snap['fsm_state']}, expected {expected}",
            )

    def _check_final_book(self, number: int) -> None:
        final, replay = self.final_snapshot, self.replay
        if final is None:
            return
        if final["status"] not in _ENDED_STATUSES:
            self.checks.add(SNAPSHOTS, number, f"the run ended with status {final['status']}")
        if replay is None or self._lost("events"):  # the fills and bars lost are unknown
            return
        for symbol in sorted(set(replay.positions) | set(final["positions"])):
            held = Decimal(final["positions"].get(symbol, "0"))
            replayed = replay.positions.get(symbol, Decimal(0))
            if held != replayed:
                self.checks.add(
                    SNAPSHOTS,
                    number,
                    f"final position {held} of {symbol!r} but the fills add up to {replayed}",
                )
        check_final_moment(self.checks, self.files.lines[SNAPSHOTS][-1], replay.end)
        bars = replay.kinds["BAR"]
        if final["step"] != bars:
            self.checks.add(SNAPSHOTS, number, f"final step {final['step']} but {bars} BAR events")
        stopped = replay.stopped_status
        if stopped is not None and stopped != final["status"]:
            self.checks.add(
                EVENTS, 0, f"SESSION_STOPPED says {stopped}, the final snapshot {final['status']}"
            )

    # audit

    def _check_audit(self) -> None:
        lines = self.files.lines[AUDIT]
        if not lines:
            return
        for index, line in enumerate(lines):
            expected_prev = (
                _GENESIS_HASH if index == 0 else hashlib.sha256(lines[index - 1].raw).hexdigest()
            )
            record = line.obj
            if record is None:
                self._count_invalid(AUDIT, line)
                continue
            if record["prev_hash"] != expected_prev and not (
                index and _chained_past_cr(lines[index - 1].raw, record["prev_hash"])
            ):
                self.checks.add(AUDIT, line.number, "prev_hash does not match the previous line")
                self.chain_break = self.chain_break or line.number
            self._check_header(AUDIT, line.number, record)
            if record["code"] == "C2_DRYRUN_STOP" and line.number != len(lines):
                self.checks.add(AUDIT, line.number, "C2_DRYRUN_STOP is not the last record")
        last = lines[-1].obj
        self._check_copies(lines, closed=last is not None and last["code"] == "C2_DRYRUN_STOP")
        check_opening(self.checks, lines)
        if last is None:
            return
        if last["code"] != "C2_DRYRUN_STOP":
            # A dead sink was reported once, as such; a live run is not closed yet.
            if not self.dead_sinks and not self.open_end:
                self.checks.add(AUDIT, len(lines), f"the last record is {last['code']}, not a stop")
            return
        self._check_stop_record(len(lines), last["payload"])

    def _check_copies(self, lines: list[Line], *, closed: bool) -> None:
        """The records that copy an event against the events (``_copies``), and their times.

        Only a closed run with every file whole must pair each audited event with a record:
        a crash, a live cut or a dead sink may leave either file ahead of the other.
        """
        if self.replay is None:  # the events could not be checked to the end
            return
        whole = closed and not self.dead_sinks and not self.open_end
        self.events.copies.check(self.checks, lines, whole=whole)

    def _check_stop_record(self, number: int, payload: dict[str, Any]) -> None:
        for name in (EVENTS, SNAPSHOTS):
            digest = self.files.digests.get(name)
            sealed = payload["digests"][name]
            if digest is not None and sealed != digest:
                given = self.contents.get(name)
                read = given if given is not None or self.run_dir is None else self.run_dir / name
                said = f"digest of {name} does not match the file{transit_said(read, sealed)}"
                self.checks.add(AUDIT, number, said)
        final = self.final_snapshot
        if final is not None and payload["status"] != final["status"]:
            self.checks.add(
                AUDIT,
                number,
                f"stop status {payload['status']} but final snapshot {final['status']}",
            )
        self.audit_status = payload["status"]

    # metrics

    def _check_metrics(self) -> None:
        metrics = self.files.metrics
        if metrics is None:
            return
        # A crashed run's metrics.json is its checkpoint's; so is one refused as a sink died.
        stale = self.incomplete or any(sink.inferred for sink in self.dead_sinks)
        expected = self._identity_metrics() if stale else self._expected_metrics()
        for field, value in sorted(expected.items()):
            if field not in metrics:
                self.checks.add(METRICS, 1, f"{field} is missing, the run says {short(value)}")
            elif metrics[field] != value:
                self.checks.add(
                    METRICS,
                    self.files.metrics_line(field),
                    f"{field} is {short(metrics[field])}, the run says {short(value)}",
                )

    def _identity_metrics(self) -> dict[str, object]:
        """What no step changes: all a crashed run's metrics.json (its checkpoint's) holds."""
        return {} if self.identity is None else {"run_id": self.identity[0]}

    def _expected_metrics(self) -> dict[str, object]:
        """Every metrics field this verifier can recompute from the other three files."""
        expected: dict[str, object] = {
            "events_emitted": self.files.counts.get(EVENTS, 0),
            "state_snapshots": len(self.files.lines[SNAPSHOTS]),
            "audit_events": len(self.files.lines[AUDIT]),
        }
        if self.files.lines[AUDIT]:
            last, held = (
                self.files.lines[AUDIT][-1].raw,
                (self.files.metrics or {}).get("audit_head"),
            )
            # the head of a line given \r\n is the line's but for its \r (the reader said it)
            good = isinstance(held, str) and _chained_past_cr(last, held)
            expected["audit_head"] = held if good else hashlib.sha256(last).hexdigest()
        if self.replay is not None:
            kinds = self.replay.kinds
            expected.update(
                steps=kinds["BAR"],
                orders_submitted=kinds["ORDER_SUBMITTED"],
                fills=self.replay.fills,
                sink_retries=kinds["SINK_WRITE_RETRIED"],
                rejects_by_reason=dict(sorted(self.replay.rejects.items())),
            )
            if "events_by_type" in self.files.metrics_fields:
                expected["events_by_type"] = dict(sorted(kinds.items()))
            expected.update(broker_fault_counts(self.files, self.checks, self.replay))
        for name in self.lost:  # its count is said by its loss, not as metrics.json's
            expected.pop(_COUNTED[name], None)
        expected.update(self._identity_metrics())
        if self.final_snapshot is not None:
            expected["status"] = self.final_snapshot["status"]
        elif self.audit_status is not None:
            expected["status"] = self.audit_status
        elif self.replay is not None and self.replay.stopped_status is not None:
            expected["status"] = self.replay.stopped_status  # the state sink died first
        return expected


def _unclosed(lines: list[Line], ends_with_newline: bool | None) -> bool:
    """The audit log ``lines`` end without ``C2_DRYRUN_STOP``: the run crashed or still runs.

    Judged on the whole lines (a torn last line, ``torn_last``, is a crash's); a last whole
    line of JSON that is no valid record leaves it undecided (False): that run is broken.
    ``ends_with_newline``: whether the file ends with one (None: it was not read).
    """
    if ends_with_newline is None:
        return False
    torn = lines and torn_last(lines[-1].raw, newline=ends_with_newline)
    whole = lines[:-1] if torn else lines
    if not whole:
        return True
    last = whole[-1].obj
    return last is not None and all(
        line.obj is None or line.obj["code"] != "C2_DRYRUN_STOP" for line in whole
    )


def _chained_past_cr(raw: bytes, prev_hash: str) -> bool:
    r"""``prev_hash`` is the hash of ``raw`` but for its final ``\r`` (the reader said it).

    A file given Windows line endings breaks the chain at every line for that one reason:
    the reader names the ``\r\n`` once, the chain reports only a break it does not explain.
    """
    return raw.endswith(b"\r") and hashlib.sha256(raw[:-1]).hexdigest() == prev_hash
