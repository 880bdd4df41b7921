"""Making a directory that another process may be making at the same moment."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from .filemode import NEW_DIR_MODE

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["in_made_dir", "make_dir", "make_dirs"]

_T = TypeVar("_T")

_ATTEMPTS = 3
"""How often ``in_made_dir`` makes a directory again that another process took away."""


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
        directory.mkdir(NEW_DIR_MODE)  # never others' to write, whatever the umask
    except FileExistsError:
        if directory.is_dir():
            return
        raise
    made.append(directory)


def make_dirs(directory: Path, made: list[Path]) -> None:
    """Make ``directory`` and each missing directory on the way, each as ``make_dir`` does."""
    for each in reversed([d for d in (directory, *directory.parents) if not d.exists()]):
        make_dir(each, made)  # not one another process made meanwhile


def in_made_dir(
    directory: Path, made: list[Path], write: Callable[[], _T], *, remake: bool = False
) -> _T:
    """``write()`` (which creates a file in ``directory``) once ``directory`` is made.

    Each missing directory on the way is made (``make_dir``: added to ``made``). A
    directory found made by another process can be taken away again before ``write``
    creates its file there: two ``burnin --out DIR`` started together, the one checking up
    front that it can make ``DIR`` (and removing it again) while the other, done, found it
    and wrote into it, which failed ``DIR: no such directory``. It is made again then, as
    any missing directory is, with ``remake``; once a file is in it, no other process takes
    it away. Not for a directory whose lock the caller holds (an evidence's ``--out``):
    made again, it is another directory, which nobody holds.

    Raises:
        OSError: a directory cannot be made, or ``write`` fails (``FileNotFoundError``
            too, after ``_ATTEMPTS`` tries, or one without ``remake``).
    """
    tries = _ATTEMPTS if remake else 1
    for attempt in range(1, tries + 1):
        make_dirs(directory, made)
        try:
            return write()
        except FileNotFoundError:
            if attempt == tries or directory.exists():
                raise
    raise AssertionError("unreachable")  # pragma: no cover
