"""Durable file operations: atomic replacement and cutting a torn tail aside.

``atomic_write_bytes`` leaves either the old file or the complete new one, never a mix;
when it raises, no temporary file is left behind. (A process killed mid-write can leave a
hidden ``.<name>.<pid>.<n>.tmp`` next to the target; it is never mistaken for the target.)
A FIFO or a character device at the target (``/dev/null``) is written to, never replaced.
Cutting a torn tail aside (``truncate_to``) is ``torn.py``'s. ``raise_if_refused`` tells a file
a reader lacks (the run's to answer for) from one the host will not let it read.
A new file is made under the process umask; a rewrite keeps its file's mode (``filemode``).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import itertools
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from .crash import crashpoint
from .dirsync import fsync_dir
from .filemode import NEW_FILE_MODE, kept_mode, set_mode
from .madedir import in_made_dir
from .oserrors import OwnOSError
from .signals import held_stops
from .tmpfiles import hold_tmp

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "FileTooLarge",
    "NotAFile",
    "atomic_write_bytes",
    "atomic_write_set",
    "file_digest",
    "file_kind",
    "fsync_dir",
    "link_target",
    "open_append",
    "open_append_like",
    "open_regular",
    "open_update",
    "raise_if_refused",
    "read_regular",
    "refuse_special",
    "size_if_any",
]

_TMP_SEQUENCE = itertools.count()
_TMP_NAME_TRIES = 100
_NEW_FILE_MODE = NEW_FILE_MODE  # narrowed by the process umask; never others' to write
#: What a reader meets when the file is not there, or is no file: the run lacks it.
_LACKING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFDIR: "a directory",
    stat.S_IFREG: "a regular file",
}


class NotAFile(OwnOSError):
    """A path that is there but no regular file where one must be.

    A FIFO, a device, a socket; a symlink where none is followed. Its ``strerror`` says
    what it is: ``not a regular file (a FIFO)``; ``kind`` is the part in brackets.
    """

    def __init__(self, path: Path, mode: int, why: str = "") -> None:
        self.kind = file_kind(mode)
        super().__init__(errno.EINVAL, f"not a regular file ({self.kind}){why}", os.fspath(path))


class FileTooLarge(OwnOSError):
    """A file larger than its reader takes (``read_regular``): refused before it is read."""

    def __init__(self, path: Path, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        said = f"{size} bytes, more than the {limit} it may have"
        super().__init__(errno.EFBIG, said, os.fspath(path))


def file_kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, for a message: ``a FIFO``, ``a regular file``."""
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def size_if_any(path: Path) -> int | None:
    """The size of ``path`` itself (a link not followed); None when nothing is there."""
    try:
        return path.lstat().st_size
    except FileNotFoundError:
        return None


def link_target(path: Path) -> str:
    """Where the symlink ``path`` leads, as written in it ("" when it cannot be read)."""
    try:
        return str(path.readlink())
    except OSError:
        return ""


def atomic_write_bytes(
    path: Path, data: bytes, *, durable: bool = True, like: Path | None = None
) -> None:
    """Replace ``path`` with ``data`` atomically and (by default) durably.

    Writes a temporary file in the same directory, flushes and fsyncs it, renames it over
    ``path`` with ``os.replace`` and fsyncs the directory. Readers see the old content or
    the new content, never a partial file. On any error the temporary file is removed and
    the error propagates; ``path`` is then unchanged. With ``durable=False`` both fsyncs are
    skipped: still atomic for a killed process, not for a power cut.

    ``path`` a FIFO or a character device (``--output /dev/null``): ``data`` is written to
    it, as the shell's ``>`` would, and it is never replaced (a rename put a regular file in
    its place: as root, ``/dev/null`` was gone). A block device or a socket raises
    ``NotAFile``, nothing written. A symlink is replaced (the link, not what it points to).

    The new file keeps the mode of the regular file it replaces; where there is none, it
    takes ``like``'s (a regular file beside it), else the umask's.
    """
    path = Path(path)
    if _written_through(path, data):
        return
    tmp, held = _staged(path, data, durable=durable, name_write_errors=False, like=like)
    try:
        crashpoint("checkpoint_tmp")  # crash harness: a durable tmp file, not yet renamed
        tmp.replace(path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, IsADirectoryError):  # a directory where the file belongs
            raise IsADirectoryError(exc.errno, exc.strerror, str(path)) from exc
        raise
    finally:
        os.close(held)  # held until renamed or removed (tmpfiles.hold_tmp)
    if durable:
        fsync_dir(path.parent)


def atomic_write_set(
    files: Sequence[tuple[Path, bytes]], *, remake: bool = False, like: Path | None = None
) -> None:
    """Replace each path with its data, every one or none: a set of files read as one.

    Each file is written to a temporary file beside it and synced; only once every one is
    whole are they renamed into place. A refusal before that (a full disk, a quota) removes
    the temporary files and the directories this call made for them: every path is as it
    was, where writing them one by one left the first new and the next missing or old (an
    evidence bundle's ``manifest.json`` without its EV document, an empty ``--out``). The
    error is said of the file asked for, as ``atomic_write_bytes`` says it. A new file takes
    ``like``'s mode, as there.
    """
    made: list[Path] = []
    staged: list[tuple[tuple[Path, int], Path]] = []
    try:
        for path, data in files:  # directories made as needed (remake: again if taken away)
            write = functools.partial(_staged, path, data, like=like)
            staged.append((in_made_dir(path.parent, made, write, remake=remake), path))
        with held_stops():  # a Ctrl-C between two renames left a new manifest, an old EV
            for (tmp, _), path in staged:
                tmp.replace(path)
    except BaseException:
        for (tmp, _), _path in staged:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    finally:
        for (_, held), _path in staged:  # held until renamed or removed
            os.close(held)
    for directory in dict.fromkeys(path.parent for path, _ in files):
        fsync_dir(directory)


def _staged(
    path: Path,
    data: bytes,
    *,
    durable: bool = True,
    name_write_errors: bool = True,
    like: Path | None = None,
) -> tuple[Path, int]:
    """A temporary file beside ``path`` holding ``data`` (synced when ``durable``), held.

    The descriptor returned with it holds it (``tmpfiles.hold_tmp``): the caller closes it
    once the file is renamed or removed.

    It has the mode of the regular file at ``path``, else of the one at ``like``, else the
    umask's (``kept_mode``), set before a byte is written.

    A failure is said of the path asked for, not of the temporary file it would name: a
    missing directory as ``no such directory``, a refusal to create it (a read-only directory
    or file system) of ``path``, so that a caller can tell its output from anything else it
    touched; a failed write of ``path`` too with ``name_write_errors`` (a full disk). The
    temporary file is removed on any failure.
    """
    try:
        fd, tmp = _create_tmp(path)
    except FileNotFoundError as exc:
        raise FileNotFoundError(errno.ENOENT, "no such directory", str(path.parent)) from exc
    except OSError as exc:
        if exc.errno is None:  # no free temporary name: its own message says so
            raise
        raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
    try:
        with os.fdopen(fd, "wb", closefd=False) as handle:
            set_mode(fd, kept_mode(path, like))
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(fd)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.close(fd)
        if name_write_errors and isinstance(exc, OSError) and exc.errno and exc.filename is None:
            raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
        raise
    return tmp, fd


def _written_through(path: Path, data: bytes) -> bool:
    """Write ``data`` into the FIFO or character device at ``path``; False for anything else.

    Nothing is atomic or synced there: there is no file to replace. A FIFO with no reader
    waits for one, as ``echo > fifo`` does (a signal ends the wait). What became a regular
    file between the look and the opening is left to the atomic replacement.
    """
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False  # not there (or not reachable): creating the temporary file says why
    if stat.S_ISREG(mode) or stat.S_ISLNK(mode) or stat.S_ISDIR(mode):
        return False
    if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        raise NotAFile(path, mode, ": nothing is written to it")
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:  # /dev/full: said of the file asked for, as a regular file's is
        raise type(exc)(exc.errno, exc.strerror, os.fspath(path)) from exc
    finally:
        os.close(fd)
    return True


def open_regular(path: Path) -> int:
    """A descriptor reading the regular file ``path``; ``NotAFile`` for anything else.

    The opening never waits (a FIFO with no writer blocked ``open`` for ever, deaf to
    SIGTERM) and nothing is read before the check (``/dev/zero`` never ends: a reader ran
    out of memory). A directory raises ``IsADirectoryError``, as opening one to read did.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    mode = _settled(fd)
    if stat.S_ISREG(mode):
        return fd
    if stat.S_ISDIR(mode):  # as opening one to read says it (a reader's lack, not a refusal)
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
    raise NotAFile(path, mode)


def refuse_special(path: Path) -> None:
    """Raise ``NotAFile`` when ``path`` leads to a FIFO, a device or a socket (``stat``).

    For a reader that opens the file itself next (``Path.open``), so that it never waits on
    a FIFO nor reads ``/dev/zero`` without end. Anything else is left to that opening to
    say (a missing file, a directory: as they always were).
    """
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise NotAFile(path, mode)


def open_append(path: Path) -> int:
    """A descriptor appending to the regular file ``path`` (created if need be).

    Never through a symlink (``NotAFile``: a symlink planted in a run directory had a
    resume append to the file it led to), never into a FIFO or a device (``NotAFile``; a
    FIFO without a reader is refused at once, never waited for).
    """
    return _open_writing(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)


def open_append_like(path: Path, *like: Path) -> int:
    """``open_append``; a file it makes takes the mode of the first regular file of ``like``.

    Else the umask's (``kept_mode``).

    For a file of a run made late (``alerts.jsonl`` a resume makes anew): under the umask's
    bits it was readable by users a ``chmod`` of the run's files kept out.
    """
    made = not os.path.lexists(path)
    fd = open_append(path)
    if made:
        set_mode(fd, kept_mode(*like))
    return fd


def open_update(path: Path, *, create: bool = False, mode: int = _NEW_FILE_MODE) -> int:
    """A descriptor reading and writing the regular file ``path``, as ``open_append``.

    ``create``: made when missing, with ``mode`` (narrowed by the umask).
    """
    return _open_writing(path, os.O_RDWR | (os.O_CREAT if create else 0), mode)


def _open_writing(path: Path, flags: int, new_mode: int = _NEW_FILE_MODE) -> int:
    """``os.open`` with ``flags`` of a regular file only: no symlink followed, no FIFO waited on.

    ``O_NONBLOCK`` lets a FIFO's opening fail at once (``ENXIO``) rather than wait for a
    reader; it is cleared again once the descriptor is known to be a regular file's.
    """
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), new_mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):  # a symlink, a FIFO no one reads
            mode = _mode_of(path)
            if mode is not None and not stat.S_ISREG(mode):
                raise NotAFile(path, mode) from None
        raise
    mode = _settled(fd)
    if stat.S_ISREG(mode):
        return fd
    raise NotAFile(path, mode)


def _settled(fd: int) -> int:
    """``fd``'s ``st_mode``: a regular file's descriptor is made blocking, any other closed."""
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            os.set_blocking(fd, True)
            return mode
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return mode


def _mode_of(path: Path) -> int | None:
    """``path``'s own ``st_mode`` (a symlink's, not its target's); None when it is not there."""
    try:
        return os.lstat(path).st_mode
    except OSError:
        return None


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises:
        NotAFile: ``path`` is a FIFO, a device, a socket (nothing read).
        IsADirectoryError: it is a directory.
        FileTooLarge: it holds more than ``limit`` bytes (said before any is read, and
            again for a file that grew past it while it was read).
        OSError: it cannot be opened or read.
    """
    with os.fdopen(open_regular(path), "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        if size > limit:
            raise FileTooLarge(path, size, limit)
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(path, len(data), limit)
    return data


def _create_tmp(path: Path) -> tuple[int, Path]:
    # Names come from the pid and a counter rather than randomness; O_EXCL makes a leftover
    # from a dead process with a reused pid a reason to take the next name, not to clobber,
    # and one a clean-up took before its lock (tmpfiles.hold_tmp) a reason to make another.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_TMP_NAME_TRIES):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{next(_TMP_SEQUENCE)}.tmp")
        try:
            fd = os.open(tmp, flags, _NEW_FILE_MODE)
        except FileExistsError:
            continue
        if hold_tmp(fd, tmp):
            return fd, tmp
        os.close(fd)
    raise FileExistsError(f"could not create a temporary file next to {path}")


def file_digest(path: Path, limit: int | None = None) -> tuple[str, int]:
    """The SHA-256 (hex) and size in bytes of the file at ``path``, read in 1 MiB chunks.

    ``limit``: of its first ``limit`` bytes only (fewer when the file is shorter; the size
    says how many were read), as a data file's check reads the bytes a run recorded.
    A FIFO, a device or a socket raises ``NotAFile`` before a byte is read.
    """
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(open_regular(path), "rb") as stream:  # a FIFO or a device: NotAFile
        while limit is None or size < limit:
            block = stream.read(1 << 20 if limit is None else min(1 << 20, limit - size))
            if not block:
                break
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def raise_if_refused(exc: OSError, path: Path) -> None:
    """Raise ``exc``, naming ``path``, unless it says that ``path`` is not there to read.

    The tools that read a run are lenient about what the run lacks: a missing file, a
    directory in a file's place, a symlink loop are the run's to answer for, and each tool
    says them as it says any flaw (``metrics.json: missing``). A file that is there but that
    the host will not let them read (no permission, no file descriptor left, an I/O error)
    is not: taken for a flaw it made a clean sealed run look broken or tampered with. Call
    this in the ``except OSError`` of such a read: it returns for a lack, and raises for a
    refusal the ``OSError`` with ``path`` as its file name (a read that failed half-way has
    none), which the CLI says in one line and exit 2.
    """
    if isinstance(exc, _LACKING) or exc.errno == errno.ELOOP:
        return
    if exc.filename is not None:
        raise exc
    raise type(exc)(exc.errno, exc.strerror or str(exc), os.fspath(path)) from exc
