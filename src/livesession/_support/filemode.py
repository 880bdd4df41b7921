"""The permission bits a run's new and rewritten files take, and whose a file or process is.

A new file is made under the process umask (``umask 027`` keeps a run's files from other
users), from ``NEW_FILE_MODE`` (a directory: ``NEW_DIR_MODE``), which other users may never
write: under ``umask 000`` (a container's or a service's default) the audit trail, the
events and the checkpoint a resume trusts were made ``0666``, their directory ``0777``,
for any user of the host to rewrite or remove. The group keeps what the umask gives it
(``umask 002``: a desk's shared group writes its runs).

A file rewritten by a temporary file renamed over it (the checkpoint, metrics,
``timings.json``) would take the umask's bits again, and a ``.torn`` file made on a resume
would too: an operator's ``chmod`` of a run's files undone by the next checkpoint. So a
rewrite keeps the mode of the file it replaces, and a ``.torn`` file takes its original's.

``user_name`` names the user a uid is, for the words that tell an operator as whom to act.
"""

from __future__ import annotations

import os
import pwd
import stat
import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["NEW_DIR_MODE", "NEW_FILE_MODE", "kept_mode", "set_mode", "user_name"]

NEW_FILE_MODE: Final = 0o664
"""A new file's mode before the umask narrows it: ``0644`` under ``022``, never others' write."""
NEW_DIR_MODE: Final = 0o775
"""A new directory's mode before the umask narrows it, as ``NEW_FILE_MODE``."""


def user_name(uid: int) -> str:
    """The name of the user ``uid``, or ``uid N`` for one without a name (a container's)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


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
