"""One evidence at a time per run directory, and per directory a bundle goes into.

Two ``livesession evidence RUN`` at once both passed and both printed a manifest SHA-256,
but only the last one's ``manifest.json`` stayed on disk: the other hash matched no file,
and a reviewer checking it raised a false tamper alarm. The manifest and the EV document
were also written one after the other, so the pair on disk could come from two processes.
Evidence now holds an exclusive lock on the run directory (and on ``--out``'s, when that is
another directory that exists already) from before it reads anything until both files are
written; a second one is refused with ``RunHeld`` (the CLI's exit 3), nothing written.
An evidence whose bundle goes elsewhere holds the run directory's lock shared: others
like it read the run beside it, a resume and an evidence writing into the run do not. An
``--out`` made for the bundle is locked from the moment it is made (``BundleLock.made``),
and what another evidence wrote there meanwhile is refused the same way.

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

from .._artifacts import names
from .._exceptions import RunHeld, UsageError
from .._rundir.lock import holder_of
from .._rundir.seal import held_seal
from .._support.dirlock import lock_directory
from .._support.fsutil import file_kind
from .._support.madedir import make_dirs
from .._support.text import command, one_line

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["BundleLock", "bundle_lock", "refuse_a_writer", "refuse_another_bundle"]

_ATTEMPTS = 3
"""How often a directory made for the bundle is made and locked again when another process
took it away between the two (an evidence refused, removing the directory it had made)."""


class BundleLock:
    """The directories one evidence holds: the run's, and the bundle's once it exists."""

    def __init__(self) -> None:
        self._held: dict[tuple[int, int], int] = {}  # (st_dev, st_ino): its locked descriptor

    def hold(self, fd: int) -> None:
        """Keep ``fd`` (a directory's, locked) until the evidence ends."""
        info = os.fstat(fd)
        self._held[info.st_dev, info.st_ino] = fd

    def holds(self, directory: Path) -> bool:
        """Whether ``directory`` is one held here already."""
        try:
            info = directory.stat()
        except OSError:
            return False
        return (info.st_dev, info.st_ino) in self._held

    def release(self) -> None:
        """Let go of every directory held."""
        for fd in self._held.values():
            os.close(fd)  # the last descriptor of its description: the lock goes
        self._held.clear()

    @contextlib.contextmanager
    def made(self, target: Path, run_id: str) -> Iterator[None]:
        """``target`` made for the bundle of ``run_id`` (unless it is there) and held, or refused.

        An ``--out DIR`` missing when evidence started was locked by none: two evidences of
        two runs into one new ``DIR`` both wrote, and the second's ``manifest.json`` took the
        place of the first's beside the first's EV document. It is locked now from the moment
        it is made (or found made), and a ``manifest.json`` another evidence wrote there
        meanwhile is refused (``RunHeld``, the CLI's exit 3), nothing written. The
        directories made here are taken away again when the bundle is not written, while
        the lock is held: never one another evidence holds.

        Raises:
            RunHeld: another evidence holds ``target`` now, or wrote its bundle there.
            OSError: ``target`` cannot be made.
        """
        if self.holds(target):
            yield
            return
        made: list[Path] = []
        fd: int | None = None
        try:
            fd = _made_and_locked(target, made)
            if fd is not None:
                _refuse_written_meanwhile(target, run_id)
            yield
        except BaseException as exc:
            if fd is not None or isinstance(exc, OSError):  # never what another one holds
                for directory in reversed(made):
                    with contextlib.suppress(OSError):
                        directory.rmdir()
            raise
        finally:
            if fd is not None:
                os.close(fd)


def _made_and_locked(target: Path, made: list[Path]) -> int | None:
    """``target`` made (each missing directory on the way added to ``made``) and locked.

    Locked, it is checked to be the directory at ``target`` still: another evidence,
    refused, takes away the directory it made, and a lock on that one holds nothing.

    Raises:
        RunHeld: another evidence holds ``target``.
    """
    for _ in range(_ATTEMPTS):
        make_dirs(target, made)
        fd = _locked(target)
        if fd is None or _same(fd, target):
            return fd
        os.close(fd)
    raise _held(target, None)


def _same(fd: int, directory: Path) -> bool:
    """Whether ``fd`` is of the directory at ``directory`` now."""
    try:
        there = directory.stat()
    except OSError:
        return False
    info = os.fstat(fd)
    return (info.st_dev, info.st_ino) == (there.st_dev, there.st_ino)


def refuse_a_writer(run_dir: Path) -> None:
    """Refuse ``run_dir`` while a process holds it: evidence is of a finished run.

    One whose process sealed it and has not let it go yet (its session closes:
    ``held_seal``) is said so: its records are final, but the process still logs its last
    alerts' deliveries to ``alerts.jsonl``, which the manifest hashes with every file of the
    run. It said ``is being written by ...: wait for it to end`` of a sealed run.

    Raises:
        RunHeld: a process holds ``run_dir``.
    """
    holder = holder_of(run_dir)
    if holder is None:
        return
    status = command("status", run_dir)
    if held_seal(run_dir) is not None:
        raise RunHeld(
            f"{run_dir} is sealed, but {holder.describe()} has not let it go yet: as its "
            "session closes it hands the last alerts to the webhook, logging each to "
            f"{names.ALERTS}, which the evidence hashes with every file of the run, so "
            "nothing was written: it lets the run go within [alerts] timeout_ms and a second "
            f"(3 s at the default 2000 ms); run evidence again then (`{status}` says whether "
            "it has)"
        )
    raise RunHeld(
        f"{run_dir} is being written by {holder.describe()}: evidence is of a finished "
        f"run, so nothing was written (wait for it to end; `{status}` says where it is)"
    )


@contextlib.contextmanager
def bundle_lock(run_dir: Path, target: Path) -> Iterator[BundleLock]:
    """Hold ``run_dir`` and ``target`` (where the bundle goes) for one evidence, or refuse.

    A directory that cannot be opened is not locked: there is nothing there to protect, and
    what reads or makes it says what is wrong. A ``target`` missing now is held from the
    moment it is made (``BundleLock.made``).

    Raises:
        RunHeld: another evidence holds one of them now; nothing was written.
    """
    held = BundleLock()
    into_run = _into_run(run_dir, target)
    try:
        for directory in [run_dir] if into_run else _distinct(run_dir, target):
            fd = _locked(directory, shared=not into_run and directory is run_dir, into=into_run)
            if fd is not None:
                held.hold(fd)
        yield held
    finally:
        held.release()


def _into_run(run_dir: Path, target: Path) -> bool:
    """Whether ``target`` is ``run_dir`` itself: the bundle is written into the run.

    A bundle written elsewhere only reads the run, so it holds the run's lock shared: two
    reviewers' evidences of one run (each ``--out`` their own) were refused one another,
    `another livesession evidence is writing its bundle there` of a run neither wrote to.
    A resume (``locked_by``) and an evidence writing into the run still meet it.
    """
    with contextlib.suppress(OSError):
        return target.is_dir() and run_dir.samefile(target)
    return False


def _distinct(run_dir: Path, target: Path) -> list[Path]:
    """``run_dir``, and ``target`` when it is another directory that exists."""
    found = [run_dir]
    with contextlib.suppress(OSError):
        if target.is_dir() and not run_dir.samefile(target):
            found.append(target)
    return found


def _locked(directory: Path, *, shared: bool = False, into: bool = False) -> int | None:
    """A descriptor of ``directory`` holding its lock (None: it cannot be opened).

    ``shared``: the run's, read only; ``into``: the run's, the bundle written into it.
    """
    fd, holder = lock_directory(directory, shared=shared)
    if holder is not None:
        raise _held(directory, holder, into=into)
    return fd


def _held(directory: Path, holder: int | None, *, into: bool = False) -> RunHeld:
    """Another evidence holds ``directory`` (``holder``: its pid; -1 or None: unknown).

    ``into``: this one writes into the run, and the other may be one only reading it.
    """
    who = "another process" if holder is None or holder < 0 else f"another process, pid {holder}"
    reading = ", or is reading the run while this one would write into it" if into else ""
    return RunHeld(
        f"{directory}: another livesession evidence is writing its bundle there{reading} "
        f"(held by {who}); nothing was written (one evidence at a time: let it finish and "
        "read the manifest.json it prints the SHA-256 of, or run this one again then)"
    )


def _refuse_written_meanwhile(target: Path, run_id: str) -> None:
    """Refuse (``RunHeld``) a bundle of another run that another evidence wrote in ``target``.

    ``target`` was missing when this evidence started, so what is there now was written
    since; anything else there that is no bundle of ``run_id`` is refused as before.
    """
    path = target / names.MANIFEST
    try:
        found = orjson.loads(path.read_bytes()) if path.is_file() else None
    except (OSError, orjson.JSONDecodeError):
        found = None
    other = found.get("run_id") if isinstance(found, dict) else None
    if isinstance(other, str) and other != run_id:
        raise RunHeld(
            f"{target}: another livesession evidence wrote the bundle of run {one_line(other)} "
            "there meanwhile (manifest.json); nothing was written (a directory holds one "
            "run's bundle: write this one elsewhere with --out DIR)"
        )
    refuse_another_bundle(target, run_id)


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
    path = target / names.MANIFEST
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
