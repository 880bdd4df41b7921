"""The way out of an error the operating system gave, by its errno.

A run's files are refused for more reasons than a full disk: a process out of file
descriptors (``EMFILE``), a run directory made read-only (``EACCES``), a file system mounted
read-only (``EROFS``). A message names the cause the system gave (its ``strerror``) and, from
here, what to do about it; telling someone whose ``ulimit -n`` is too low to free disk space
sends them the wrong way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from .dirlock import takes_no_locks
from .oncefixed import ROOM_AGAIN, once_fixed
from .pathroom import no_room
from .tempdir import no_temporary_directory
from .text import command, shell_word

__all__ = [
    "ROOM_AGAIN",
    "OwnOSError",
    "cwd_gone",
    "cwd_kept",
    "errno_in",
    "errno_of",
    "fd_shortage",
    "not_writable",
    "once_fixed",
    "once_fixed_in",
    "oserror_of",
    "oserror_text",
    "said",
    "said_errno",
    "scratch_way_out",
    "unwritable_run",
    "way_out",
    "working_dir",
]


class OwnOSError(OSError):
    """An ``OSError`` of livesession's whose ``__init__`` takes other arguments than OSError's.

    It pickles and copies as itself, its attributes with it, as ``LiveSessionError`` does:
    OSError's own ``__reduce__`` rebuilt it as ``type(self)(errno, strerror, filename)``,
    which its ``__init__`` refused, so a worker process's (a ``JsonlIdempotencyStore`` on a
    FIFO) could not come back to its host, and broke the host's process pool.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuilt, (type(self), self.args, self.filename), self.__dict__ or None)


def _rebuilt(cls: type[OSError], args: tuple[Any, ...], filename: object) -> OSError:
    """``cls`` as OSError's ``__init__`` makes it from ``args``, without the subclass's."""
    error = cls.__new__(cls, *args)
    OSError.__init__(error, *args, *(() if filename is None else (filename,)))
    return error


_WAY_OUT: Final = {
    errno.EMFILE: "raise the open-file limit (`ulimit -n`)",
    errno.ENFILE: "the system's open-file table is full: close files elsewhere",
    errno.EROFS: "remount the file system read-write, or write elsewhere",
    errno.ENOSPC: "free space",
    errno.EDQUOT: "free space",
    errno.ENOLCK: (
        "its file system takes no locks (an NFS mount whose lock service is not running "
        "here): start that service, or use a local disk"
    ),
}
"""Only what is right whatever was refused: a permission denied may be a file's to read as
well as a directory's to write, so it has none here."""


def way_out(code: int | None) -> str:
    """What to do about the errno ``code`` (``raise the open-file limit ...``); "" if unknown."""
    return _WAY_OUT.get(code, "") if code is not None else ""


_SCRATCH_ROOM: Final = "give it room (it runs in a directory under TMPDIR)"
_SCRATCH_WAY_OUT: Final = {
    errno.EFBIG: "raise the file size limit (`ulimit -f`): its files grow as large as the run's",
    errno.EMFILE: _WAY_OUT[errno.EMFILE],
    errno.ENFILE: _WAY_OUT[errno.ENFILE],
}


def scratch_way_out(codes: Iterable[int]) -> str:
    """What lets a scratch run under ``TMPDIR`` (the evidence's re-run, the drill's) write.

    By the first errno its files met (``codes``, the recorder's ``errnos``): ``give it
    room`` by default. Under ``ulimit -f`` it said to give room to a ``TMPDIR`` with plenty.
    """
    return next((_SCRATCH_WAY_OUT[c] for c in codes if c in _SCRATCH_WAY_OUT), _SCRATCH_ROOM)


def said(error: OSError) -> str:
    """``error``'s cause and the way out, for a message: ``Too many open files: raise ...``."""
    if words := no_temporary_directory(error):  # tempfile's, which names no file
        return words
    cause = error.strerror or str(error)
    advice = way_out(error.errno)
    return f"{cause}: {advice}" if advice else cause


_ROOM_CODES: Final = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO)
_ROOM_WORDS: Final = {
    "database or disk is full": errno.ENOSPC,  # SQLite's SQLITE_FULL, which has no errno
    "under a file size limit": errno.EFBIG,  # SQLite's disk I/O error past `ulimit -f`
}


def errno_in(text: str) -> int | None:
    """The errno of a full disk, a quota, a file size limit, a read-only file system or EIO.

    As an error's ``text`` names it (its ``strerror``: ``No space left on device``); None
    for another. For an error read back from a log, which keeps no errno: a store's
    refusal names only the system's words, and SQLite's ``database or disk is full`` names
    none (``ENOSPC``).
    """
    for code in _ROOM_CODES:
        if os.strerror(code) in text:
            return code
    return next((code for words, code in _ROOM_WORDS.items() if words in text), None)


def once_fixed_in(error: BaseException, run_dir: Path) -> str:
    """``once_fixed`` of ``error``'s errno, for a run in ``run_dir``.

    A permission denied outside the run directory names the directory refused: the lease
    file's under ``OUT/.leases``, made read-only mid-run, was said as ``the run directory is
    writable again``, of a run directory that was.
    """
    found = oserror_of(error)
    code = None if found is None else found.errno
    if code in (errno.EACCES, errno.EPERM) and found is not None and found.filename:
        where = Path(os.fsdecode(found.filename)).absolute().parent
        if not where.is_relative_to(run_dir.absolute()):
            return f"{where} is writable again (permission denied: make it writable)"
    return once_fixed(code)


def said_errno(error: BaseException) -> str:
    """``ENOSPC: No space left on device``: the ``OSError`` behind ``error``, for a message.

    ``error``'s own text when no ``OSError`` is behind it.
    """
    found = oserror_of(error)
    if found is None:
        return str(error)
    name = errno.errorcode.get(found.errno or 0, f"errno {found.errno}")
    return f"{name}: {found.strerror or os.strerror(found.errno or 0)}"


def oserror_text(error: OSError) -> str:
    """``OSError: [Errno 28] No space left on device``: ``error`` without the file it names."""
    cause = f"[Errno {error.errno}] {error.strerror}" if error.errno else str(error)
    return f"{type(error).__name__}: {cause}"


def errno_of(error: BaseException | None) -> int | None:
    """The errno of ``error`` or of the first ``OSError`` it was raised from (None: none)."""
    found = oserror_of(error)
    return None if found is None else found.errno


def oserror_of(error: BaseException | None) -> OSError | None:
    """``error``, or the first ``OSError`` with an errno it was raised from (None: none)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:  # a cycle is not followed round
        if isinstance(error, OSError) and error.errno:
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def not_writable(directory: Path) -> int | None:
    """Why this process cannot make files in ``directory``: ``EROFS`` or ``EACCES``; None: it can.

    ``EROFS``: its file system is mounted read-only (for root too); ``EACCES``: the mode
    lets this user make no file there (root may write where the mode says no).
    """
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return errno.EROFS
    except (OSError, AttributeError):  # AttributeError: no statvfs on Windows
        pass
    if os.access(directory, os.W_OK | os.X_OK):
        return None
    return errno.EPERM if attribute_refuses(directory) else errno.EACCES


_FS_IOC_GETFLAGS: Final = 0x80086601
_IMMUTABLE: Final = 0x10  # FS_IMMUTABLE_FL
_IMMUTABLE_OR_APPEND: Final = _IMMUTABLE | 0x20  # FS_APPEND_FL
"""Linux's inode flags (``chattr +i``, ``chattr +a``): root may not write there either."""


def attribute_refuses(path: Path) -> bool:
    """Whether ``path`` is immutable or append-only (``chattr +i`` / ``+a``, Linux only).

    ``access`` says no of it to root too, and a write meets ``EPERM``: making it writable by
    its mode, which the line said, changes nothing. False where the flags cannot be read.
    """
    return bool(inode_flags(path) & _IMMUTABLE_OR_APPEND)


def _immutable(path: Path) -> bool:
    """Whether ``path`` is immutable (``chattr +i``): not even appended to (append-only is)."""
    return bool(inode_flags(path) & _IMMUTABLE)


def inode_flags(path: Path) -> int:
    """``path``'s inode flags (Linux's ``FS_IOC_GETFLAGS``, as ``lsattr`` reads them).

    0 where they cannot be read (another system, a file system without them).
    """
    try:
        import fcntl  # noqa: PLC0415 - POSIX only
        import struct  # noqa: PLC0415

        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
        )
    except (ImportError, OSError):
        return 0
    try:
        held = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, struct.pack("i", 0))
    except OSError:  # not a file system that has them
        return 0
    finally:
        os.close(fd)
    return int(struct.unpack("i", held)[0])


_SHORTER: Final = "move the run where its path is shorter, then resume it there"
_MAKE_WRITABLE: Final = {
    errno.EROFS: "remount its file system read-write",
    errno.EPERM: (
        "it is immutable or append-only (`lsattr -d` shows it): clear that as root (`chattr -i -a`)"
    ),
    errno.EACCES: "give this user write permission to it (or resume as the user who owns it)",
}


def unwritable_run(
    run_dir: Path,
    writes: Iterable[str] = (),
    appends: Iterable[str] = (),
    replaces: Iterable[str] = (),
) -> str | None:
    """Why ``livesession resume`` cannot continue ``run_dir`` where it is; None when it can.

    A resume writes into the run directory (its ``writer.lock``, the files it cuts back to
    the checkpoint and goes on appending to), so one on read-only media, or one this user
    may not write, is refused before anything is read, not on the lock's name. So is one
    holding a file of ``writes`` (the names a resume opens to write) this user may not
    write: another user's run in a directory of their group, whose database is not the
    group's to write, was cut back and appended to before the database refused. So is one
    on a file system that takes no locks (an NFS mount without its lock service): ``status``
    called it resumable, and ``resume`` then said ``No locks available``.

    What a resume does to each file decides what refuses it: a file of ``appends`` it only
    appends to, which an append-only attribute (``chattr +a``) does not refuse (an immutable
    one does); a file of ``replaces`` it renames a new one over, which an immutable or
    append-only one refuses whatever its mode (``status`` called such a run resumable, and
    the resume then failed part-way, its files cut back, unsealed again).
    """
    writes, appends, replaces = tuple(writes), tuple(appends), tuple(replaces)
    if room := no_room(run_dir, (*writes, *appends, *replaces)):  # a tail cut to a `.torn`
        return f"{room}, and a resume writes them: {_SHORTER}"
    code = not_writable(run_dir) if run_dir.is_dir() else None
    what, how = "the run directory", _MAKE_WRITABLE.get(code or 0, "")
    if code is None and _stopped_writing(run_dir, writes):
        code, how = errno.EROFS, _CHECK_AND_MOUNT
    if code is None and writes and takes_no_locks(run_dir / writes[0]):  # its writer.lock
        return (
            f"the run directory cannot be locked ({os.strerror(errno.ENOLCK)}), and a resume "
            f"locks it: {_WAY_OUT[errno.ENOLCK]}, then `{command('resume', run_dir)}` continues it"
        )
    resume = f"then `{command('resume', run_dir)}` continues it"
    if code is None:
        return _file_refused(run_dir, writes, appends, replaces, resume)
    said = f"{what} cannot be written ({os.strerror(code)})"
    return f"{said}, and a resume writes into it: {how}, {resume}"


def _file_refused(
    run_dir: Path,
    writes: tuple[str, ...],
    appends: tuple[str, ...],
    replaces: tuple[str, ...],
    resume: str,
) -> str | None:
    """``unwritable_run``'s words for the first file a resume cannot write as it does; None."""
    name = next((name for name in replaces if _replace_refused(run_dir / name)), None)
    if name is not None:
        return (
            f"its {name} cannot be replaced ({os.strerror(errno.EPERM)}), and a resume writes "
            f"a new one over it: {_attribute_fix(run_dir / name, 'which refuses that')}, {resume}"
        )
    refused = [name for name in writes if _write_refused(run_dir / name)]
    refused += [name for name in appends if _write_refused(run_dir / name, appended=True)]
    if not refused:
        return None
    name = refused[0]
    code, how = errno.EACCES, _MAKE_WRITABLE[errno.EACCES]
    if attribute_refuses(run_dir / name):  # root too: `access` says yes of append-only
        why = "which refuses " + (
            "its lines"  # immutable: append-only would take them
            if name in appends
            else "its cut back to the checkpoint"  # the line files
            if name.endswith(".jsonl")
            else "its writes in place"  # writer.lock, a database
        )
        code, how = errno.EPERM, _attribute_fix(run_dir / name, why)
    return (
        f"its {name} cannot be written ({os.strerror(code)}), and a resume writes "
        f"into it: {how}, {resume}"
    )


_PROBE: Final = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_CHECK_AND_MOUNT: Final = (
    "its file system stopped writing after an error, mounted read-write all the same (the "
    "kernel's log says which): unmount it, check it (fsck) and mount it again"
)


def _stopped_writing(run_dir: Path, writes: tuple[str, ...]) -> bool:
    """Whether ``run_dir``'s file system refuses writes (EROFS) that ``not_writable`` allows.

    A file system the kernel stopped writing after an error (ext4 mounted with
    ``errors=remount-ro``, which Linux 6 marks ``emergency_ro``) is still mounted read-write
    to ``statvfs`` and ``access``: only a write meets ``EROFS``. The first of ``writes``
    that is a regular file (a resume's ``writer.lock``, or ``events.jsonl``: never one
    whose locks are the process's, as SQLite's are) is opened to write and closed again,
    which writes nothing: no ``O_CREAT``, ``O_TRUNC`` or ``O_APPEND``, never through a link.
    """
    for name in writes:
        path = run_dir / name
        try:
            if not stat.S_ISREG(path.lstat().st_mode):
                continue
            os.close(os.open(path, _PROBE))
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                continue
            return exc.errno == errno.EROFS
        return False
    return False


def _write_refused(path: Path, *, appended: bool = False) -> bool:
    """A regular file at ``path`` that this user may not write (none, or a link: False).

    Append-only (``chattr +a``) too, which ``access`` allows even to root: a resume opens
    the file to cut it back to its checkpoint (``O_RDWR``, not ``O_APPEND``), which meets
    ``EPERM``, so ``status`` called the run resumable and ``resume`` then failed. Not of a
    file a resume only appends to (``appended``), which append-only lets it do: immutable.
    """
    try:
        regular = stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False
    flagged = _immutable(path) if appended else attribute_refuses(path)
    return regular and (not os.access(path, os.W_OK) or flagged)


def _replace_refused(path: Path) -> bool:
    """A regular file at ``path`` a new one may not be renamed over: immutable, append-only.

    Its mode does not matter (a rename writes the directory, not the file).
    """
    try:
        regular = stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False
    return regular and attribute_refuses(path)


def _attribute_fix(path: Path, why: str) -> str:
    """How to let a resume write ``path``, immutable or append-only (``chattr``)."""
    return (
        f"it is immutable or append-only (`lsattr` shows it), {why}: clear that as root "
        f"(`chattr -i -a {shell_word(os.fspath(path))}`)"
    )


def fd_shortage(needed: int) -> OSError | None:
    """The error opening ``needed`` more files at once would meet now (None: they open).

    A library that hides the errno (SQLite says only ``unable to open database file``) is
    asked this way whether it ran out of file descriptors: the files are opened (the null
    device) and closed again at once.
    """
    held: list[int] = []
    try:
        while len(held) < needed:
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError as exc:
        return exc
    finally:
        for fd in held:
            os.close(fd)
    return None


def working_dir() -> Path | None:
    """The working directory; None when it is gone (removed under the process)."""
    try:
        return Path.cwd()
    except OSError:
        return None


def cwd_gone(path: str | os.PathLike[str]) -> str | None:
    """Why the relative ``path`` leads nowhere: the working directory was removed.

    None when it leads somewhere: ``path`` is absolute, or the working directory is there.
    A process started in a directory removed since (``cd d && rmdir ../d``) has no directory
    a relative path can start from; an absolute one is found as anywhere else.
    """
    if Path(path).is_absolute() or working_dir() is not None:
        return None
    return (
        f"{os.fspath(path)} is a relative path, and the current directory no longer exists "
        "(it was removed): give an absolute path, or cd to a directory that exists"
    )


@contextlib.contextmanager
def cwd_kept() -> Iterator[None]:
    """Put the working directory back as it was when the block ends.

    A plug-in may ``os.chdir()`` inside a step; the CLI's relative paths (``--out``, the
    run directory it names in its messages) stay the user's once the session ended.
    """
    before = working_dir()  # None: removed already, nothing to go back to
    try:
        yield
    finally:
        if before is not None:
            with contextlib.suppress(OSError):  # removed meanwhile: nothing to go back to
                os.chdir(before)
