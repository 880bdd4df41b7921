"""The hidden temporary file an atomic write leaves beside its target when killed mid-write.

``atomic_write_bytes`` writes ``.<name>.<pid>.<n>.tmp`` beside ``<name>``, then renames it
over; a process killed between the two (SIGKILL, the OOM killer, a timer's ``timeout -s
KILL``, a power cut) leaves it there. ``tmp_target`` names the file one was for, so a tool
that lists a run's files tells a killed ``report``'s or ``prom``'s leftover from the run's;
``remove_dead_tmp_of`` removes the leftovers of a file's earlier, killed writes before it is
written again, so a rerun leaves nothing behind (one a live process writes now stays: its
rename would fail were it taken away). Its writer holds it (``hold_tmp``: a ``flock``) from
its creation until after the rename, and a clean-up removes only one no process holds,
whatever the pid in its name, as with the scratch directories below.

A scratch directory in the system's temporary directory (the evidence's determinism
re-run, the kill drill, a resume's copy of its idempotency store) is named for the process
that makes it, ``<prefix><pid>-<random>`` (``scratch_prefix``), and held by it, a ``flock``
on the directory, from ``make_scratch`` until ``remove_scratch``. Killed with its children
(``timeout -s KILL``, which signals the whole process group, the OOM killer, a service's
hard stop, a container's grace period ending), nothing of it removes it, and
``remove_dead_scratch`` removes it as the next one of its kind is made: one no process
holds. The kernel lets the lock go when its holder dies, whatever its PID namespace; a pid
tells nothing there: in containers every command is pid 1 of its own, and a sidecar's
process of the pid is not the owner, so a killed container's directories on a shared
volume were never removed (they are the pid of every process after it), and one of a live
owner whose pid was no process here would have been. A file system that takes no locks
holds none: there what cannot be told stays.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import glob
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "hold_tmp",
    "make_scratch",
    "pid_alive",
    "remove_dead_scratch",
    "remove_dead_tmp",
    "remove_dead_tmp_of",
    "remove_scratch",
    "scratch_prefix",
    "tmp_target",
]

_TMP: Final = re.compile(r"\.(?P<name>.+)\.(?P<pid>[0-9]+)\.(?P<n>[0-9]+)\.tmp", re.DOTALL)


def tmp_target(name: str) -> str | None:
    """The name of the file a temporary file named ``name`` was to replace; None: not one."""
    found = _TMP.fullmatch(name)
    return None if found is None else found["name"]


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (another user's too)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's process
        return True
    return True


def hold_tmp(fd: int, tmp: Path) -> bool:
    """Hold the temporary file ``tmp`` just made (``fd``) until ``fd`` is closed.

    A shared ``flock``, let go by the kernel when the process dies, whatever its PID
    namespace. False: a clean-up took it, before its lock, for a dead one's (its writer
    makes another). True with no lock held on a file system that takes no locks: the
    clean-ups keep every temporary file there.
    """
    return _held_shared(fd, tmp) is not False


def _held_shared(fd: int, path: Path) -> bool | None:
    """A shared ``flock`` on ``fd``, just opened at ``path``, and whether it is still there.

    True: held, ``path`` is still the file or directory ``fd`` is. False: a clean-up took it
    before the lock (it holds it a moment as it removes it). None: no locks here.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # a clean-up removing it holds it a moment
    except OSError:
        return None
    try:
        return os.path.samestat(os.fstat(fd), path.lstat())
    except FileNotFoundError:
        return False


def remove_dead_tmp_of(target: Path) -> None:
    """Remove the temporary files of ``target`` that processes which ended left beside it.

    Only ``.<target's name>.<pid>.<n>.tmp`` that no process holds (``hold_tmp``), whatever
    its pid (a killed container's is every container's own, 1): not a live writer's (a
    second ``prom`` writing the same file at once, this process's own), nor one that cannot
    be told (no locks there), nor any other file. Best effort: what cannot be removed stays,
    and the write that follows says any refusal of the directory itself.
    """
    prefix = f".{target.name}."
    for tmp in target.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        found = _TMP.fullmatch(tmp.name)
        if found is not None and found["name"] == target.name:
            _remove_unheld_tmp(tmp)


def remove_dead_tmp(directory: Path) -> None:
    """Remove the ``.<name>.<pid>.<n>.tmp`` files in ``directory`` of processes that ended.

    A process killed mid-write leaves one; one a process holds is being written now (a
    ``report`` or ``prom`` writing ``report.html`` or ``livesession.prom`` beside a run
    being resumed), and its rename would fail were its file taken away: it stays, as one
    that cannot be told does (no locks there). A name that carries no pid is a leftover.
    """
    for tmp in directory.glob(".*.tmp"):
        if _TMP.fullmatch(tmp.name) is not None:
            _remove_unheld_tmp(tmp)
        else:
            tmp.unlink(missing_ok=True)


def _remove_unheld_tmp(tmp: Path) -> None:
    """Remove the temporary file ``tmp`` if no process holds it; best effort.

    Held meanwhile (an exclusive lock), so that a writer that just made it waits for the
    end and makes another, and removed only while its name is still the file held.
    """
    try:
        held = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return  # gone, a symlink, or not ours to read: it stays
    with contextlib.suppress(OSError):
        _remove_if_unheld(held, tmp, Path.unlink)


def _remove_if_unheld(held: int, path: Path, remove: Callable[[Path], object]) -> None:
    """``remove(path)`` if no process holds it (``held``, opened at it), then close ``held``.

    Held meanwhile (an exclusive lock), so that a maker that just made it waits for the end
    and makes another; removed only while ``path`` is still what ``held`` is. OSError when a
    process holds it (``BlockingIOError``) or locks cannot be taken here: it stays.
    """
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.path.samestat(os.fstat(held), path.lstat()):
            remove(path)
    finally:
        os.close(held)


def scratch_prefix(prefix: str) -> str:
    """``mkdtemp``'s prefix for a scratch directory of this process: ``<prefix><pid>-``."""
    return f"{prefix}{os.getpid()}-"


def _opened(directory: Path) -> int:
    return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)


def make_scratch(prefix: str) -> tuple[Path, int | None]:
    """A new scratch directory ``<prefix><pid>-<random>``, and the descriptor that holds it.

    Held (a shared ``flock``) until ``remove_scratch`` closes the descriptor, or the
    process ends: ``remove_dead_scratch`` removes only one no process holds. A clean-up
    that took a directory just made, before its lock, for a dead one's removes it while
    this waits for the lock: another is made then. None holds it on a file system that
    takes no locks (``remove_dead_scratch`` leaves it there, live or not).
    """
    while True:
        made = Path(tempfile.mkdtemp(prefix=scratch_prefix(prefix)))
        try:
            held = _opened(made)
        except FileNotFoundError:  # removed as a dead one's already
            continue
        same = _held_shared(held, made)
        if same:
            return made, held
        os.close(held)
        if same is None:
            return made, None  # no locks here


def remove_scratch(made: Path, held: int | None) -> None:
    """Remove ``make_scratch``'s directory ``made``, then let go of it (``held``)."""
    try:
        shutil.rmtree(made, ignore_errors=True)
    finally:
        if held is not None:
            os.close(held)


def remove_dead_scratch(prefix: str) -> None:
    """Remove the scratch directories ``prefix`` names that processes which ended left.

    Only ``<prefix><pid>-<random>`` directories of this user, in the system's temporary
    directory, that no process holds (``make_scratch``), whatever their pid (a killed
    container's is every container's own, 1): a live one's (this process's too), one that
    cannot be told (no locks there) and any other name stay. Best effort: what cannot be
    removed stays.
    """
    named = re.compile(re.escape(prefix) + r"[0-9]+-[^-]+")
    with contextlib.suppress(OSError):
        for entry in Path(tempfile.gettempdir()).glob(f"{glob.escape(prefix)}*"):
            if named.fullmatch(entry.name) is None:
                continue
            with contextlib.suppress(OSError):
                info = entry.lstat()
                if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
                    _remove_unheld(entry)


def _remove_unheld(entry: Path) -> None:
    """Remove the directory ``entry`` if no process holds it; raise OSError if one does.

    Held meanwhile (an exclusive lock), so that its maker, had it just made it, waits for
    the end and makes another.
    """
    _remove_if_unheld(_opened(entry), entry, functools.partial(shutil.rmtree, ignore_errors=True))
