"""The permission bits a run's rewritten files keep.

A new file is made under the process umask (``umask 027`` keeps a run's files from other
users). A file rewritten by a temporary file renamed over it (the checkpoint, metrics,
``timings.json``) would take the umask's bits again, and a ``.torn`` file made on a resume
would too: an operator's ``chmod`` of a run's files undone by the next checkpoint. So a
rewrite keeps the mode of the file it replaces, and a ``.torn`` file takes its original's.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["kept_mode", "set_mode"]


def kept_mode(*paths: Path | None) -> int | None:
    """The permission bits of the first of ``paths`` that is a regular file; None: none is.

    A symlink is not followed (a rewrite replaces the link, not what it leads to).
    """
    for path in paths:
        if path is None:
            continue
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode):
            return stat.S_IMODE(mode)
    return None


def set_mode(fd: int, mode: int | None) -> None:
    """Give the file open at ``fd`` the permission bits ``mode`` (None: leave the umask's)."""
    if mode is not None and sys.platform != "win32":
        os.fchmod(fd, mode)
