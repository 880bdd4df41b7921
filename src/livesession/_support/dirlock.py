"""An exclusive (or shared) ``flock`` on a directory itself, and who holds one.

``evidence`` holds its run directory (and the directory its bundle goes into) this way
while it reads the run and writes the bundle: a lock on the directory, not a file in it,
so the run's files stay as they are. A ``resume`` asks the same lock before it changes the
run: it cut the files back and wrote on while an evidence hashed and verified them, and
the bundle matched neither the run it read nor the run left on disk.

The kernel drops the lock when the process ends, however it ends.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
from pathlib import Path
from typing import Final

__all__ = [
    "FLOCK",
    "NO_LOCKS",
    "OFD_GETLK",
    "flock_holder",
    "flock_waiter",
    "lock_directory",
    "locked_by",
    "takes_no_locks",
    "whole_file",
]

_PROC_LOCKS: Final = Path("/proc/locks")

NO_LOCKS: Final = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL})
"""What a lock asked of a file system that takes none says: an NFS mount whose lock service
is not running here (``No locks available``), a FUSE or network file system without them.
No process can hold a lock there, a writer's neither: ``RunLock`` refuses to create or
resume a run on one (``cannot create run ...: No locks available``)."""

# struct flock { short l_type; short l_whence; off_t l_start; off_t l_len; pid_t l_pid; }
# padded to its 8-byte alignment: 32 bytes on the 64-bit Linux ABIs.
FLOCK: Final = struct.Struct("@hhqqi4x")
OFD_GETLK: Final[int | None] = getattr(fcntl, "F_OFD_GETLK", None)


def whole_file(lock_type: int) -> bytes:
    """A ``struct flock`` of ``lock_type`` over all of a file, for ``fcntl``."""
    return FLOCK.pack(lock_type, os.SEEK_SET, 0, 0, 0)


def takes_no_locks(path: Path) -> bool:
    """Whether the file system of the regular file ``path`` refuses to be asked for a lock.

    Asked as a reader asks who writes a run (``F_OFD_GETLK``), which takes no lock; never
    through a link. False when there is no such file, or nothing to ask (off Linux).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        if OFD_GETLK is None or not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        fcntl.fcntl(fd, OFD_GETLK, whole_file(fcntl.F_WRLCK))
    except OSError as exc:
        return exc.errno in NO_LOCKS
    finally:
        os.close(fd)
    return False


def lock_directory(directory: Path, *, shared: bool = False) -> tuple[int | None, int | None]:
    """Take ``directory``'s exclusive ``flock``: ``(descriptor, None)``, or ``(None, holder)``.

    ``shared``: a shared one instead, which other shared ones do not refuse (evidence that
    only reads the run directory, its bundle going elsewhere); an exclusive one, and a
    ``locked_by`` probe, still meet it.

    The descriptor holds the lock until it is closed. A directory that cannot be opened is
    not locked, and is no refusal: ``(None, None)``; nor is one on a file system that takes
    no locks (``NO_LOCKS``), where none can be held. A lock held elsewhere gives the pid
    holding it (``flock_holder``), or ``-1`` when that cannot be told.
    """
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None, None
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError as exc:  # held (EWOULDBLOCK); or a file system without locks
        holder = None if exc.errno in NO_LOCKS else flock_holder(fd) or -1
        os.close(fd)
        return None, holder
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
