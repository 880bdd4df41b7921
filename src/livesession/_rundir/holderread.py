"""Who holds a run, read without taking its lock: ``status``, the operator controls, refusals.

Split from ``lock`` (which re-exports these), whose writer takes the lock: a reader only
asks the kernel whether ``writer.lock`` (or the run directory: ``dirhold``) is held, and
reads the name the holder wrote there. The name alone proves nothing (a killed holder
leaves it behind), the lock does; between a new writer's taking the lock and writing its
name the file still names the one before, so a name of a dead process is read again for a
moment.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from .._artifacts import names
from .._support.tmpfiles import pid_alive
from .dirhold import OFD_GETLK, asked_lock, holding_pid
from .holder import Holder, held_refusal
from .holderproc import stop_advice, unseen_here, writer_verb
from .shellrefs import let_go_kept

__all__ = [
    "current_holder",
    "holder_of",
    "holder_soon",
    "is_held",
    "living_holder",
    "read_holder",
    "refuse_if_held",
    "removed_holder",
]

_NAME_READS: Final = 50
_NAME_READ_PAUSE_S: Final = 0.01


def read_holder(path: Path) -> Holder | None:
    """The holder the lock file at ``path`` names; None when it names none that parses."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(
            pid=int(data["pid"]),
            host=str(data["host"]),
            since=str(data["since"]),
            command=str(data["command"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def current_holder(path: Path) -> Holder | None:
    """The holder the lock file names, once the process that just took the lock wrote it.

    Between taking the lock and writing its name, the new holder leaves the previous
    holder's name (or half of its own) in the file. A name that does not parse, or that
    names a dead process on this host, is read again for a moment (bounded: at worst the
    refusal says "another process"); not one whose pid the run directory's own lock names
    (``_alive``).
    """

    def live() -> Holder | None:
        holder = read_holder(path)
        return holder if holder is not None and _alive(holder, path.parent) else None

    return _within_a_moment(live) or read_holder(path)


def _alive(holder: Holder, run_dir: Path) -> bool:
    """Whether ``holder`` may be alive: one on another host cannot be asked.

    Nor can one in another PID namespace of this host (another container sharing the run's
    volume and host name), whose pid is no process here (``unseen_here``): the run
    directory's lock, which a writer takes before it writes its name, names that very pid,
    so the name is the writer's own, not a dead one's a new writer is about to overwrite.
    ``status`` in a sidecar read it again for half a second, every time.
    """
    if holder.host != socket.gethostname() or pid_alive(holder.pid):
        return True
    return bool(unseen_here(holder, run_dir))


def _within_a_moment(attempt: Callable[[], Holder | None]) -> Holder | None:
    """``attempt()`` until it gives a holder, for a moment (``_NAME_READS`` pauses); or None.

    The moment a writer needs between making its directory, taking its lock and writing
    its name there.
    """
    for _ in range(_NAME_READS):
        holder = attempt()
        if holder is not None:
            return holder
        time.sleep(_NAME_READ_PAUSE_S)
    return None


def is_held(run_dir: Path) -> bool:
    """Whether a writer holds ``run_dir`` now (its lock file, or the directory: ``dirhold``)."""
    return _file_held(run_dir) or holding_pid(run_dir) is not None


def _file_held(run_dir: Path) -> bool:
    """Whether a process holds ``run_dir``'s writer lock file now. Never takes the lock."""
    path = run_dir / names.WRITER_LOCK
    try:  # never waiting on a FIFO put in its place, nor asking through a symlink
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        return False  # no such file, or ``run_dir`` is no directory: no writer holds it
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return False  # a symlink: no writer holds one (``acquire`` refuses it)
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False  # a FIFO, a device: likewise
        if OFD_GETLK is None:  # pragma: no cover - not Linux: judge by the named pid
            holder = read_holder(path)
            return holder is not None and pid_alive(holder.pid)
        # F_OFD_GETLK asks "could I take a write lock?" (a read-only descriptor may ask); on
        # a file system that takes no locks, no writer holds one (``asked_lock``).
        return asked_lock(fd) is not None
    finally:
        os.close(fd)


def holder_of(run_dir: Path) -> Holder | None:
    """The process writing ``run_dir`` now, or None when no process holds it.

    Never takes the lock, so it is safe beside a live writer (``status``, the operator
    controls). A holder whose lock file cannot be parsed (it is being written this very
    moment) is read again for a moment, then reported with pid 0 (``describe`` says so);
    so is one naming a dead process on this host, then reported as named: a ``resume`` has
    taken the lock of a crashed run and not written its name over the dead writer's yet
    (``stop`` signalled that one, "ended", and never the resume).
    """
    if not _file_held(run_dir):
        pid = holding_pid(run_dir)  # its writer.lock deleted: the writer is there all the same
        return None if pid is None else removed_holder(pid)
    path = run_dir / names.WRITER_LOCK
    holder = read_holder(path)
    if holder is None or not _alive(holder, run_dir):  # a new holder writes its name now
        holder = current_holder(path)
    return holder if holder is not None else Holder(pid=0, host="?", since="?", command="?")


def living_holder(run_dir: Path) -> Holder | None:
    """``holder_of``, once this process's garbage is collected when the holder is this process.

    A session dropped without ``close`` holds its run until the garbage collector frees it
    (``_freed_by_collecting``): a refusal of its run id must not name it as a writer.
    """
    holder = holder_of(run_dir)
    if holder is not None and holder.this_process:
        let_go_kept(run_dir)
        gc.collect()
        holder = holder_of(run_dir)
    return holder


def refuse_if_held(run_dir: Path) -> None:
    """Raise ``RunHeld`` naming the process writing ``run_dir`` now; never takes the lock.

    For a writer that cannot take the lock at all (another user's run, a read-only mount):
    its refusal said how to make the directory writable, of a run a live writer holds.
    """
    if (holder := holder_of(run_dir)) is not None:
        raise held_refusal(run_dir, holder, advice=stop_advice(holder, run_dir))


def removed_holder(pid: int) -> Holder:
    """The writer ``pid`` that holds its run's directory, whose ``writer.lock`` was deleted."""
    said = f"{names.WRITER_LOCK} was removed while pid {pid} writes; do not delete it"
    verb = writer_verb(pid)
    return Holder(pid, socket.gethostname(), "unknown", f"{verb}: {said}" if verb else said)


def holder_soon(run_dir: Path) -> Holder | None:
    """``holder_of``, waiting a moment for one to appear.

    For a directory a writer has just created and is about to lock (``create_run`` makes
    the directory, then takes its lock).
    """
    return _within_a_moment(lambda: holder_of(run_dir))
