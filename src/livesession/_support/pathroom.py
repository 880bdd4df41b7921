"""Whether a directory's path leaves room for the names written in it (``PATH_MAX``).

The system takes no path longer than ``PATH_MAX`` bytes (4096 on Linux, its final NUL
included). A run directory whose own path fits made no promise for the files in it: a run
under a path a few bytes short of the limit was created, then stopped unsealed at its first
checkpoint (``cannot write checkpoint DIR/checkpoint.json: File name too long``), its
temporary ``.checkpoint.json.<pid>.<n>.tmp`` being longer than the file's name; and a crash
there could never be resumed (``DIR/state_snapshots.jsonl.torn: File name too long``, the
file a resume cuts a torn tail into). The room a name needs is its longest form: the name,
its ``.torn``, or its temporary file's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Final

__all__ = ["no_room"]

_FALLBACK_PATH_MAX: Final = 4096
_WIDEST_TMP: Final = len("..4194304.4294967295.tmp")
"""What a temporary file adds to a name: ``.NAME.<pid>.<n>.tmp``, Linux's widest pid and a
sequence number as wide as a 32-bit one; wider than ``.torn``."""


def _path_max(directory: Path) -> int:
    """``PATH_MAX`` of ``directory``'s file system (of its nearest existing parent)."""
    for place in (directory, *directory.parents):
        try:
            return os.pathconf(place, "PC_PATH_MAX")
        except (OSError, ValueError):
            continue
    return _FALLBACK_PATH_MAX


def no_room(directory: Path, names: Iterable[str]) -> str:
    """Why files of ``names`` cannot all be written in ``directory`` ("" when they can).

    ``directory`` as the files will be opened through it (relative or absolute).
    """
    size = len(os.fsencode(directory))
    widest = max((len(os.fsencode(name)) for name in names), default=-_WIDEST_TMP) + _WIDEST_TMP
    longest, limit = size + 1 + widest, _path_max(directory)
    if longest < limit:
        return ""
    return (
        f"its path is {size} bytes, and the files kept in it (with their temporary and "
        f"torn ones) would have paths of up to {longest}, more than the system takes "
        f"(PATH_MAX {limit}, its final NUL included)"
    )
