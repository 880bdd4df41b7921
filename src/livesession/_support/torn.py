"""Cutting a file back to a known-good offset, with what was cut kept in ``<file>.torn``.

``truncate_to`` never silently throws bytes away: the tail goes to ``<file>.torn`` (made
durable first, with its original's mode) before the file is cut.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from .filemode import set_mode
from .fsutil import fsync_dir, open_append, open_update

__all__ = ["torn_path", "truncate_to"]


def torn_path(path: Path) -> Path:
    """Where ``truncate_to`` keeps the bytes it cut from ``path``: ``<file>.torn``."""
    path = Path(path)
    return path.with_name(path.name + ".torn")


def truncate_to(path: Path, offset: int) -> bytes:
    """Cut ``path`` back to ``offset`` bytes and return the bytes that were cut.

    The cut tail is appended to ``<file>.torn`` (created if needed) and made durable
    *before* the file is truncated, so a crash in between duplicates the tail but never
    loses it. Nothing is written when ``offset`` already equals the file size. When the
    tail cannot be set aside (a full disk), ``<file>.torn`` is put back as it was (an empty
    one made for it removed) and the ``OSError`` raised, ``path`` untouched.
    Raises ``ValueError`` when ``offset`` is negative or beyond the end of the file.
    """
    path = Path(path)
    with os.fdopen(open_update(path), "r+b") as handle:  # never through a symlink
        size = os.fstat(handle.fileno()).st_size
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= size:
            raise ValueError(f"cannot truncate {path} to offset {offset!r}: file has {size} bytes")
        if offset == size:
            return b""
        handle.seek(offset)
        tail = handle.read()
        torn = torn_path(path)
        _set_aside(torn, tail, stat.S_IMODE(os.fstat(handle.fileno()).st_mode))
        handle.truncate(offset)
        handle.flush()
        os.fsync(handle.fileno())
    fsync_dir(path.parent)
    return tail


def _set_aside(torn: Path, tail: bytes, mode: int) -> None:
    """Append ``tail`` to ``torn`` (never through a symlink), or leave ``torn`` as it was.

    A ``torn`` this makes gets ``mode`` (its original's) before a byte is written to it.

    A refused write (a full disk) puts it back: truncated to its old size, or removed when
    this made it; the ``OSError`` that refused the write is the one raised.
    """
    existed = os.path.lexists(torn)
    fd = open_append(torn)
    try:
        held = os.fstat(fd).st_size
        try:
            if not existed:
                set_mode(fd, mode)
            view = memoryview(tail)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):  # the error that brought us here is the one to say
                if existed:
                    os.ftruncate(fd, held)
                else:
                    torn.unlink()
            raise
    finally:
        os.close(fd)
