"""Operator controls on a live CLI run: the signals it answers, and the commands that send them.

The process side (``SignalControls``) is installed by ``livesession dryrun`` and
``livesession resume`` only, never by the library, so an embedding application keeps its own
signal handling. Each handler only sets a flag; the CLI's step loop reads the flags between
steps and calls the session's verb:

- SIGTERM and SIGINT (``livesession stop``, systemd, Kubernetes, ``docker stop``, Ctrl-C):
  a graceful stop at the next step boundary: cancel, flatten, seal (state STOPPED, status
  COMPLETED, reason ``SIGNAL_SIGTERM`` / ``SIGNAL_SIGINT``).
- SIGHUP (the terminal closed, an SSH connection dropped): the same graceful stop (reason
  ``SIGNAL_SIGHUP``), unless the process ignores SIGHUP (``nohup``). What it would print
  to the terminal goes to ``/dev/null``, since writing to a terminal that hung up fails;
  a second SIGHUP changes nothing (the shell and the kernel may both tell a hangup).
- SIGXCPU (the soft CPU-time limit reached, ``ulimit -S -t``): the same graceful stop.
- SIGUSR1 (``livesession kill``): the kill switch: HALTED, cancel, flatten; the session keeps
  stepping without trading.
- SIGUSR2 (``livesession ack``): acknowledge ERROR_REQUIRES_OPERATOR, or re-enable trading
  after a halt (the kill switch, an unhealthy broker).

A second SIGTERM or SIGINT once a stop is pending ends the process at once, by that signal:
the run is left at its last checkpoint, as after a crash, and ``resume`` continues it. So
does a first one once a torn session let go of its run (a plug-in's ``close()`` holds the
process up: no step boundary comes).
``livesession stop`` sends no such second signal while it can tell a stop is under way
(``_rundir.onestop``): it waits for the same seal.

Signals, not a control file (RUNBOOK "Acting on a live run" says why). The answer comes back
through the run's own files: the events (``KILL_SWITCH``, ``TRADING_REENABLED``,
``OPERATOR_ACK``), the sealed audit, the released lock, or, when there is nothing to do, an
``operator_control`` line in ``session.log.jsonl``.

The command side (``send_control``) checks that the holder is a livesession CLI writer of that
very run on this host before it signals anything, then waits (bounded, on wall time: this is
operations, not evidence) for the effect to show in the run's files. A kill or an ack is
confirmed only once ``checkpoint.json`` holds its event (the process checkpoints right after
it acts): confirmed earlier, a crash would resume the run from before it. A stop is
confirmed by the seal; when the holder dies before it, the line says whether a checkpoint
holds the stop (``resume`` then finishes it) or the crash took it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs

from ._control_effects import (
    ACK_SIGNAL,
    KILL_SIGNAL,
    ControlOutcome,
    describe_run,
    reason_of,
)
from ._control_effects import OPERATOR_CONTROL as _LOG_EVENT
from ._control_effects import acked_effect as _acked
from ._control_effects import killed_effect as _killed
from ._control_effects import lost_effect as _lost  # noqa: F401 - the tests reach it here
from ._control_effects import stopped_effect as _stopped
from ._control_wait import cut_after, no_effect
from ._domain.lifecycle import SessionState
from ._risk.governor import TradingState
from ._rundir.holderproc import job_stopped, job_stopped_pid, resuming
from ._rundir.lock import Holder, holder_of, holds_a_run, not_a_cli_writer
from ._rundir.onestop import mark_stop_taken, stop_turn, stop_under_way
from ._rundir.seal import describe_seal, last_stop
from ._rundir.starting import STARTING, is_starting
from ._rundir.unheld import not_yet_held, stopped_already, unfinished_unsent, unlocked_refusal
from ._rundir.watch import RunWatch
from ._support.logging import get_logger
from ._support.signals import SignalStop, act_on_owed_stops, end_by, is_terminal, ours, to_devnull
from ._support.text import command, path_text

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from os import PathLike
    from types import FrameType

    from ._session.coordinator import LiveSessionOrchestrator

__all__ = [
    "ACTIONS",
    "ControlOutcome",
    "SignalControls",
    "StopBeforeRun",
    "describe_run",
    "send_control",
]

S = SessionState
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU)
ACTIONS: Final = {"stop": signal.SIGTERM, "kill": KILL_SIGNAL, "ack": ACK_SIGNAL}
"""The signal each operator command sends to the holder of a run."""
_HANGUP: Final = "SIGNAL_SIGHUP"
_POLL_S: Final = 0.05
_KILL_TOO: Final = "a kill came at the same step boundary, and it stands: trading stays HALTED"


class StopBeforeRun(SignalStop):
    """A stop signal ``signum`` while ``dryrun`` creates its run: the creation undoes itself."""

    def __init__(self, signum: int) -> None:
        self.signum = signum  # BaseException.__new__ keeps it in args too


class SignalControls:
    """The CLI process's side: flags set by signal handlers, acted on between steps."""

    def __init__(self) -> None:
        self._creating = False
        self.stop_reason = ""
        """``SIGNAL_SIGTERM`` / ``SIGNAL_SIGINT`` once a stop was asked for."""
        self._kill = False
        self._ack = False
        self.run_dir: Path | None = None
        """The run the CLI drives, once it exists: a second stop signal after its seal is moot."""
        self._terminal_fds: tuple[int, ...] = ()
        """stdout/stderr when they were a terminal as the handlers went in (after a hangup
        ``isatty`` may no longer say so)."""
        self._ours: dict[int, Callable[[int, FrameType | None], None]] = {}
        """The handler installed for each signal while the block of ``installed`` runs."""
        self._taken_back: set[int] = set()
        """The signals whose handler a plug-in replaced, said once each (``_take_back``)."""

    @contextlib.contextmanager
    def installed(self) -> Iterator[SignalControls]:
        """Install the handlers for the block and put the previous ones back after it.

        Outside the main thread (where Python cannot install handlers) nothing is installed;
        a SIGHUP the process ignores (``nohup``) stays ignored.
        """
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        act_on_owed_stops()  # one a finalizer swallowed before: ends the command, as then
        self._terminal_fds = tuple(fd for fd in (1, 2) if is_terminal(fd))
        wanted = {
            **dict.fromkeys(STOP_SIGNALS, self._on_stop),
            KILL_SIGNAL: self._on_kill,
            ACK_SIGNAL: self._on_ack,
        }
        if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
            del wanted[signal.SIGHUP]
        # ours(): a process a strategy forks meanwhile (a multiprocessing pool) gets the
        # signals' default actions, or terminating its workers would wait forever.
        self._ours = {signum: ours(handler) for signum, handler in wanted.items()}
        before = {signum: signal.signal(signum, handler) for signum, handler in self._ours.items()}
        try:
            yield self
        finally:
            self._ours = {}
            # A sealed run's exit code is decided: a stop signal from here on is moot (the
            # CLI puts the caller's handlers back on its way out).
            moot = self.run_dir is not None and last_stop(self.run_dir) is not None
            for signum, handler in before.items():
                ignored = moot and signum in STOP_SIGNALS
                signal.signal(signum, signal.SIG_IGN if ignored else handler)
            if self.stop_reason == _HANGUP:
                # The terminal is gone for good: a late hangup must not end the process
                # while it says how the (sealed) run ended.
                signal.signal(signal.SIGHUP, signal.SIG_IGN)

    @contextlib.contextmanager
    def creating(self) -> Iterator[None]:
        """Here a stop raises ``StopBeforeRun``: no step boundary yet (a data file's check)."""
        self._creating = True
        try:
            yield
        finally:
            self._creating = False
        act_on_owed_stops()  # one a finalizer swallowed: no longer before the run, so graceful

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        if self._creating:  # raised once: the clean-up on the way out runs whole
            self._creating = False
            raise StopBeforeRun(signum)
        if signum == signal.SIGHUP:
            to_devnull(self._terminal_fds)  # the terminal is gone
            if self.stop_reason:
                return
        if signum == signal.SIGXCPU and self.stop_reason:
            return  # the CPU-time limit says so again each CPU second: no second stop
        let_go = self.run_dir is not None and not holds_a_run()  # torn (or sealed): no step
        if self.stop_reason or let_go:
            sealed = self.run_dir is not None and last_stop(self.run_dir) is not None
            if sealed and self.stop_reason:
                # Sealed already: the process is only saying how the run ended (and handing
                # alerts over, bounded). Killing it now would exit 143 for a sealed run.
                return
            if not sealed:
                # The second stop signal, or any once a torn session let go of the run (a
                # plug-in's close() holds the process up; its mark would mislead a `stop`
                # of the run's next writer): the operator wants the process gone now. It
                # ends by the signal itself (so its parent sees which), and the run stays
                # resumable at its last checkpoint, exactly as after a crash.
                end_by(signum)
                return
        self.stop_reason = reason_of(signum)
        mark_stop_taken(self.run_dir)  # a `stop` sent now waits for this one (``onestop``)

    def _on_kill(self, _signum: int, _frame: FrameType | None) -> None:
        self._kill = True

    def _on_ack(self, _signum: int, _frame: FrameType | None) -> None:
        self._ack = True

    def at_step_boundary(self, session: LiveSessionOrchestrator) -> bool:
        """Act on the flags raised since the last boundary (called between steps only).

        Returns whether any flag was raised (the session's state may have changed).
        """
        if self._ours:
            self._take_back()
        if not (self._kill or self._ack or self.stop_reason):
            return False
        # Each answer says when its flag was taken (after it was lowered): a command that
        # signalled later reads it as an earlier command's (``RunWatch.answer``).
        # Both taken first: an ack that lands while the kill is acted on (its `kill` saw it
        # done and a second command followed at once) is the next boundary's, not this one's.
        killed, self._kill = self._kill, False
        acked, self._ack = self._ack, False
        if killed:
            self._kill_switch(session, time.monotonic_ns())
        if acked:
            self._acknowledge(session, time.monotonic_ns(), killed=killed)
        if self.stop_reason and session.state in (S.PREFLIGHT_OK, S.DRYRUN_ACTIVE):
            result = session.request_stop(self.stop_reason, sealed_as=True)
            said = "done" if result else f"not done: {result.message}"
            _answer(session, self.stop_reason, "request_stop", said)
        return True

    def _take_back(self) -> None:
        """Put back each handler of ours a plug-in replaced, and say so once.

        A strategy's ``signal.signal(signal.SIGTERM, ...)`` (a library's, for its own
        clean-up) took the run's stop signals from then on: ``docker stop`` and Ctrl-C
        reached the plug-in's handler and the run went on to its end, or was killed at the
        end of the grace period, unsealed; ``livesession kill`` and ``ack`` waited for an
        answer that never came.
        """
        for signum, handler in self._ours.items():
            if signal.getsignal(signum) is handler:
                continue
            signal.signal(signum, handler)
            if signum not in self._taken_back:
                self._taken_back.add(signum)
                name = signal.Signals(signum).name
                print(  # noqa: T201 - the CLI's output
                    f"livesession: a plug-in replaced the command's {name} handler: put back "
                    f"at the step's end, so that {name} still reaches the run (a plug-in "
                    "leaves SIGINT, SIGTERM, SIGHUP, SIGXCPU, SIGUSR1 and SIGUSR2 to the "
                    "command: docs/plugins.md)",
                    file=sys.stderr,
                )

    def _kill_switch(self, session: LiveSessionOrchestrator, taken_ns: int) -> None:
        sig = reason_of(KILL_SIGNAL)
        result = session.kill(sig)
        said = "done" if result else f"nothing to do: {result.message}"
        _answer(session, sig, "kill", said, taken_ns=taken_ns)

    def _acknowledge(self, session: LiveSessionOrchestrator, ns: int, *, killed: bool) -> None:
        sig = reason_of(ACK_SIGNAL)
        if session.state is S.ERROR_REQUIRES_OPERATOR:
            # A lost lease: the library refuses (NOT_APPLICABLE), and says why.
            result = session.acknowledge(sig)
            said = "done" if result else f"refused: {result.message}"
            _answer(session, sig, "acknowledge", said, taken_ns=ns)
            return
        if session.state is S.DRYRUN_ACTIVE and session.trading_state is not TradingState.ACTIVE:
            # Refused while the kill switch is still flattening, and after a kill taken with
            # it (two operators at once): re-enabled, a flat book would trade on, killed.
            again = None if killed else session.reenable_trading(sig)
            why = _KILL_TOO if again is None else again.message
            said = "done" if again else f"refused: {why}"
            _answer(session, sig, "reenable_trading", said, taken_ns=ns)
            return
        said = f"the session is {session.state.value}, trading {session.trading_state.value}"
        _answer(session, sig, "ack", f"nothing to acknowledge: {said}", taken_ns=ns)


def _answer(
    session: LiveSessionOrchestrator,
    sig: str,
    action: str,
    outcome: str,
    *,
    taken_ns: int | None = None,
) -> None:
    """Tell the operator command what the holder did (``session.log.jsonl``, not evidence).

    ``taken_ns``: when the holder took the signal (``time.monotonic_ns``, one clock for
    every process of the host, the only one a command signals).
    """
    said = {"signal": sig, "action": action, "outcome": outcome, "pid": os.getpid()}
    if taken_ns is not None:
        said["taken_ns"] = taken_ns
    get_logger().warning(_LOG_EVENT, run_id=session.config.run_id, **said)


# -- the command side ---------------------------------------------------------------------


def send_control(action: str, run_dir: str | PathLike[str], *, timeout_s: float) -> ControlOutcome:
    """Signal the livesession process holding ``run_dir`` and wait for the effect.

    Nothing is sent when nothing holds the run, or when the holder is not a livesession
    CLI writer of this run on this host.
    """
    deadline, holder = time.monotonic() + timeout_s, holder_of(run_dir := Path(run_dir))
    while holder is None and (pid := resuming(run_dir)) is not None:  # it takes the run next
        if time.monotonic() >= deadline or job_stopped_pid(pid):  # stopped: not till SIGCONT
            return ControlOutcome("timeout", not_yet_held(action, run_dir, pid))
        time.sleep(_POLL_S)
        holder, timeout_s = holder_of(run_dir), max(deadline - time.monotonic(), 0.0)
    if holder is None:
        return _not_held(action, run_dir, f"nothing holds {path_text(run_dir)}")
    if problem := not_a_cli_writer(holder, run_dir):
        return ControlOutcome("refused", f"{path_text(run_dir)}: {problem}")
    if action != "stop" and is_starting(run_dir):
        return ControlOutcome(
            "refused",
            f"{path_text(run_dir)} is {STARTING}: nothing trades yet, so there is nothing to "
            f"{action}; `{command('stop', run_dir)}` ends it (it has recorded and sent nothing)",
        )
    # One stop at a time: a stop under way already gets no second signal, which would end
    # the holder at once (``onestop``); this command waits for the same seal.
    if action != "stop":
        return _signal_and_wait(action, holder, RunWatch(run_dir), timeout_s, "")
    with stop_turn(run_dir) as by:
        under_way = stop_under_way(run_dir, holder.pid, by)
        return _signal_and_wait(action, holder, RunWatch(run_dir), timeout_s, under_way)


def _not_held(action: str, run_dir: Path, said: str) -> ControlOutcome:
    """Nothing holds ``run_dir`` (``said``): a ``stop`` of a sealed run is done already."""
    if refusal := unlocked_refusal(action, run_dir):  # a 0.1.x writer may hold it unseen
        return ControlOutcome("refused", refusal)
    if action == "stop" and (stopped_as := stopped_already(run_dir)) is not None:
        return ControlOutcome("failed" if stopped_as[0] else "nothing", stopped_as[1])
    seal = unfinished_unsent(action, run_dir, describe_seal(run_dir, advise=True))
    return ControlOutcome("not_held", f"{said}: {seal}")


def _signal_and_wait(
    action: str, holder: Holder, watch: RunWatch, timeout_s: float, under_way: str
) -> ControlOutcome:
    signum, who = ACTIONS[action], f"pid {holder.pid}"
    watch.mark()
    watch.sent()
    sent = f"sent {signal.Signals(signum).name} to {who}"
    if under_way:  # nothing to send: a stop is under way
        sent = f"sent nothing to {who}: a stop is under way ({under_way})"
    else:
        try:
            os.kill(holder.pid, signum)
        except ProcessLookupError:
            return _not_held(action, watch.run_dir, f"{who} ended")
    deadline = time.monotonic() + timeout_s
    check = {"stop": _stopped, "kill": _killed, "ack": _acked}[action]
    # A Ctrl-C or SIGTERM that cuts the wait says the signal went out (none: nothing was sent).
    with contextlib.nullcontext() if under_way else cut_after(sent, holder, watch.run_dir):
        while (outcome := check(watch, holder, who)) is None:
            # Stopped (SIGSTOP, Ctrl-Z), it acts on nothing till it runs again: said at once,
            # from its files as it stopped (looked at again: it may have acted, then stopped).
            held = job_stopped(holder)
            if held and (outcome := check(watch, holder, who)) is not None:
                break
            if held or time.monotonic() >= deadline:
                line = no_effect(
                    watch, holder, sent, timeout_s, under_way=bool(under_way), held=held
                )
                return ControlOutcome("timeout", line)
            time.sleep(_POLL_S)
    return attrs.evolve(outcome, line=f"{sent}; {outcome.line}") if under_way else outcome


if sys.platform == "win32":  # pragma: no cover
    raise ImportError("livesession's operator controls need POSIX signals")
