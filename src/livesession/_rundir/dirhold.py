"""A writer's second hold on its run: a lock on the run directory itself.

``writer.lock`` is a file: deleted by hand while its writer runs (taken for a stale one),
the writer's lock stayed on an unlinked inode that no one else could see. ``status`` then
said the run crashed, ``stop`` that nothing held it, and a ``resume`` took a new
``writer.lock`` and wrote beside the first writer (repeated sequence numbers, time going
backwards). So every writer also holds a lock on its run directory, which deleting a file
cannot take away, from just after it takes ``writer.lock`` until it lets that go; and
``holder_of``, ``is_held`` and ``RunLock.acquire`` ask it too.

The lock is an open file description (OFD) lock, like ``writer.lock``'s: the kernel drops
it when the holder exits or is killed (a crashed run still resumes), and a forked child's
copy is closed (``lock._drop_in_child``). A directory opens read-only, so it is a *read*
lock; one writer per run still comes from ``writer.lock``, taken first. It is a ``fcntl``
lock, which never meets ``evidence``'s ``flock`` on the same directory (``dirlock``).
OFD locks name no pid (``F_OFD_GETLK`` and ``/proc/locks`` say -1), so the writer locks one
byte at the offset of its pid: a reader asking about the whole directory is told that
byte's offset. Elsewhere than Linux (no OFD locks) there is no such lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Final

from .._support.dirlock import FLOCK, NO_LOCKS, OFD_GETLK, whole_file

__all__ = [
    "FLOCK",
    "OFD_GETLK",
    "OFD_SETLK",
    "asked_lock",
    "hold_directory",
    "holding_pid",
    "open_directory",
]

# ``FLOCK`` (struct flock): ``lock`` packs the writer.lock file's with it too.
OFD_SETLK: Final[int | None] = getattr(fcntl, "F_OFD_SETLK", None)


def open_directory(run_dir: Path) -> int | None:
    """A descriptor of ``run_dir`` to ask or hold (``hold_directory``); None: it is gone."""
    try:
        return os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None  # no directory (a reader asks of any path): nothing holds it


def asked_lock(fd: int) -> tuple[int, int] | None:
    """The type and start of a lock that would conflict with a write lock on all of ``fd``.

    Never takes a lock (``F_OFD_GETLK``). None: nothing to ask, off Linux (no OFD locks), or
    on a file system that takes no locks (``NO_LOCKS``), where no writer can hold one:
    reading a run (``verify``, ``status``) needs none, and it said only ``No locks
    available``, exit 2, of a run on an NFS mount whose lock service was not running.
    """
    if OFD_GETLK is None:  # pragma: no cover - not Linux
        return None
    try:
        answer = fcntl.fcntl(fd, OFD_GETLK, whole_file(fcntl.F_WRLCK))
    except OSError as exc:
        if exc.errno in NO_LOCKS:
            return None
        raise
    kind, _, start, _, _ = FLOCK.unpack(answer)
    return None if kind == fcntl.F_UNLCK else (kind, int(start))


def _holding(fd: int) -> int | None:
    """The pid whose writer holds ``fd``'s directory, or None."""
    asked = asked_lock(fd)
    return None if asked is None else asked[1]


def holding_pid(run_dir: Path) -> int | None:
    """The pid of the writer holding ``run_dir`` itself now, or None. Never takes the lock."""
    fd = open_directory(run_dir)
    if fd is None:
        return None
    try:
        return _holding(fd)
    finally:
        os.close(fd)


def hold_directory(fd: int) -> int | None:
    """Hold the directory open as ``fd`` for this process; or the pid of the writer who does.

    None: it is this process's now, held until ``fd`` is closed (or there is no such lock
    here). A pid: another writer holds it (its ``writer.lock`` was deleted); ``fd`` is
    left open, unlocked, for the caller to close.
    """
    if OFD_SETLK is None:  # pragma: no cover - not Linux
        return None
    other = _holding(fd)
    if other is not None:
        return other
    fcntl.fcntl(fd, OFD_SETLK, FLOCK.pack(fcntl.F_RDLCK, os.SEEK_SET, os.getpid(), 1, 0))
    return None
