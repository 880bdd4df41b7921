"""Signal handlers that stay the installing process's own.

A process forked while a handler of ours is installed (a strategy's ``multiprocessing``
pool, say) inherits it. There it would only set a flag of a session the child does not
run: a worker the pool terminates with SIGTERM would not end, and the pool's ``join``
would wait forever. ``ours`` wraps a handler so that, in any process but the one that
installed it, the signal takes its default action instead.

``held_stops`` keeps a clean-up whole: a second Ctrl-C or SIGTERM while the first one's
clean-up runs (a re-run process killed, its scratch directory removed) waits for its end.
``scratch_directory`` makes and removes a temporary directory with the stops held, so that
a Ctrl-C or SIGTERM never leaves one behind, whole or half removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

__all__ = ["held_stops", "ours", "scratch_directory"]

_STOPS = (signal.SIGINT, signal.SIGTERM)


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
    """SIGINT and SIGTERM wait for the block's end, then act as they would have.

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
    made: Path | None = None
    try:
        with held_stops():
            made = Path(tempfile.mkdtemp(prefix=prefix))
        yield made
    finally:
        if made is not None:
            with held_stops():
                shutil.rmtree(made, ignore_errors=True)
