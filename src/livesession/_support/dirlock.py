"""An exclusive ``flock`` on a directory itself, and who holds one.

``evidence`` holds its run directory (and the directory its bundle goes into) this way
while it reads the run and writes the bundle: a lock on the directory, not a file in it,
so the run's files stay as they are. A ``resume`` asks the same lock before it changes the
run: it cut the files back and wrote on while an evidence hashed and verified them, and
the bundle matched neither the run it read nor the run left on disk.

The kernel drops the lock when the process ends, however it ends.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Final

__all__ = ["flock_holder", "flock_waiter", "lock_directory", "locked_by"]

_PROC_LOCKS: Final = Path("/proc/locks")


def lock_directory(directory: Path) -> tuple[int | None, int | None]:
    """Take ``directory``'s exclusive ``flock``: ``(descriptor, None)``, or ``(None, holder)``.

    The descriptor holds the lock until it is closed. A directory that cannot be opened is
    not locked, and is no refusal: ``(None, None)``. A lock held elsewhere gives the pid
    holding it (``flock_holder``), or ``-1`` when that cannot be told; a file system
    without locks is said the same as a held one.
    """
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None, None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held (EWOULDBLOCK); or a file system without locks, said the same
        holder = flock_holder(fd)
        os.close(fd)
        return None, -1 if holder is None else holder
    return fd, None


def locked_by(directory: Path) -> int | None:
    """The pid (``-1``: unknown) holding ``directory``'s ``flock`` now, or None when free.

    The lock is taken for the moment it takes to ask, then let go.
    """
    fd, holder = lock_directory(directory)
    if fd is not None:
        os.close(fd)
    return holder


def flock_holder(fd: int) -> int | None:
    """The pid holding a ``flock`` on ``fd``'s file, from ``/proc/locks`` (Linux), or None."""
    return next((pid for waits, pid in _flocks(fd) if not waits), None)


def flock_waiter(fd: int) -> int | None:
    """The pid of a process blocked waiting for a ``flock`` on ``fd``'s file, or None."""
    return next((pid for waits, pid in _flocks(fd) if waits), None)


def _flocks(fd: int) -> list[tuple[bool, int]]:
    """The ``flock`` locks on ``fd``'s file in ``/proc/locks``: (waits for it, pid) each."""
    info = os.fstat(fd)
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        lines = _PROC_LOCKS.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        # Each line: number, FLOCK, ADVISORY, WRITE, pid, major:minor:inode, start, end; a
        # request blocked behind it has "->" after the number.
        fields = line.split()[1:7]
        waits = fields[:1] == ["->"]
        match fields[1:6] if waits else fields[:5]:
            case ["FLOCK", _, _, pid, at] if at == device and pid.isdigit():
                found.append((waits, int(pid)))
            case _:
                continue
    return found
