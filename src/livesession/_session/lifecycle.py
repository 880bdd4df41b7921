"""The lifecycle as the session records it: transitions, faults, snapshots and the seal.

``SessionLifecycle`` owns the state shared by every concern that can end a session: the
lifecycle machine, whether the run failed, why it stopped (``reason``) and whether its
evidence is sealed. Every transition writes ``STATE_CHANGED`` and a state snapshot; a fault
marks the run FAILED and moves it to ERROR_REQUIRES_OPERATOR; the seal closes the
evidence (``SESSION_STOPPED``, the final snapshot, ``C2_DRYRUN_STOP`` with the digests,
``metrics.json``). A sink that fails after its retries fails the session closed.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import attrs

from .._artifacts import names
from .._domain.decimal import plain
from .._domain.lifecycle import STATUS_BY_STATE, SessionState, SessionStatus, Trigger
from .._domain.machine import LifecycleMachine
from .._exceptions import SinkFailure

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._artifacts.recorder import Recorder
    from .book import Book

__all__ = ["SessionLifecycle"]

S = SessionState
_SINK_FAILED = "SINK_WRITE_FAILED"
_STOP = "C2_DRYRUN_STOP"
_FILES = {"events": names.EVENTS, "states": names.SNAPSHOTS, "audit": names.AUDIT}


def _held(rec: Recorder, sealed_head: str) -> bool:
    """Whether the audit file holds the stop record whose head is ``sealed_head`` (if any)."""
    return bool(sealed_head) and rec.chain.head == sealed_head


@attrs.define(kw_only=True, eq=False, repr=False)
class SessionLifecycle:
    """The machine plus failed/sealed/reason, and the records each change leaves."""

    _recorder: Recorder = attrs.field(kw_only=False)
    _book: Book = attrs.field(kw_only=False)
    _steps: Callable[[], int]
    _halt: Callable[[], object]
    machine: LifecycleMachine = attrs.field(init=False, factory=LifecycleMachine)
    failed: bool = attrs.field(init=False, default=False)
    sealed: bool = attrs.field(init=False, default=False)
    reason: str = attrs.field(init=False, default="")
    detail: str = attrs.field(init=False, default="")
    """What went wrong beyond ``reason``, in one line: why preflight rejected the session,
    or the last fault's detail (not checkpointed)."""
    cause: BaseException | None = attrs.field(init=False, default=None)
    """The last exception that faulted the session (the strategy's, say; a later fault
    without one keeps it): its traceback points at the line, for a test's message. In
    memory only, never recorded: its message is as raised, not redacted."""
    unsynced: str = attrs.field(init=False, default="")
    """The run is sealed (its audit file holds ``C2_DRYRUN_STOP``), but a sync of a
    contract file failed at or after the stop record (EIO): which, and the error. The seal
    is in the files, so every tool reads the run sealed; it is not known to be on disk."""

    @property
    def state(self) -> SessionState:
        """The lifecycle state."""
        return self.machine.state

    @property
    def status(self) -> SessionStatus:
        """The operator-facing status (FAILED stays FAILED once reached)."""
        return SessionStatus.FAILED if self.failed else STATUS_BY_STATE[self.machine.state]

    def in_(self, state: SessionState) -> bool:
        """Whether the machine is in ``state`` now (a call, so type checkers re-read it)."""
        return self.machine.state is state

    def may_fire(self, trigger: Trigger) -> bool:
        """Whether ``trigger`` is legal now."""
        return self.machine.may_fire(trigger)

    def transition(
        self, trigger: Trigger, reason: str, detail: dict[str, str] | None = None
    ) -> None:
        """Fire ``trigger``; record ``STATE_CHANGED`` and a snapshot."""
        before = self.machine.state
        after = self.machine.fire(trigger)
        payload: dict[str, Any] = {
            "from_state": before.value,
            "to_state": after.value,
            "trigger": trigger.value,
            "status": self.status.value,
            "reason": reason,
        }
        if detail:
            payload["detail"] = detail
        try:
            self._recorder.emit("STATE_CHANGED", payload)
        finally:  # the state changed: its snapshot says so, even when the event was lost
            self.snapshot(trigger.value, before)

    def fault(
        self,
        reason: str,
        detail: dict[str, str] | None = None,
        *,
        summary: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        """The run failed: ERROR_REQUIRES_OPERATOR (a session not yet trading stops first).

        ``detail`` goes into ``STATE_CHANGED`` (and so ``C2_OPERATOR_REQUIRED``);
        ``summary`` is the one line the result reports as ``detail`` (by default the items
        of ``detail``); ``cause``, the exception behind the fault, is kept as ``cause``.
        """
        self.failed = True
        self.reason = reason
        if cause is not None:
            self.cause = cause
        self.detail = (
            summary
            if summary is not None
            else ", ".join(f"{key}={value}" for key, value in sorted((detail or {}).items()))
        )
        if self.machine.state is S.PREFLIGHT_OK:
            self.transition(Trigger.REQUEST_STOP, reason)
        if self.machine.may_fire(Trigger.FAULT):
            self.transition(Trigger.FAULT, reason, detail)
            # Out to the files now, not at the step's end: a session may wait here for a
            # person, and `livesession status` reads the state from the snapshot on disk.
            self._recorder.flush(sync=False)

    def snapshot(self, trigger: str, from_state: SessionState) -> None:
        """One state snapshot: lifecycle, step, positions, open orders, equity."""
        book = self._book
        self._recorder.snapshot(
            {
                "status": self.status.value,
                "fsm_state": self.machine.state.value,
                "trigger": trigger,
                "from_state": from_state.value,
                "step": self._steps(),
                "positions": {k: plain(v) for k, v in sorted(book.positions.items())},
                "open_orders": [
                    {
                        "client_order_id": cid,
                        "symbol": live.order.symbol,
                        "side": live.order.side.value,
                        "quantity": plain(live.order.quantity),
                        "filled": plain(live.filled),
                    }
                    for cid, live in sorted(book.open.items())
                ],
                "equity": plain(book.equity()),
            }
        )

    def guarded(self, action: Callable[[], object]) -> None:
        """Run ``action``; a sink failure fails the session closed."""
        try:
            action()
        except SinkFailure as exc:
            self.fail_closed(exc)

    def fail_closed(self, exc: SinkFailure) -> None:
        """A sink is gone: no more trading, SINK_WRITE_FAILED where it can still be said.

        The result's ``detail`` names the lost file, the line and the (redacted) error.
        """
        self.failed = True
        self._halt()
        self._say_sink_failed(exc, fault=True)
        self.detail = self._recorder.failure_summary() or self.detail

    def sink_failed_in_preflight(self, exc: SinkFailure) -> None:
        """A sink lost while preflight opens the run: SINK_WRITE_FAILED where it can be said.

        Nothing traded and nothing is faulted: preflight then fails the run (PREFLIGHT_FAILED,
        status FAILED), and the audit log says why, as it does for a sink lost later.
        """
        self.failed = True
        self._say_sink_failed(exc, fault=False)

    def _say_sink_failed(self, exc: SinkFailure, *, fault: bool) -> None:
        rec = self._recorder
        for _ in range(3):  # each nested failure kills one more sink; three sinks at most
            try:
                if not self.reason.startswith(_SINK_FAILED):
                    self.reason = _SINK_FAILED
                    rec.emit(_SINK_FAILED, {"sinks": sorted(rec.dead), "error": str(exc)})
                if fault and (
                    self.machine.may_fire(Trigger.FAULT) or self.machine.state is S.PREFLIGHT_OK
                ):
                    self.fault(_SINK_FAILED)
            except SinkFailure as again:
                exc = again
                continue
            break

    def seal(self, *, durable: bool) -> bool:
        """Close the evidence once; False when it was sealed already.

        Writes SESSION_STOPPED, the final snapshot, metrics.json and C2_DRYRUN_STOP with the
        digests. A sink failing now marks the run FAILED and the rest still goes out. A run
        whose events or snapshots lost a line, or whose metrics.json was refused (now or
        before), holds incomplete evidence, so it is not sealed: no C2_DRYRUN_STOP (the
        alert tap hears it, and holds its alert: ``SessionParts.settle`` posts
        ``RUN_UNSEALED`` instead), as for a dead audit sink; ``metrics.json`` says which
        file was lost where, where it can, and so does ``detail``.
        """
        if self.sealed:
            return False
        self.sealed = True
        rec = self._recorder
        view = self._book.view()
        steps = self._steps()
        stopped = {
            "status": self.status.value,
            "fsm_state": self.machine.state.value,
            "steps": steps,
            "reason": self.reason,
            "equity": plain(view.equity),
            "pnl": plain(view.pnl),
        }
        # Each flush comes before what states the status: a file sink holds its lines until
        # it writes them out, and a refusal found there makes the run FAILED, which the final
        # snapshot, C2_DRYRUN_STOP and metrics.json must then say.
        for closing in (
            lambda: rec.emit("SESSION_STOPPED", stopped),
            lambda: rec.flush(sync=False),
            lambda: self.snapshot("final", self.machine.state),  # even if the event was lost
            lambda: rec.flush(sync=False),
        ):
            try:
                closing()
            except SinkFailure:
                self.failed = True
                self.reason = self.reason or _SINK_FAILED
        self._close_evidence(steps, durable=durable)
        return True

    def _close_evidence(self, steps: int, *, durable: bool) -> None:
        """metrics.json, then ``C2_DRYRUN_STOP`` (withheld from an unsealable run).

        metrics.json goes first, counting the stop record it precedes: refused now (a full
        disk, no file descriptor left), it withholds the seal, as a lost events line does.
        """
        rec = self._recorder
        sealing, sealed_head = not rec.unsealable, ""
        stop = self._stop_record(steps)
        if sealing:
            try:
                ahead = rec.chain.build(_STOP, stop, rec.ts_utc)
                rec.write_metrics(status=self.status.value, ahead=ahead)
                sealed_head = hashlib.sha256(ahead[:-1]).hexdigest()
            except SinkFailure:
                self.failed, sealing = True, False
                self.reason = self.reason or _SINK_FAILED
                stop = self._stop_record(steps)
        try:
            rec.audit(_STOP, stop, write=sealing)
        except SinkFailure:  # the audit died at its last record: metrics.json still says so
            if not _held(rec, sealed_head):  # else only its sync failed: it is written
                self.failed = True
                self.reason = self.reason or _SINK_FAILED
        try:
            rec.flush(sync=False)  # the audit's last records: a refusal kills the audit sink
        except SinkFailure:
            self.failed = self.failed or not _held(rec, sealed_head)
        if rec.failures and not self.detail and not _held(rec, sealed_head):
            self.detail = rec.failure_summary()
        try:
            if not _held(rec, sealed_head):  # not sealed: metrics.json says how files end
                rec.write_metrics(status=self.status.value)
            rec.flush(sync=durable)
        except SinkFailure:
            self.failed = self.failed or not _held(rec, sealed_head)
        if rec.dead and _held(rec, sealed_head):  # sealed in the files, but not synced
            said = (f"the sync of {_FILES.get(k, k)} failed ({e})" for k, e in rec.failures.items())
            self.unsynced = "; ".join(said)
        # A retry of metrics.json, the stop record or the last flushes comes after the last
        # event and after metrics.json's count: the session log is all that can say it.
        rec.log_late_retries()

    def _stop_record(self, steps: int) -> dict[str, Any]:
        """The payload of ``C2_DRYRUN_STOP``: status, the files' digests, steps, reason."""
        rec = self._recorder
        stop: dict[str, Any] = {
            "status": self.status.value,
            "digests": rec.digest_hex(),
            "steps": steps,
        }
        if self.reason:
            stop["reason"] = self.reason
        return stop

    # -- checkpoint ----------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The checkpoint keys this collaborator owns."""
        return {
            "fsm_state": self.machine.state.value,
            "failed": self.failed,
            "sealed": self.sealed,
            "reason": self.reason,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint made by ``get_state``."""
        self.machine.restore(SessionState(state["fsm_state"]))
        self.failed = bool(state["failed"])
        self.sealed = bool(state["sealed"])
        self.reason = state["reason"]
