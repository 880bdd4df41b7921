"""How a stop signal ends a command: the exception its handler raises, the line and the code.

A command other than ``dryrun`` / ``resume`` (which stop their run gracefully on each) ends
on Ctrl-C (``KeyboardInterrupt``, 130), SIGTERM (``Terminated``, 143) and SIGHUP
(``HungUp``, 129) the same way: the exception is raised where the command is, its clean-up
runs on the way out (a re-run process and its scratch directory, a temporary file), and
``main`` says one line, ``livesession: interrupted`` / ``terminated`` / ``hung up`` (with
``--json`` the error object too).

SIGHUP had kept its default action: the terminal closing, an SSH connection dropping or a
supervisor's ``kill -HUP`` ended ``verify``, ``evidence``, ``report``, ``status`` or a
``stop`` waiting for its effect at once, with no line at all (a shell showed 129), and
``evidence``'s clean-up never ran. Under ``nohup`` (SIGHUP ignored) it stays ignored.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import TYPE_CHECKING

from ._cli_output import EXIT_HANGUP, EXIT_TERMINATED, emit_json, json_emitted
from ._support.secrets import redact_text
from ._support.signals import (
    SignalStop,
    act_on_owed_stops,
    is_terminal,
    owed_stops,
    owed_stops_settled,
    to_devnull,
)
from ._support.text import valid_text

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "HungUp",
    "InterruptedUnsealed",
    "Terminated",
    "ended_as_signal",
    "ended_by_signal",
    "interrupted",
    "signals_end_commands",
]


class InterruptedUnsealed(KeyboardInterrupt):
    """A ``KeyboardInterrupt`` a plug-in raised inside a step: the run is left unsealed.

    Still an interrupt (exit 130: the run is unfinished), but ``str`` says what is left and
    how to continue it (``not_sealed``), where a bare ``interrupted`` said neither.
    """


def interrupted(exc: BaseException) -> str:
    """``interrupted``, and for ``InterruptedUnsealed`` what it left: the line ``main`` says."""
    if isinstance(exc, InterruptedUnsealed):
        return f"interrupted: {valid_text(redact_text(str(exc)))}"
    return "interrupted"


class Terminated(SignalStop):
    """SIGTERM came: raised where the command is, so its clean-up runs on the way out."""

    signum = signal.SIGTERM


class HungUp(Terminated):
    """SIGHUP came (the terminal closed): the command ends as on SIGTERM, with 129."""

    signum = signal.SIGHUP


def ended_as_signal(exc: Terminated) -> tuple[str, int]:
    """``terminated`` and 143, or ``hung up`` and 129: the line and code of a ``Terminated``."""
    if exc.signum == signal.SIGHUP:
        return "hung up", EXIT_HANGUP
    return "terminated", EXIT_TERMINATED


@contextlib.contextmanager
def signals_end_commands() -> Iterator[None]:
    """SIGTERM and SIGHUP end a command as Ctrl-C does, so that its clean-up runs.

    An ignored SIGINT too; an ignored SIGHUP (``nohup``) stays ignored. On SIGHUP a
    terminal stdout or stderr is pointed at /dev/null first: the terminal is gone, and the
    one line said into it would fail.

    A re-run process and its scratch directory, a temporary file: none is left behind.
    ``dryrun`` and ``resume`` put their own handlers over this one while they run, and
    leave the stop signals ignored once their run is sealed (its exit code is decided: a
    signal while the summary is flushed to a slow reader must not turn it into 143). On
    the way out each stop signal has the handler it had before again: a caller of ``main``
    in its own process (an application, a test) keeps its own.

    A stop whose exception a finalizer swallowed (``owed_stops``) ends the command at the
    block's end at the latest, its work done: one line and 130/143, never a traceback.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    terminal = tuple(fd for fd in (1, 2) if is_terminal(fd))  # after a hangup, no longer

    def terminate(_signum: int, _frame: object) -> None:
        raise Terminated

    def hang_up(_signum: int, _frame: object) -> None:
        to_devnull(terminal)
        raise HungUp

    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGHUP)}
    before[signal.SIGTERM] = signal.signal(signal.SIGTERM, terminate)
    if before[signal.SIGHUP] is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, hang_up)
    if before[signal.SIGINT] is signal.SIG_IGN:
        # A shell script's background job inherits SIGINT ignored; the run takes it all the
        # same (a graceful stop), so one sent before the run's own handler is in ends the
        # command too instead of being lost while the run then goes on to its end.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with owed_stops():
            yield
            act_on_owed_stops()  # the last safe point: the handler raises, main says it
    finally:
        for signum, handler in before.items():
            if handler is not None:  # None: not one Python installed, nothing to put back
                signal.signal(signum, handler)


def ended_by_signal(said: str, code: int, *, as_json: bool) -> int:
    """``livesession: interrupted`` (``said``) on stderr, and ``code`` (130, 143 or 129).

    With ``--json`` the error object too, unless the command printed its own already:
    stdout holds exactly one. A signal after the run was sealed never comes here: the run's
    handler block leaves the stop signals ignored once its run is sealed.
    """
    owed_stops_settled()  # a stop a finalizer swallowed ends nothing more: this one line
    print(f"livesession: {said}", file=sys.stderr)  # noqa: T201 - the CLI's output
    if as_json and not json_emitted():
        emit_json({"ok": False, "exit_code": code, "error": said})
    return code
