"""Signal handlers that stay the installing process's own.

A process forked while a handler of ours is installed (a strategy's ``multiprocessing``
pool, say) inherits it. There it would only set a flag of a session the child does not
run: a worker the pool terminates with SIGTERM would not end, and the pool's ``join``
would wait forever. ``ours`` wraps a handler so that, in any process but the one that
installed it, the signal takes its default action instead.

``held_stops`` keeps a clean-up whole: a second Ctrl-C, SIGTERM or SIGHUP while the first one's
clean-up runs (a re-run process killed, its scratch directory removed) waits for its end.
``scratch_directory`` makes and removes a temporary directory with the stops held, so that
a Ctrl-C or SIGTERM never leaves one behind, whole or half removed.

``owed_stops`` keeps a stop whose exception a finalizer swallowed: a handler that raises
(Ctrl-C's ``KeyboardInterrupt``, the CLI's SIGTERM) while Python runs a ``__del__``, a
``weakref.finalize`` callback or a generator closed as it is freed has its exception
dropped there, with "Exception ignored in ..." and a traceback, and the command ran on as
if never stopped. Within ``owed_stops()`` such a drop prints nothing and is owed instead;
``act_on_owed_stops`` raises each owed signal again at a safe point, to the handler then in
place (never from the hook itself: a handler it ran would be dropped again).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .tmpfiles import make_scratch, remove_dead_scratch, remove_scratch

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

__all__ = [
    "STOPS_RAISED",
    "SignalStop",
    "act_on_owed_stops",
    "end_by",
    "held_stops",
    "is_terminal",
    "ours",
    "owed_stops",
    "owed_stops_settled",
    "scratch_directory",
    "to_devnull",
]

_STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # the CLI's SIGHUP raises too


_OURS: Final = "_livesession_ours"
_CHILD_DEFAULTS: Final = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)


def ours(
    handler: Callable[[int, FrameType | None], None],
) -> Callable[[int, FrameType | None], None]:
    """``handler`` in this process; the signal's default action in a forked child."""
    pid = os.getpid()

    def installed(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != pid:  # a child forked while the handler was in place
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        handler(signum, frame)

    setattr(installed, _OURS, True)
    return installed


def _defaults_in_child() -> None:
    """In a forked child: the default action for each signal a handler of ours had.

    Set as the child starts, not when the signal comes: a Python handler runs only once
    the child's main thread is back in Python, and a signal that came just as it entered a
    blocking call (a pool worker waiting for its queue's lock) was never acted on: the
    worker lived on, and the pool's ``terminate`` waited for it for good.
    """
    for signum in _CHILD_DEFAULTS:
        if getattr(signal.getsignal(signum), _OURS, False):
            signal.signal(signum, signal.SIG_DFL)


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_defaults_in_child)


@contextlib.contextmanager
def held_stops() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP wait for the block's end, then act as they would have.

    Each one that came is raised again once the previous handlers are back (Ctrl-C's
    ``KeyboardInterrupt``, the CLI's SIGTERM handler), so nothing is lost but the moment.
    Outside the main thread, where no handler can be set, the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    before = {
        signum: signal.signal(signum, lambda n, _f: came.append(n))
        for signum in _STOPS
        if signal.getsignal(signum) is not None  # one set outside Python could not be put back
    }
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
        for late in dict.fromkeys(came):
            signal.raise_signal(late)


@contextlib.contextmanager
def scratch_directory(prefix: str) -> Iterator[Path]:
    """A temporary directory for the block, removed at its end whatever ends it.

    ``tempfile.TemporaryDirectory`` left one behind to a stop signal between ``mkdtemp``
    and its clean-up's registration, and half removed (a kill drill's run without its
    events, in the system's temporary directory) to one during its ``rmtree``: both are
    done here with the stops held, and the signal acts once the directory is made or gone.
    """
    made: tuple[Path, int | None] | None = None
    remove_dead_scratch(prefix)  # what one killed with its process group left (tmpfiles.py)
    try:
        with held_stops():
            made = make_scratch(prefix)  # held while it is used: not a dead one's
        yield made[0]
    finally:
        if made is not None:
            with held_stops():
                remove_scratch(*made)


class SignalStop(BaseException):
    """What a stop signal's handler raises (besides Ctrl-C's ``KeyboardInterrupt``)."""

    signum: int = signal.SIGTERM


STOPS_RAISED: Final = (KeyboardInterrupt, SignalStop)
"""What a stop raises: code that turns a plug-in's every error into a refusal lets these
through, so that Ctrl-C or SIGTERM inside a plug-in (a factory reading a large file) stops
the command as a stop, not as a bad reference."""

_OWED: list[int] = []
"""Stop signals whose exception a finalizer dropped, each once, oldest first."""


def _stop_of(exc: BaseException | None) -> int | None:
    if isinstance(exc, KeyboardInterrupt):
        return int(signal.SIGINT)
    if isinstance(exc, SignalStop):
        return int(exc.signum)
    return None


@contextlib.contextmanager
def owed_stops() -> Iterator[None]:
    """In the block a stop's exception a finalizer drops is owed, not printed and lost.

    Any other exception dropped goes to the hook there was before, as it did. None owed
    is left over from before the block, nor after it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = sys.unraisablehook

    def keep(unraisable: sys.UnraisableHookArgs) -> None:
        signum = _stop_of(unraisable.exc_value)
        if signum is None:
            before(unraisable)
        elif signum not in _OWED:
            _OWED.append(signum)

    _OWED.clear()
    sys.unraisablehook = keep
    try:
        yield
    finally:
        sys.unraisablehook = before
        _OWED.clear()


def act_on_owed_stops() -> None:
    """Raise each owed stop signal again, to the handler in place now (a safe point).

    One ignored now (a sealed run's), or no longer Python's, is moot: it is let go.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    while _OWED:
        signum = _OWED.pop(0)
        if callable(signal.getsignal(signum)):
            signal.raise_signal(signum)


def owed_stops_settled() -> None:
    """The command ends by a signal now: the stops owed till then end nothing more."""
    _OWED.clear()


def end_by(signum: int) -> None:
    """End the process now by ``signum``'s default action, so that its parent sees which.

    As the first process of a PID namespace (a container's, without an init: ``docker run
    IMAGE livesession dryrun``) the kernel drops a signal whose action is the default one,
    and the process went on: a second SIGTERM in a run's wind-down, which ends it at once
    elsewhere, changed nothing there, nor did any after it. There it exits with the code a
    shell shows for the signal, 128 + ``signum``, its output flushed.
    """
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    if os.getpid() == 1:  # still here: the signal was dropped
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(128 + signum)


def is_terminal(fd: int) -> bool:
    """Whether ``fd`` is a terminal (False for a closed one)."""
    try:
        return os.isatty(fd)
    except OSError:
        return False


def to_devnull(fds: tuple[int, ...]) -> None:
    """Point ``fds`` at ``/dev/null``: a write to a terminal that hung up fails (EIO)."""
    if not fds:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.dup2(devnull, fd)
    finally:
        os.close(devnull)
