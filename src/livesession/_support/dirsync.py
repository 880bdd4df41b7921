"""Syncing a directory's entries, on file systems that refuse to.

A new, renamed or removed file is durable once its directory is synced (``fsync`` on the
directory). Some file systems refuse that outright (``EINVAL``, or ``EOPNOTSUPP``): an SMB/CIFS
or 9p mount, some FUSE ones. Every run there failed before it began (``cannot create run
DIR: Invalid argument``), whatever its durability, ``none`` too: a sync the file system
cannot do was taken for a write it had refused. Such a refusal says nothing was lost; it
says only that the file system keeps no promise about when the entries reach its disk. So
it is taken as PostgreSQL takes it (``fsync_fname_ext``): the write goes on, and the log
says once, for each such file system a process meets, what it cannot promise. Any other
error (``EIO``: the entries may be lost) is raised, as before.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Final

from .logging import get_logger, logs_on

__all__ = ["NO_DIRECTORY_SYNC", "fsync_dir"]

NO_DIRECTORY_SYNC: Final = frozenset({errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP})
"""What ``fsync`` on a directory says on a file system that cannot sync one."""

_TOLD: Final[set[int]] = set()  # the devices whose refusal this process has logged


def fsync_dir(path: Path) -> None:
    """Make the directory entries of ``path`` (a directory) durable, where its file system can.

    A no-op on Windows, which cannot open a directory for syncing. A file system that
    refuses to sync a directory (``NO_DIRECTORY_SYNC``) is no error: it is logged once (a
    ``directory_sync_refused`` warning) while a log is on, and the caller goes on.
    """
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in NO_DIRECTORY_SYNC:
            raise
        _say_once(path, os.fstat(fd).st_dev, exc)
    finally:
        os.close(fd)


def _say_once(path: Path, device: int, error: OSError) -> None:
    """Log what a file system that will not sync ``path`` cannot promise, once per device."""
    if device in _TOLD or not logs_on():  # before the log is on: said at the next sync
        return
    _TOLD.add(device)
    get_logger().warning(
        "directory_sync_refused",
        run_id=None,  # a file system's, said once for every run this process writes there
        directory=str(path),
        error=error.strerror or str(error),
        detail="its file system does not sync directories: files are written and synced "
        "as the durability asks, but a file just created, renamed or removed there may be "
        "lost to a power cut or a crash of the host (never to a crash of this process); "
        "keep run directories on a local disk for that promise",
    )
