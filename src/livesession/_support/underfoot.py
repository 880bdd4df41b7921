"""Whether the file a sink appends to is still the one it wrote, as it left it.

A host's own tools touch a run directory while a run writes it: logrotate with a glob that
catches every ``*.jsonl`` cuts the file under the writer (``copytruncate``), or renames it
and makes an empty one at its name (``create``), or compresses the renamed one and removes
it (``compress``); a cleanup cron deletes it. Appending on regardless left a run that
failed ``verify`` without a word: its lines went on into the renamed file, or to the start
of the cut one. Before each write a sink asks here (one ``fstat`` and one ``stat``) and,
told what happened, writes nothing more: ``RunFileChanged`` (``ESTALE``: the descriptor no
longer names the file at the path) stops the run as a refused write does, naming the file,
what was done to it and where its lines are.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from .oserrors import OwnOSError

__all__ = ["RunFileChanged", "changed_under"]


class RunFileChanged(OwnOSError):
    """A run file was cut, replaced, moved or removed while a sink appended to it."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(errno.ESTALE, what, str(path))

    def __str__(self) -> str:
        return f"[Errno {self.errno}] {self.strerror}"


def changed_under(fd: int, path: Path, size: int) -> RunFileChanged | None:
    """What was done to ``path``, which ``fd`` appended ``size`` bytes to; None if nothing.

    A file at ``path`` that is ``fd``'s and ``size`` bytes long is as the sink left it.
    """
    held = os.fstat(fd)
    try:
        now = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        if not _is_directory(path.parent):  # the run directory itself went: its own words
            return None
        now = None
    if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
        if held.st_size < size:
            return RunFileChanged(
                path,
                f"{path.name} was cut from {size} to {held.st_size} bytes while this process "
                "appended to it (logrotate's copytruncate, `truncate`, `: >`): the lines "
                "it held are not in the run any more",
            )
        if held.st_size > size:
            return RunFileChanged(
                path,
                f"{path.name} grew by {held.st_size - size} bytes this process did not write "
                "(another process appends to it)",
            )
        return None
    if held.st_nlink == 0:
        done = "was removed" if now is None else "was removed and another file made in its place"
        return RunFileChanged(
            path,
            f"{path.name} {done} while this process appended to it (logrotate's compress, a "
            "cleanup's delete): the lines it held are not in the run any more",
        )
    moved = _other_name(path.parent, held.st_dev, held.st_ino)
    where = f"to {moved.name}" if moved is not None else "out of the run directory"
    made = " and another file made in its place (logrotate's create)" if now is not None else ""
    return RunFileChanged(
        path,
        f"{path.name} was moved {where}{made} while this process appended to it: its lines are "
        "there; move it back to its name before the run is resumed",
    )


def _other_name(folder: Path, dev: int, ino: int) -> Path | None:
    """The entry of ``folder`` that is the file ``(dev, ino)``, if any (a rotated name)."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.inode() == ino and entry.stat(follow_symlinks=False).st_dev == dev:
                return folder / entry.name
    return None


def _is_directory(folder: Path) -> bool:
    """Whether ``folder`` is (still) a directory: removed or moved, a write into it says so."""
    try:
        return folder.is_dir()
    except OSError:
        return False
