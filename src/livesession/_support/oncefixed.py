"""What must be so before an unsealed run is resumed, by the errno its refused write had.

Apart from ``oserrors`` (the way out of an error in general) so that each stays one module.
"""

from __future__ import annotations

import errno
import os
from typing import Final

__all__ = ["ROOM_AGAIN", "once_fixed"]

ROOM_AGAIN: Final = "the file system has room again"
"""When an unsealed run may be resumed after a full disk (and when no errno is known)."""

_ONCE: Final = {
    errno.EMFILE: "the open-file limit is raised (too many open files: `ulimit -n`)",
    errno.ENFILE: "the system's open-file table has room again (too many open files)",
    errno.EACCES: "the run directory is writable again (permission denied: make it writable)",
    errno.EPERM: (
        "the run directory is writable again (operation not permitted: an immutable or "
        "append-only attribute refuses it, as `lsattr` shows: `chattr -i -a`, as root; else "
        "make it writable)"
    ),
    errno.EROFS: (
        "the file system is writable again (read-only file system: remount it; one the kernel "
        "stopped writing after an error: unmount it, check it (fsck) and mount it again)"
    ),
    errno.ENOSPC: ROOM_AGAIN,
    errno.EDQUOT: "the disk quota has room again (disk quota exceeded: free space or raise it)",
    errno.EFBIG: "files may grow again (file too large: raise the file size limit, `ulimit -f`)",
    errno.EIO: "the disk answers again (input/output error: the kernel log says why)",
    errno.ENOENT: (
        "the run directory is back where it was (it was removed or moved: until then there is "
        "nothing to resume at that path; a moved one resumes at its new path)"
    ),
    errno.ENOTDIR: (
        "the run directory is back where it was (a file stands in its place, or in a "
        "directory's above it: until then there is nothing to resume at that path)"
    ),
    errno.ESTALE: (
        "the file is back at its name as the run left it (another tool moved, cut or removed "
        "it under the run, as said: `mv` a moved one back; a cut or removed one only a whole "
        "copy puts back; rotate, cut, move or delete none of a run's files but "
        "session.log.jsonl)"
    ),
}
"""Each errno a run's write meets, with what must be so before it is resumed: telling
someone whose run directory was removed, or whose ``ulimit -f`` is too low, to wait for
the disk to have room sends them the wrong way."""


def once_fixed(code: int | None) -> str:
    """What must be so before an unsealed run is resumed, for a write refused with ``code``.

    No errno known (a library that hides it): the file system has room again, the likely
    cause. An errno not listed: the cause, named by the system, is put right.
    """
    if code is None:
        return ROOM_AGAIN
    if code in _ONCE:
        return _ONCE[code]
    return f"what refused it is put right ({os.strerror(code).lower()})"
