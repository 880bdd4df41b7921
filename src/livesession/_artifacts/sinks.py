"""Sinks for the run artifacts: files, open file objects, and memory.

The orchestrator writes bytes lines. Anything with ``write_line``/``flush``/``sync`` is
a sink; plain file objects (text or binary, as ``open(path, "w")`` gives) are wrapped.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Final

from .._exceptions import RunDirectoryError
from .._support.filemode import NEW_FILE_MODE
from .._support.fsutil import atomic_write_bytes, file_kind
from .._support.underfoot import changed_under
from .._typing import LineSink, MetricsSink
from .names import EVENTS

__all__ = [
    "FileLineSink",
    "FileMetricsSink",
    "FileObjectLineSink",
    "FileObjectMetricsSink",
    "MemoryLineSink",
    "MemoryMetricsSink",
    "as_line_sink",
    "as_metrics_sink",
    "line_sink_edge",
    "metrics_sink_edge",
]


_NOT_A_FILE_PATH: Final = frozenset(
    {errno.EEXIST, errno.EISDIR, errno.ENOTDIR, errno.ENOENT, errno.ELOOP, errno.ENXIO}
)
"""What opening a sink's file says of a path that cannot be one (not of the host's limits)."""

_NO_FOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_NO_WAIT: Final = getattr(os, "O_NONBLOCK", 0)

_BUFFER_SIZE: Final = 1 << 16
"""Bytes a file sink holds before it writes them out: 64 KiB, as the ``BufferedWriter`` it
replaced held, and written out at the same moments (a crash leaves the same bytes)."""


def _write_some(fd: int, data: bytes | bytearray) -> int:
    """``os.write``: the bytes stored, which may be fewer than given; none is no room."""
    stored = os.write(fd, data)
    if not stored:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return stored


class _Appended:
    """A file sink's file and the bytes it holds for it: what its finalizer flushes."""

    __slots__ = ("__weakref__", "broken", "buffer", "fd", "path", "size")

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path
        """Where the file is (absolute): a write first checks it is still there, as it was."""
        self.buffer = bytearray()
        self.size = os.fstat(fd).st_size
        """The file's length: whole lines only, once a torn tail is cut."""
        self.broken: OSError | None = None
        _OPEN.add(self)

    def drop_fork_copy(self, why: str = "a forked child does not write its parent's sink") -> None:
        """In a forked child: forget the bytes held and close the descriptor, writing nothing.

        The held bytes are the parent's, which writes them itself: a child that let its
        copy of a session go (``del``, a garbage collection, a ``multiprocessing`` worker
        dropping what it inherited) flushed them into the parent's ``events.jsonl`` too,
        lines repeated, and the run no longer verified. A write the child tries later is
        refused (``EBADF``, saying ``why``). A torn session's sink does the same
        (``FileLineSink.abandon``): its run may be another writer's by then.
        """
        self.buffer.clear()
        self.broken = OSError(errno.EBADF, why)
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def drain(self) -> None:
        """Write out every byte held; on a failure, keep the file to its whole lines.

        A write may store only part of what it is given (a full disk, a file size limit):
        the loop goes on until all is written or a write raises. Then the bytes of a line
        the file holds only in part are cut off again (``ftruncate``), and the lines not
        written stay held, from their first byte: a retry writes them whole, and
        ``FileLineSink.drop_unwritten`` gives them up.
        """
        if self.broken is not None:
            raise self.broken
        buffer = self.buffer
        if buffer and (changed := changed_under(self.fd, self.path, self.size)):
            self.broken = changed  # cut, moved or removed under it: never written again
            raise changed
        written = 0
        try:
            while written < len(buffer):  # no view of the buffer outlives a write: it is cut
                written += _write_some(self.fd, buffer[written:] if written else buffer)
        except BaseException:  # a refusal, or an interrupt between two writes
            self._keep_whole_lines(written)
            raise
        self.size += written
        buffer.clear()

    def _keep_whole_lines(self, written: int) -> None:
        """``written`` bytes of the buffer reached the file: cut a torn tail, hold the rest."""
        whole = self.buffer.rfind(b"\n", 0, written) + 1
        if whole < written:
            try:
                os.ftruncate(self.fd, self.size + whole)
            except OSError as exc:  # the torn tail stays: nothing may be appended to it
                self.broken = exc
        self.size += whole
        del self.buffer[:whole]

    def close(self) -> None:
        """Write out what is held and close the file (closed even when the write fails)."""
        if self.fd < 0:
            return
        try:
            if self.buffer:
                self.drain()
        finally:
            fd, self.fd = self.fd, -1
            os.close(fd)


_OPEN: Final[weakref.WeakSet[_Appended]] = weakref.WeakSet()  # for ``_drop_in_child``


def _drop_in_child() -> None:
    """In a forked child: drop its copies of every open file sink (see ``drop_fork_copy``)."""
    for appended in list(_OPEN):
        appended.drop_fork_copy()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_drop_in_child)


class FileLineSink:
    """Appends lines to a file it owns (held in 64 KiB); ``sync`` is fdatasync.

    A write the file system refuses part-way (a full disk, a file size limit) never leaves
    half a line behind: the file is cut back to its last whole line, and
    ``drop_unwritten`` gives up the lines it does not hold, which the session counts as lost.
    Nor does it write into a file that is no longer its own as it left it (cut, moved,
    removed, appended to by another process): the write raises ``RunFileChanged``
    (``ESTALE``), naming what was done, and every later one too.

    A sink dropped without ``close`` (with a session an application dropped unclosed)
    closes its file, flushing it, when it is garbage-collected; a forked child's copy
    writes nothing (the child closes it as it starts).

    It creates its file and never overwrites one: a file already at ``path`` is refused
    unless ``append=True``, which adds lines to it. A path that cannot be such a file (one
    that exists, a directory, one under a file, in a directory that does not exist; with
    ``append=True`` too, a symlink, a FIFO, a device: never written through) raises
    ``RunDirectoryError`` naming it; the host refusing it (no permission, no file
    descriptor left) raises its ``OSError``.
    """

    def __init__(self, path: str | os.PathLike[str], *, append: bool = False) -> None:
        self.path = Path(path)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | (0 if append else os.O_EXCL)
        try:
            # Never through a symlink, never waiting for a FIFO's reader (ENXIO: refused);
            # not inherited (PEP 446).
            fd = os.open(self.path, flags | _NO_FOLLOW | _NO_WAIT, NEW_FILE_MODE)
        except OSError as exc:
            if exc.errno not in _NOT_A_FILE_PATH:
                raise
            raise RunDirectoryError(_not_a_file(self.path, exc)) from exc
        appended: _Appended | None = None
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):  # a device: /dev/null would swallow the run
                raise RunDirectoryError(_not_regular(self.path, mode))  # noqa: TRY301
            os.set_blocking(fd, True)
            appended = self._file = _Appended(fd, self.path.absolute())
            self._buffer = appended.buffer
            # Within the ``try``: a Ctrl-C as the finalizer was set up left the file open.
            weakref.finalize(self, appended.close).atexit = False
        except BaseException:
            if appended is None:
                os.close(fd)
            else:
                appended.close()  # closes once: the finalizer, if set, then does nothing
            raise

    def write_line(self, line: bytes) -> None:
        """Append one line (held until 64 KiB would be exceeded, then written out)."""
        buffer = self._buffer
        if len(buffer) + len(line) > _BUFFER_SIZE:
            self._overflow(line)
        else:
            buffer += line

    def _overflow(self, line: bytes) -> None:
        """``line`` does not fit: the held lines go out first, then it is held or written.

        As a ``BufferedWriter`` does: a line longer than the buffer goes out at once. If
        the file system refuses, the line is not taken (the error is raised; the file holds
        none of it), so a retry of the same line never writes it twice.
        """
        self._file.drain()
        self._buffer += line
        if len(line) > _BUFFER_SIZE:
            try:
                self._file.drain()
            except BaseException:
                self._buffer.clear()  # only this line was held, and the file cut back to it
                raise

    def flush(self) -> None:
        """Write the held lines to the operating system."""
        self._file.drain()

    def sync(self) -> None:
        """Write the held lines and fdatasync."""
        self._file.drain()
        os.fdatasync(self._file.fd)

    def tell(self) -> int:
        """Bytes written so far (the file's length once flushed)."""
        return self._file.size + len(self._buffer)

    def drop_unwritten(self) -> bytes:
        """The lines taken that the file does not hold (a write refused them), now dropped.

        For the session once the sink is given up for good: it counts these lines as
        lost, so closing the sink must not write them after all.
        """
        lines = bytes(self._buffer)
        self._buffer.clear()
        return lines

    def close(self) -> None:
        """Write out and close (closed even when the write is refused, which then raises)."""
        self._file.close()

    def abandon(self) -> None:
        """Close without writing the lines held (a torn session's: lost, as in a crash)."""
        self._file.drop_fork_copy("a torn session's sink writes nothing more")

    def __repr__(self) -> str:
        return f"FileLineSink({str(self.path)!r})"


def _not_regular(path: Path, mode: int) -> str:
    """Why the symlink, FIFO, device or socket at ``path`` is no ``FileLineSink``'s file."""
    return (
        f"FileLineSink({str(path)!r}): {path} is not a regular file ({file_kind(mode)}): a "
        "sink appends only to a regular file, never through a symlink"
    )


def _not_a_file(path: Path, exc: OSError) -> str:
    """Why ``path`` cannot be a ``FileLineSink``'s file, from the error opening it gave."""
    shown = f"FileLineSink({str(path)!r})"
    with contextlib.suppress(OSError):
        mode = os.lstat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return _not_regular(path, mode)
    if path.is_dir():
        return (
            f"{shown}: {path} is a directory, not a file: give the path of a file to create "
            f"in it ({path / EVENTS}, say)"
        )
    if exc.errno == errno.EEXIST:
        return (
            f"{shown}: {path} already exists, and a sink never overwrites a file: give a path "
            "that does not exist yet, or pass append=True to add lines to it"
        )
    if exc.errno == errno.ENOTDIR:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), path.parent)
        return f"{shown}: {blocker} is a file, not a directory: {path} cannot be created in it"
    if exc.errno == errno.ENOENT:
        return f"{shown}: the directory {path.parent} does not exist: create it first"
    return f"{shown}: cannot create {path}: {exc.strerror or exc}"


class _FileObject:
    """An open file object given by the caller, written in its own mode (text or binary)."""

    def __init__(self, file: IO[Any]) -> None:
        self._file = file
        self._text = isinstance(file, io.TextIOBase)

    def _write(self, data: bytes) -> None:
        self._file.write(data.decode("utf-8") if self._text else data)


class FileObjectLineSink(_FileObject):
    """Wraps an open file object given by the caller (text or binary)."""

    def write_line(self, line: bytes) -> None:
        """Append one line."""
        self._write(line)

    def flush(self) -> None:
        """Flush the file object."""
        self._file.flush()

    def sync(self) -> None:
        """Flush, and fsync when the object has a file descriptor."""
        self._file.flush()
        try:
            fd = self._file.fileno()
        except (OSError, io.UnsupportedOperation):
            return
        os.fsync(fd)

    def __repr__(self) -> str:
        return f"FileObjectLineSink({getattr(self._file, 'name', '?')!r})"


class MemoryLineSink:
    """Keeps lines in memory (tests and embedding apps that forward lines elsewhere)."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write_line(self, line: bytes) -> None:
        """Keep one line."""
        self.lines.append(line)

    def flush(self) -> None:
        """Nothing to flush."""

    def sync(self) -> None:
        """Nothing to sync."""

    def getvalue(self) -> bytes:
        """All lines as one byte string."""
        return b"".join(self.lines)

    def __repr__(self) -> str:
        return f"MemoryLineSink({len(self.lines)} lines)"


class FileMetricsSink:
    """Replaces a metrics file atomically (tmp, fsync, rename, fsync dir)."""

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.path = Path(path)
        self._durable = durable

    def replace(self, content: bytes) -> None:
        """Replace the file (fsynced only when ``durable``)."""
        atomic_write_bytes(self.path, content, durable=self._durable)

    def __repr__(self) -> str:
        return f"FileMetricsSink({str(self.path)!r})"


class FileObjectMetricsSink(_FileObject):
    """Rewrites an open file object from the start (for callers that pass ``open(..., "w")``)."""

    def replace(self, content: bytes) -> None:
        """Truncate and rewrite."""
        self._file.seek(0)
        self._file.truncate()
        self._write(content)
        self._file.flush()


class MemoryMetricsSink:
    """Keeps the latest metrics document in memory."""

    def __init__(self) -> None:
        self.content = b""

    def replace(self, content: bytes) -> None:
        """Keep the document."""
        self.content = content

    def __repr__(self) -> str:
        return f"MemoryMetricsSink({len(self.content)} bytes)"


def _file_object(target: object, needs: str, what: str, edge: str = "") -> IO[Any]:
    """``target`` when it is a writable file object with ``needs``; else ``TypeError``.

    A file object that says it is not writable (``open(path)``, read-only; or closed) is
    refused here, when the session is built: taken, it failed the preflight on its first
    line (``SINK_WRITE_FAILED``, ``not writable``). Anything else is refused naming the
    ``edge`` it was given as, and for a path what would write a file there.
    """
    if hasattr(target, "write") and hasattr(target, needs):
        why = _not_writable(target)
        if not why:
            return target  # type: ignore[return-value]
        name = getattr(target, "name", None)
        named = f" {name!r}" if isinstance(name, (str, bytes, os.PathLike)) else ""
        msg = f"not a {what} or writable file object: {type(target).__name__}{named} {why}"
        raise TypeError(msg)
    msg = f"not a {what} or writable file object: {type(target).__name__}"
    if edge:
        msg = f"{edge}= got {_an(type(target).__name__)}, {msg.split(':')[0]}"
        if isinstance(target, (str, bytes, os.PathLike)):
            sink = "FileMetricsSink" if what == "metrics sink" else "FileLineSink"
            msg += f": for a file at that path give {edge}={sink}(path)"
    raise TypeError(msg)


def _an(name: str) -> str:
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _not_writable(target: object) -> str:
    """Why the file object ``target`` cannot be written, by its own ``writable()``; "" if it can.

    One without ``writable()`` is taken at its word (``write``).
    """
    writable = getattr(target, "writable", None)
    if not callable(writable):
        return ""
    try:
        if writable():
            return ""
    except ValueError:  # I/O operation on a closed file
        return "is closed"
    return "is not open for writing (open it with mode 'w' or 'a')"


def as_line_sink(target: object, edge: str = "") -> LineSink:
    """Use ``target`` as a line sink: a sink as it is, a file object wrapped."""
    if isinstance(target, LineSink):
        return target
    return FileObjectLineSink(_file_object(target, "flush", "sink", edge))


def as_metrics_sink(target: object, edge: str = "") -> MetricsSink:
    """Use ``target`` as a metrics sink: a sink as it is, a file object wrapped.

    A path is none, though a ``Path``'s ``replace`` looks like a sink's: it would rename
    its file to the metrics document, failing the run at its seal.
    """
    if isinstance(target, MetricsSink) and not isinstance(target, os.PathLike):
        return target
    return FileObjectMetricsSink(_file_object(target, "seek", "metrics sink", edge))


def line_sink_edge(edges: Mapping[str, object], edge: str) -> LineSink:
    """The session's ``edge`` (``event_sink``, ...) as a line sink: memory when not given."""
    sink = edges.get(edge)
    return MemoryLineSink() if sink is None else as_line_sink(sink, edge)


def metrics_sink_edge(edges: Mapping[str, object], edge: str) -> MetricsSink:
    """The session's ``edge`` (``metrics_sink``) as a metrics sink: memory when not given."""
    sink = edges.get(edge)
    return MemoryMetricsSink() if sink is None else as_metrics_sink(sink, edge)
