"""A tool's output file (``report --output``, ``prom --output``): written through a symlink.

``atomic_write_bytes`` never follows a symlink at the path it replaces: a run's own files
are written there, and a link planted among them must not aim a write elsewhere. An output
that its caller names is another matter. ``--output /dev/stdout`` (a link to
``/proc/self/fd/1``) had the link replaced by a regular file holding the output: as root,
``/dev/stdout`` was gone for every process on the machine. A link an operator keeps
(``textfile/run.prom -> /srv/metrics/run.prom``) was replaced the same way. ``write_output``
follows the link, as the shell's ``>`` does, and the link stays:

- to a descriptor of this process (``/dev/stdout``, ``/dev/fd/3``, ``/proc/self/fd/1``):
  the bytes go to that descriptor, where it stands (``{ echo; livesession prom ... --output
  /dev/stdout; } >> file`` appends, as any command's output would);
- to a regular file, or a name not there yet: that file is replaced atomically, by a
  temporary file beside *it* (``output_target``);
- to anything else (a terminal, a pipe, a FIFO, a character device): the bytes are written
  through it, nothing is replaced. A block device or a socket is refused (``NotAFile``).

A path that is no symlink is written as ``atomic_write_bytes`` writes it.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from pathlib import Path
from typing import Final

from .fsutil import NotAFile, atomic_write_bytes
from .tmpfiles import remove_dead_tmp_of

__all__ = ["output_target", "own_descriptor", "write_output"]

_MAX_HOPS: Final = 40  # as many links as the kernel follows in one path (ELOOP after)
_OWN_FDS: Final = re.compile(r"/proc/(?P<pid>\d+)(?:/task/\d+)?/fd|/dev/fd")
"""A directory whose entries are this process's descriptors (``/proc/self`` resolved)."""


def write_output(path: Path | str, data: bytes, *, like: Path | None = None) -> None:
    """Write ``data`` to ``path``, following a symlink there (see the module's docstring).

    A regular file it makes takes ``like``'s mode (``atomic_write_bytes``); one it replaces
    keeps its own.

    Raises:
        NotAFile: the path leads to a block device or a socket (nothing written).
        IsADirectoryError: it leads to a directory (``""``, ``"/"`` too: before, a
            ``ValueError`` from deep inside, ``PosixPath('.') has an empty name``).
        OSError: the system refused; the error names ``path`` (or the file it leads to,
            for a replaced one: ``output_target``).
    """
    path = Path(path)
    if not path.name:  # "" (the current directory) or "/": no file can be made there
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    fd = own_descriptor(path)
    if fd is not None:
        _write_all(fd, data, path)
        return
    target = output_target(path)
    if target is None:
        _write_through(path, data)
        return
    remove_dead_tmp_of(target)  # what a killed earlier write left beside it (tmpfiles.py)
    atomic_write_bytes(target, data, like=like)


def output_target(path: Path | str) -> Path | None:
    """The file ``write_output`` replaces for ``path``; None when it writes through it.

    ``path`` itself when it is no symlink; else the file the link leads to, resolved (a
    link to a name not there yet: the name, which is then created). None for a link to a
    descriptor of this process, or to anything but a regular file or a directory.

    Raises:
        OSError: the link cannot be followed (a loop: ``ELOOP``, no permission).
    """
    path = Path(path)
    if not path.is_symlink():
        return path
    _refuse_planted(path)
    if own_descriptor(path) is not None:
        return None
    try:
        mode: int | None = path.stat().st_mode
    except FileNotFoundError:
        mode = None  # a link to nothing yet: its target is created, as `>` creates it
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return None
    target = Path(os.path.realpath(path))
    if mode is not None and stat.S_ISREG(mode) and not _same_file(path, target):
        return None  # no name leads to it (an open file that was deleted): written through
    return target


def _refuse_planted(link: Path) -> None:
    """Refuse ``link`` if another user put it in a shared directory (``/tmp``), as Linux does.

    ``fs.protected_symlinks`` refuses to follow a link in a sticky, world-writable directory
    unless the link is the follower's or the directory owner's: another user's
    ``/tmp/r.html -> ~/.bashrc`` fails the shell's ``>``. This module reads the link itself
    and replaces what it leads to, which the kernel's check never sees: so it checks here.
    """
    try:
        owner, where = link.lstat().st_uid, link.parent.stat()
    except OSError:
        return
    shared = where.st_mode & (stat.S_ISVTX | stat.S_IWOTH) == stat.S_ISVTX | stat.S_IWOTH
    if shared and owner not in (os.geteuid(), where.st_uid):
        raise PermissionError(
            errno.EACCES,
            "another user's symlink in a shared directory (sticky, world-writable): "
            "not followed, as the system refuses it to the shell's >",
            os.fspath(link),
        )


def own_descriptor(path: Path) -> int | None:
    """The descriptor of this process that ``path`` names, itself or by its links; or None.

    ``/dev/stdout`` -> ``/proc/self/fd/1`` is 1. Each link is read as it is written (not
    resolved further), since the last one (``/proc/self/fd/1`` -> ``pipe:[1234]``) leads
    to no name.
    """
    here = path
    for _ in range(_MAX_HOPS):
        parent = Path(os.path.realpath(here.parent))
        match = _OWN_FDS.fullmatch(parent.as_posix())
        if match and here.name.isdigit() and match["pid"] in (None, str(os.getpid())):
            return int(here.name)
        try:
            link = here.readlink()
        except OSError:  # no link (or not there): no descriptor of ours
            return None
        here = parent / link  # an absolute link replaces the directory
    return None


def _same_file(path: Path, target: Path) -> bool:
    try:
        a, b = path.stat(), target.stat()
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _write_through(path: Path, data: bytes) -> None:
    """Open what ``path`` leads to and write ``data`` into it (a FIFO waits for a reader)."""
    mode = path.stat().st_mode
    if stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
        raise NotAFile(path, mode, ": nothing is written to it")
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, os.fspath(path)) from exc
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):  # a deleted file still open somewhere
            os.ftruncate(fd, 0)
        _write_all(fd, data, path)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes, path: Path) -> None:
    """Every byte of ``data`` to ``fd``, after what Python holds for it (stdout, stderr)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None and stream.fileno() == fd:
                stream.flush()
        except (AttributeError, OSError, ValueError):  # no descriptor (a test's capture)
            continue
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:  # said of the path asked for, as a regular file's error is
        raise type(exc)(exc.errno, exc.strerror, os.fspath(path)) from exc
