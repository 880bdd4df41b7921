"""What to do when no temporary directory can be written, in the words of a message.

A resume reads its idempotency store from a copy, and ``evidence`` and the burn-in drill
re-run a run, in a directory under the system's temporary directory (``tempfile``:
``TMPDIR``, else ``/tmp``, ``/var/tmp``, ``/usr/tmp``, else the current directory). Where
none can be written (a container whose root file system is read-only, with ``TMPDIR``
unset or naming a directory that is not there) Python says ``No usable temporary directory
found in [...]`` and no more, which a command printed alone, without what to do.
"""

from __future__ import annotations

import errno
from typing import Final

__all__ = ["no_temporary_directory"]

_NONE_USABLE: Final = "No usable temporary directory found in "
"""The start of ``tempfile.gettempdir``'s ``FileNotFoundError`` when every candidate failed."""


def no_temporary_directory(error: BaseException) -> str:
    """``error`` as ``tempfile`` raises it for no usable temporary directory, with the fix.

    "" for any other error.
    """
    text = getattr(error, "strerror", None)
    if getattr(error, "errno", None) != errno.ENOENT or not isinstance(text, str):
        return ""
    if not text.startswith(_NONE_USABLE):
        return ""
    return (
        f"no temporary directory this user may write (tried {text[len(_NONE_USABLE) :]}): "
        "set TMPDIR to one (where the root file system is read-only, a writable volume such "
        "as a Kubernetes emptyDir)"
    )
