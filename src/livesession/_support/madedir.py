"""Making a directory that another process may be making at the same moment."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["make_dir"]


def make_dir(directory: Path, made: list[Path]) -> None:
    """Make ``directory`` (its parent exists) and add it to ``made``, unless it is there.

    Two ``evidence --out DIR`` started together both found ``DIR`` missing, and the one
    whose ``mkdir`` came second failed on ``File exists`` (exit 2, ``write it elsewhere``)
    for a directory that was there to write into. A directory made meanwhile is as good as
    one made here, but not this call's to take away again: it is not added to ``made``.

    Raises:
        OSError: it cannot be made, or a file that is no directory is there.
    """
    try:
        directory.mkdir()
    except FileExistsError:
        if directory.is_dir():
            return
        raise
    made.append(directory)
