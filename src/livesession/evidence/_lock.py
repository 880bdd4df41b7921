"""One evidence at a time per run directory, and per directory a bundle goes into.

Two ``livesession evidence RUN`` at once both passed and both printed a manifest SHA-256,
but only the last one's ``manifest.json`` stayed on disk: the other hash matched no file,
and a reviewer checking it raised a false tamper alarm. The manifest and the EV document
were also written one after the other, so the pair on disk could come from two processes.
Evidence now holds an exclusive lock on the run directory (and on ``--out``'s, when that is
another directory that exists already) from before it reads anything until both files are
written; a second one is refused with ``RunHeld`` (the CLI's exit 3), nothing written.

The lock is a ``flock`` on the directory itself, not a file in it: the run's files stay as
they are (the manifest's digests cover each, ``writer.lock`` too), and ``writer.lock``
stays the run's writers' (held by evidence, it would make the run look live to ``status``,
``verify`` and the evidence itself). So a sealed run, whose writer is gone, never blocks
evidence, and a run a process is writing is refused as before (``holder_of``). The kernel
drops the lock when the process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from .._exceptions import RunHeld, UsageError
from .._support.dirlock import lock_directory
from .._support.fsutil import file_kind
from .._support.text import one_line

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["bundle_lock", "refuse_another_bundle"]


@contextlib.contextmanager
def bundle_lock(run_dir: Path, target: Path) -> Iterator[None]:
    """Hold ``run_dir`` and ``target`` (where the bundle goes) for one evidence, or refuse.

    A directory that cannot be opened is not locked: there is nothing there to protect, and
    what reads or makes it says what is wrong.

    Raises:
        RunHeld: another evidence holds one of them now; nothing was written.
    """
    held: list[int] = []
    try:
        for directory in _distinct(run_dir, target):
            fd = _locked(directory)
            if fd is not None:
                held.append(fd)
        yield
    finally:
        for fd in held:
            os.close(fd)  # the last descriptor of its description: the lock goes


def _distinct(run_dir: Path, target: Path) -> list[Path]:
    """``run_dir``, and ``target`` when it is another directory that exists."""
    found = [run_dir]
    with contextlib.suppress(OSError):
        if target.is_dir() and not run_dir.samefile(target):
            found.append(target)
    return found


def _locked(directory: Path) -> int | None:
    """A descriptor of ``directory`` holding its lock (None: it cannot be opened)."""
    fd, holder = lock_directory(directory)
    if holder is not None:
        who = "another process" if holder < 0 else f"another process, pid {holder}"
        raise RunHeld(
            f"{directory}: another livesession evidence is writing its bundle there (held by "
            f"{who}); nothing was written (one evidence at a time: let it finish and read "
            "the manifest.json it prints the SHA-256 of, or run this one again then)"
        )
    return fd


def refuse_another_bundle(target: Path, run_id: str) -> None:
    """Refuse a ``target`` whose ``manifest.json`` is not a bundle of run ``run_id``.

    ``evidence A --out DIR`` then ``evidence B --out DIR`` replaced A's manifest with B's
    and exited 0: A's EV document stayed, beside a manifest of another run, and the SHA-256
    published for A matched no file. A bundle of the same run id is replaced, as its EV
    document is (the name holds the run id); anything else there is refused before any work.

    A ``manifest.json`` that is no regular file is refused unread: a FIFO held evidence
    waiting for ever, and a symlink was read through (another run's manifest named).

    Raises:
        UsageError: ``target/manifest.json`` is another run's, or no bundle, or no regular
            file; nothing written.
    """
    path = target / "manifest.json"
    try:
        mode = path.lstat().st_mode
    except OSError:
        return  # none there (or none to read): writing says what is wrong, if anything
    if not stat.S_ISREG(mode):
        raise UsageError(
            f"{path} is not a regular file ({file_kind(mode)}): evidence writes its bundle as "
            "regular files, so someone else put it there; nothing was read or written: "
            "write it elsewhere with --out DIR"
        )
    try:
        found = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        found = None
    except OSError:
        return  # none there (or none to read): writing says what is wrong, if anything
    other = found.get("run_id") if isinstance(found, dict) else None
    if other == run_id:
        return
    whose = (
        f"the evidence bundle of run {one_line(other)}"
        if isinstance(other, str)
        else "a manifest.json that is no evidence bundle"
    )
    raise UsageError(
        f"{target} holds {whose} (manifest.json), which the bundle of run {run_id} would "
        "replace; nothing was written: write it elsewhere with --out DIR"
    )
