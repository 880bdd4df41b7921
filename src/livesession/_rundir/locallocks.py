"""A run directory on a mount whose locks are this host's only, said in the session log.

An NFS mount with ``nolock`` or ``local_lock=all`` (or ``posix``), or an SMB/CIFS mount with
``nobrl``, grants every lock on the client alone: ``writer.lock`` keeps a second writer on
this host away, and none on another host that mounts the same share, which takes the run's
lock as freely and writes it too. Nothing failed to tell (the lock was taken), so the run
went on as if it were the only writer. The kernel says such a mount's options in
``/proc/self/mountinfo``; a writer on one logs it once (``run_lock_local_only``, a
warning) as its log starts. Other file systems are taken at their word: a FUSE mount's
locks too, which are this host's only unless it implements them (docs/operations.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from .._support.logging import get_logger

__all__ = ["local_only_locks", "say_local_only_locks"]

MOUNTINFO: Final = Path("/proc/self/mountinfo")
_NFS: Final = frozenset({"nfs", "nfs4"})
_CIFS: Final = frozenset({"cifs", "smb3"})
_LOCAL: Final = frozenset({"nolock", "local_lock=all", "local_lock=posix", "nobrl"})


def local_only_locks(run_dir: Path) -> str:
    """How ``run_dir``'s mount keeps its locks on this host only (``nfs, nolock``), or ""."""
    try:
        device = run_dir.stat().st_dev
        lines = MOUNTINFO.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""  # no such directory, or no /proc: nothing to tell
    wanted = f"{os.major(device)}:{os.minor(device)}"
    for line in lines:
        match _fields(line):
            case (at, kind, options) if at == wanted:
                said = [option for option in options if option in _LOCAL]
                local = (kind in _NFS or kind in _CIFS) and said
                return f"{kind}, {' and '.join(said)}" if local else ""
            case _:
                continue
    return ""


def _fields(line: str) -> tuple[str, str, list[str]] | None:
    """A mountinfo line's device, file system type and its options; None if it lacks one.

    ``ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE OPTIONS``.
    """
    mount, _, fs = line.partition(" - ")
    match mount.split()[2:3], fs.split()[:3]:
        case [device], [kind, _, options]:
            return device, kind, options.split(",")
        case _:
            return None


def say_local_only_locks(run_dir: Path, run_id: str | None) -> None:
    """Log ``run_lock_local_only`` (a warning) when ``run_dir``'s locks are this host's only.

    ``run_id``: the run's, for its log line (None only where a lock is taken for no run).
    """
    if said := local_only_locks(run_dir):
        get_logger().warning(
            "run_lock_local_only",
            run_id=run_id,
            run_dir=str(run_dir),
            mount=said,
            detail="its file system's locks are this host's only: a livesession on another "
            "host that mounts it does not see this run's writer, and would write the run "
            "too; write each run directory from one host only (or mount it with locks)",
        )
