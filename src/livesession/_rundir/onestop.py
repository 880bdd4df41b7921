"""One stop at a time: ``livesession stop`` of a run whose stop is already under way.

A second stop signal ends the holder at once (``control``): an operator who sends it means
"now". Two operators who each run ``livesession stop`` (two terminals; a script and a
person) mean no such thing, yet the second command's SIGTERM ended the holder in its
wind-down and left the run unsealed. So ``stop`` first asks whether a stop is under way,
and when one is it sends nothing and waits for the same seal:

- another ``livesession stop`` of the run waits for its effect: each holds an ``flock`` on
  the run's ``writer.lock`` while it signals and waits. The writer's own lock on that file
  is an OFD lock (``fcntl``), which never meets an ``flock`` on Linux, so the commands meet
  only each other and the writer is not touched. Elsewhere the writer holds the ``flock``
  itself, so commands take none there;
- the holder's checkpoint holds a stop (STOPPING, or STOPPED and not sealed yet): it took a
  stop and winds down. The session saves that checkpoint before the wind-down sends
  anything;

- the holder took a stop signal (a command's, Ctrl-C, a service manager's) and has not
  reached its step boundary yet: from its first stop signal to its end it holds a shared
  ``flock`` on the same file (``mark_stop_taken``), which a command's turn cannot take.
  While a ``stop``'s turn keeps it from that mark (the signal is that command's, which
  waits for it), a thread of the holder's waits for the mark, and ``/proc/locks`` lists
  that wait: a ``stop`` whose turn comes after that command gave up (``--timeout``) finds
  the mark, or the wait for it, and sends nothing either. It sent the second signal, which
  ended the holder inside the step and left the run unsealed.

``status`` reads the same mark, or a ``stop``'s turn, without taking it (``stop_pending``).

To end a holder at once on purpose: ``kill -TERM PID``.
"""

from __future__ import annotations

import _thread
import contextlib
import fcntl
import os
from typing import TYPE_CHECKING

from .._artifacts import names
from .._artifacts.runread import read_json_object
from .._support.dirlock import flock_holder, flock_waiter
from .dirhold import OFD_SETLK
from .seal import last_stop

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = [
    "mark_stop_taken",
    "sealed_but_held",
    "stop_checkpointed",
    "stop_pending",
    "stop_turn",
    "stop_under_way",
]


_MARKS: set[int] = set()
"""The descriptors of this process's ``mark_stop_taken`` (a forked child closes its copies)."""


def mark_stop_taken(run_dir: Path | None) -> None:
    """The holder's side, from its first stop signal: a shared ``flock`` on ``writer.lock``.

    Called from the signal handler, so cheap and never raising: held until the process
    ends (the kernel drops it). While a ``stop`` command holds its turn, a thread of its
    own waits for the mark (a blocked ``flock``, listed in ``/proc/locks``). None before
    the run exists.
    """
    if run_dir is None or (fd := _lock_file(run_dir)) is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:  # a stop's turn: wait for it aside (no lock of `threading`)
        _MARKS.add(fd)
        try:
            _thread.start_new_thread(_mark_when_free, (fd,))
        except RuntimeError:  # no thread to be had: the mark is not taken
            _MARKS.discard(fd)
            os.close(fd)
        return
    except OSError:
        os.close(fd)
        return
    _MARKS.add(fd)


def _mark_when_free(fd: int) -> None:
    """A holder's thread: the mark, once the ``stop`` command's turn is let go."""
    with contextlib.suppress(OSError):  # refused: no mark, as when no thread can be had
        fcntl.flock(fd, fcntl.LOCK_SH)


def _lock_file(run_dir: Path) -> int | None:
    """``writer.lock`` opened to take an ``flock`` on, or None when there is none to take.

    None: not Linux (where the writer's own lock is the ``flock``), or no file to open.
    """
    if OFD_SETLK is None:  # pragma: no cover - not Linux
        return None
    try:
        return os.open(run_dir / names.WRITER_LOCK, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None


def _close_marks_in_child() -> None:
    """A child forked after the mark must not keep it after its parent, the holder, ends."""
    for fd in _MARKS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _MARKS.clear()


os.register_at_fork(after_in_child=_close_marks_in_child)


@contextlib.contextmanager
def stop_turn(run_dir: Path) -> Iterator[int | None]:
    """None while this is the only ``stop`` of ``run_dir``, its turn held for the block.

    Else who holds the turn (``flock_holder``: the pid of another ``stop`` command, or the
    holder's own, which took a stop signal; -1 when that cannot be told), or, the turn
    taken, the holder whose mark waits for it (``flock_waiter``: it took a stop signal in
    an earlier ``stop``'s turn). A run whose
    ``writer.lock`` cannot be opened (or a system whose writer holds the ``flock``) takes
    no turn: None.
    """
    if (fd := _lock_file(run_dir)) is None:
        yield None
        return
    by: int | None = None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            by = flock_waiter(fd)  # a holder's mark, waiting since another stop's turn
        except BlockingIOError:
            by = flock_holder(fd) or -1
        except OSError:  # a file system without flock: no turns to take
            pass
        yield by
    finally:
        os.close(fd)


def stop_under_way(run_dir: Path, holder_pid: int, by: int | None) -> str:
    """Why a stop is under way in ``run_dir``'s holder already ("" when none is known).

    ``by``: who holds the stop turn (``stop_turn``).
    """
    if held := stop_checkpointed(run_dir):
        return f"its checkpoint holds a stop{held.rstrip()}, and it winds down"
    if by is None:
        return ""
    if by == holder_pid:
        return "it took a stop signal, and acts on it at its next step boundary"
    if by > 0:
        return "another `livesession stop` of this run waits for it"
    return "another `livesession stop` of this run waits for it, or it took a stop signal"


def stop_pending(run_dir: Path, holder_pid: int) -> str:
    """A stop ``run_dir``'s live holder took and has not acted on yet, for ``status``; "" if none.

    Read from ``/proc/locks`` alone, as ``stop_turn`` reads who holds the turn, but without
    taking it: no lock is taken (a ``stop`` command's turn would be in the way) and nothing
    is signalled. The holder's mark (``mark_stop_taken``), or its wait for the mark, says it
    took a stop signal; a turn held by another process, that a ``livesession stop`` signals
    it now. The mark stays till the process ends, so the caller asks only while the run's
    state is not STOPPING or STOPPED yet (the stop acted on). "" where there is no mark to
    read (not Linux: ``_lock_file``).
    """
    if (fd := _lock_file(run_dir)) is None:
        return ""
    try:
        held, waits = flock_holder(fd), flock_waiter(fd)
    except OSError:  # the file went (the run let go): nothing to tell
        return ""
    finally:
        os.close(fd)
    if holder_pid in (held, waits):
        return "it took a stop signal, and acts on it at its next step boundary"
    if held is not None:
        return (
            f"a `livesession stop` of this run (pid {held}) signals it to stop, and waits "
            "for it; it acts on the signal at its next step boundary"
        )
    return ""


def stop_checkpointed(run_dir: Path) -> str:
    """`` (REASON)`` (or ``" "``) when ``run_dir``'s checkpoint holds an unsealed stop, else "".

    Only then does a process killed in its stop leave it to ``resume``, which finishes it:
    a stop signal taken inside a step is in no checkpoint till its step boundary.
    """
    checkpoint = read_json_object(run_dir / names.CHECKPOINT)
    if checkpoint.get("sealed") is True or checkpoint.get("fsm_state") not in (
        "STOPPING",
        "STOPPED",
    ):
        return ""
    reason = checkpoint.get("reason")
    return f" ({reason})" if isinstance(reason, str) and reason else " "


def sealed_but_held(run_dir: Path) -> str:
    """The seal a holder that has not let the run go yet wrote already ("" if none).

    After its seal a process still hands its alerts to the webhook (bounded by ``[alerts]``
    ``timeout_ms`` and a second) and prints its summary: a slow webhook's wait outlasted
    ``stop --timeout``, which said ``no effect seen`` of a run that was sealed.
    """
    stop = last_stop(run_dir)
    payload = stop.get("payload") if stop is not None else None
    if not isinstance(payload, dict):
        return ""
    why = f" ({payload['reason']})" if payload.get("reason") else ""
    return (
        f"it sealed the run {payload.get('status', '?')}{why}, but has not let it go yet (it "
        "hands its alerts to the webhook, for at most [alerts] timeout_ms and a second, and "
        "prints its summary)"
    )
