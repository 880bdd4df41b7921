"""One writer per run directory: an OS-level exclusive lock, and who holds it.

Every process that writes a run directory (a dry run, a resume, an embedding app that
opens one) holds ``writer.lock`` in it for its whole life. The lock is an open file
description (OFD) lock on Linux, ``fcntl(F_OFD_SETLK)``: the kernel drops it when the
holder exits or is killed, so a crash never leaves a stale lock, and unlike POSIX record
locks it is not released when some other descriptor of the same file closes in the same
process (a ``verify`` run in-process beside a live session cannot break it). Elsewhere
(macOS, BSD) ``flock`` gives the same guarantees except the query below. We use the
standard library rather than a package such as ``filelock`` because the readers need to
*query* the lock without taking it (``F_OFD_GETLK``): a reader that took even a shared
lock for an instant could make a starting writer fail.

The file's content names the holder (pid, host, since when, command) for the one-line
refusal a second writer prints and for ``livesession status``; the content alone proves
nothing (a killed holder leaves it behind), the lock does. Run directories are local: a
network file system's locks are not trusted here (one whose locks are this host's only is
said in the log: ``locallocks``). The readers' side, which never takes the
lock, is ``holderread``'s (re-exported here).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import json
import os
import socket
import sys
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Self

import attrs

from .._artifacts import names
from .._exceptions import RunDirectoryError
from .._support.dirlock import NO_LOCKS, whole_file
from .._support.fsutil import open_update, refuse_special
from .._support.logging import logs_on
from .dirhold import OFD_SETLK, hold_directory, open_directory
from .holder import Holder, held_refusal, writer_command
from .holderproc import CLI_WRITERS, not_a_cli_writer, stop_advice, stopped
from .holderread import (
    current_holder,
    holder_of,
    holder_soon,
    is_held,
    living_holder,
    refuse_if_held,
    removed_holder,
)
from .locallocks import say_local_only_locks
from .shellrefs import let_go_kept

__all__ = [
    "CLI_WRITERS",
    "Holder",
    "RunLock",
    "held_refusal",
    "holder_of",
    "holder_soon",
    "holds_a_run",
    "is_held",
    "living_holder",
    "not_a_cli_writer",
    "refuse_if_held",
    "stopped",
    "writer_command",
]


def _try_lock(fd: int) -> bool:
    try:
        if OFD_SETLK is not None:
            fcntl.fcntl(fd, OFD_SETLK, whole_file(fcntl.F_WRLCK))
        else:  # pragma: no cover - not Linux
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except PermissionError:  # some systems say EACCES for a held POSIX-style lock
        return False
    except OSError as exc:  # a file system that takes no locks, said as one whatever it said
        if exc.errno in NO_LOCKS and exc.errno != errno.ENOLCK:  # `Operation not supported`
            said = f"{os.strerror(errno.ENOLCK)} ({exc.strerror or exc})"
            raise OSError(errno.ENOLCK, said) from exc
        raise
    return True


def _freed_by_collecting(fd: int, run_dir: Path) -> bool:
    """Whether the lock is ``fd``'s once this process's garbage is collected.

    For a lock this very process holds: a session dropped without ``close`` lives on in a
    reference cycle until the garbage collector runs, and only then lets go of its run.
    A keeper of sessions (the testing kit's tracker) is asked first to keep that one
    weakly: a session its program dropped is then let go as it would be without it.
    """
    let_go_kept(run_dir)
    gc.collect()
    return _try_lock(fd)


@attrs.frozen
class _Before:
    """The lock file (and its directory's times) before a writer took it."""

    content: bytes | None
    times: tuple[int, int] | None
    dir_times: tuple[int, int] | None

    @classmethod
    def of(cls, run_dir: Path) -> _Before:
        try:
            info = run_dir.stat()
        except OSError:
            return cls(None, None, None)  # acquire reports the missing directory
        dir_times = (info.st_atime_ns, info.st_mtime_ns)
        path = run_dir / names.WRITER_LOCK
        try:
            refuse_special(path)  # a FIFO: ``acquire`` refuses it, never waits on it here
            info = path.stat()
            content = path.read_bytes()
        except OSError:
            return cls(None, None, dir_times)
        return cls(content, (info.st_atime_ns, info.st_mtime_ns), dir_times)

    def put_back(self, run_dir: Path, fd: int) -> None:
        """The lock file as it was, and its and the directory's times where this user may.

        Setting times is the owner's (or root's): of another user's run EPERM hid a refusal.
        """
        if self.content is None:
            (run_dir / names.WRITER_LOCK).unlink(missing_ok=True)
        else:
            os.ftruncate(fd, 0)
            os.pwrite(fd, self.content, 0)
            if self.times is not None:
                with contextlib.suppress(PermissionError):  # another user's file
                    os.utime(fd, ns=self.times)
        if self.dir_times is not None:
            with contextlib.suppress(PermissionError):  # another user's directory
                os.utime(run_dir, ns=self.dir_times)


_HELD: Final[weakref.WeakSet[RunLock]] = weakref.WeakSet()  # for ``_drop_in_child``
_TAKING: Final[set[int]] = set()  # opened by ``acquire``, not yet in a ``RunLock``


def holds_a_run() -> bool:
    """Whether this process holds any run's writer lock (cheap: a signal handler asks)."""
    return any(lock.held for lock in list(_HELD))


def _drop_in_child() -> None:
    """In a forked child: close its copies of every run lock, so only the writer holds one.

    An OFD lock (and a ``flock``) belongs to the open file description, which ``fork``
    shares with the child: a ``multiprocessing`` worker or a ``ProcessPoolExecutor`` pool
    (fork is Linux's default start method) kept the run held after the writer was killed
    or had closed it (``status`` said running; ``resume``, ``stop``, ``evidence`` refused).
    The child's ``RunLock`` objects say released, and never close a descriptor number again.
    """
    for lock in list(_HELD):
        lock.drop_fork_copy()
    for fd in list(_TAKING):
        _TAKING.discard(fd)
        os.close(fd)


os.register_at_fork(after_in_child=_drop_in_child)


def _write_name(fd: int, holder: Holder) -> None:
    # Overwrite, then cut: a reader never sees an empty file, only the old holder, the
    # new one, or a mix that does not parse (and then reads again).
    body = json.dumps(attrs.asdict(holder), sort_keys=True).encode() + b"\n"
    os.pwrite(fd, body, 0)
    os.ftruncate(fd, len(body))


def _close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        os.close(fd)


def _hold_directory(run_dir: Path, fd: int, before: _Before, opened: list[int]) -> None:
    """Hold ``run_dir`` itself too (``dirhold``), its lock file ``fd`` being ours now.

    The directory's descriptor goes into ``opened`` as it opens, for ``acquire`` to close.
    Refused (``RunHeld``, the lock file put back as it was) while another writer holds the
    directory: its ``writer.lock`` was deleted, and this one is a new file beside it.
    """
    dir_fd = open_directory(run_dir)
    if dir_fd is None:  # pragma: no cover - its lock file was just opened in it
        return
    opened.append(dir_fd)
    _TAKING.add(dir_fd)
    other = hold_directory(dir_fd)
    if other == os.getpid():  # a session this process dropped unclosed, perhaps
        gc.collect()
        other = hold_directory(dir_fd)
    if other is None:
        return
    before.put_back(run_dir, fd)
    raise held_refusal(run_dir, removed_holder(other), advice=stop_advice(None, run_dir))


def _lock_or_refuse(fd: int, run_dir: Path) -> None:
    """Take the lock of ``fd``, ``run_dir``'s lock file, or raise ``RunHeld`` naming the holder."""
    if _try_lock(fd):
        return
    holder = current_holder(run_dir / names.WRITER_LOCK)  # waits while it names a dead one
    own = holder is not None and holder.this_process and _freed_by_collecting(fd, run_dir)
    # Held only that moment (a refused resume puts the old name back as it lets go): free
    # now, so the refusal would name a process that holds nothing.
    if not own and not _try_lock(fd):
        raise held_refusal(run_dir, holder, advice=stop_advice(holder, run_dir))


def _let_go_taken(run_dir: Path, opened: list[int], before: _Before, *, ours: bool) -> None:
    """Close what a failed ``acquire`` opened; the lock file as it was when the lock was ours.

    A Ctrl-C (or a full disk refusing the holder's name) after the lock was taken left its
    descriptor open: the process held the run until it ended, and a second ``resume_run``
    of the crashed run in it was refused, naming the dead writer whose name was still there.
    """
    try:
        if ours:
            with contextlib.suppress(OSError):
                before.put_back(run_dir, opened[0])
    finally:
        _TAKING.difference_update(opened)
        _close_all(opened)
        opened.clear()


class RunLock:
    """The writer lock of one run directory, held from ``acquire`` until ``release``.

    Not reentrant: a second ``acquire`` on the same directory, in this process or any
    other, raises ``RunHeld`` while this one is held. A lock dropped without ``release``
    is let go when it is garbage-collected (a finalizer closes its descriptor): a session
    an application drops unclosed leaves a crashed run, not one held until the process ends.
    """

    def __init__(self, run_dir: Path, fds: list[int], holder: Holder, before: _Before) -> None:
        self.run_dir = run_dir
        self.holder = holder
        self._fd: int | None = fds[0]
        self._before = before
        # The lock file's, then the directory's (its hold on it): the very list ``acquire``
        # closes and empties should this fail, so the finalizer never closes them again.
        self._fds = fds
        self._let_go = weakref.finalize(self, _close_all, self._fds)
        self._let_go.atexit = False  # the process's end drops the lock anyway
        _HELD.add(self)
        _TAKING.difference_update(self._fds)

    @classmethod
    def acquire(cls, run_dir: Path, command: str, run_id: str | None = None) -> Self:
        """Take ``run_dir``'s writer lock, or raise ``RunHeld`` naming the holder.

        ``run_id``: the run's, which a line the lock logs names.

        Nothing in the run directory changes when the lock is refused: the lock file is
        opened without truncation, and rewritten only once the lock is ours.
        """
        path = run_dir / names.WRITER_LOCK
        before = _Before.of(run_dir)
        try:
            fd = open_update(path, create=True)  # never through a symlink; under the umask
        except FileNotFoundError:
            raise RunDirectoryError(f"{run_dir}: not a directory") from None
        except OSError as exc:
            raise RunDirectoryError(
                f"{run_dir}: cannot open {names.WRITER_LOCK}: {exc.strerror}"
            ) from None
        opened, ours = [fd], False
        try:
            _TAKING.add(fd)  # a child forked from here on must not keep it
            _lock_or_refuse(fd, run_dir)
            ours = True  # from here on the lock file is put back as it was, should this fail
            _hold_directory(run_dir, fd, before, opened)
            holder = Holder(
                pid=os.getpid(),
                host=socket.gethostname(),
                since=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                command=command,
            )
            _write_name(fd, holder)
            if logs_on():  # an application's log; the CLI's says it as it starts
                say_local_only_locks(run_dir, run_id)
            return cls(run_dir, opened, holder, before)
        except BaseException:
            _let_go_taken(run_dir, opened, before, ours=ours)
            raise

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Let the lock go (safe to call twice). The file stays: it is only a name."""
        self._fd = None
        self._let_go()  # closes the descriptor once: the last one of its description drops the lock

    def drop_fork_copy(self) -> None:
        """A forked child's copy: close its descriptors and never close those numbers again."""
        self._fd = None
        if (detached := self._let_go.detach()) is not None:
            _close_all(*detached[2])

    def renew(self) -> bool:
        """Put ``writer.lock`` back if it was deleted while this writer runs: whether it did.

        Asked at each checkpoint (one ``fstat``): the directory's lock (``dirhold``) kept
        the run this writer's, but whoever looks for the file finds none. A new file another
        process holds (a resume being refused) is left alone till the next checkpoint.
        """
        fd = self._fd
        if fd is None or os.fstat(fd).st_nlink:
            return False
        try:
            new = open_update(self.run_dir / names.WRITER_LOCK, create=True)
        except OSError:
            return False  # the directory itself is gone, or refuses: nothing to put back
        _TAKING.add(new)
        if not _try_lock(new):
            _TAKING.discard(new)
            os.close(new)
            return False
        _write_name(new, self.holder)
        self._fd = self._fds[0] = new
        _TAKING.discard(new)
        os.close(fd)  # the deleted file's: its lock goes with it
        return True

    def abandon(self) -> None:
        """Put the lock file back as it was, then let the lock go.

        For a writer that is refused after taking the lock (a resume whose run fails its
        checks): it leaves the run directory exactly as it found it.
        """
        fd = self._fd
        if fd is None:
            return
        try:
            self._before.put_back(self.run_dir, fd)
        finally:
            self.release()

    close = release
    """``Closable``: a session closes the lock it holds (``close_with``)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "held" if self.held else "released"
        return f"RunLock({str(self.run_dir)!r}, {state}, pid={self.holder.pid})"


if sys.platform == "win32":  # pragma: no cover
    raise ImportError("livesession run directories need a POSIX system (fcntl locks)")
