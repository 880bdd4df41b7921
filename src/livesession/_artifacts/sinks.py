"""Sinks for the run artifacts: files, open file objects, and memory.

The orchestrator writes bytes lines. Anything with ``write_line``/``flush``/``sync`` is
a sink; plain file objects (text or binary, as ``open(path, "w")`` gives) are wrapped.
"""

from __future__ import annotations

import io
import os
import weakref
from pathlib import Path
from typing import IO, Any

from .._support.fsutil import atomic_write_bytes
from .._typing import LineSink, MetricsSink

__all__ = [
    "FileLineSink",
    "FileMetricsSink",
    "FileObjectLineSink",
    "FileObjectMetricsSink",
    "MemoryLineSink",
    "MemoryMetricsSink",
    "as_line_sink",
    "as_metrics_sink",
]


class FileLineSink:
    """Appends lines to a file it owns (binary, buffered); ``sync`` is fsync.

    A sink dropped without ``close`` (with a session an application dropped unclosed)
    closes its file, flushing it, when it is garbage-collected.
    """

    def __init__(self, path: str | os.PathLike[str], *, append: bool = False) -> None:
        self.path = Path(path)
        self._file: IO[bytes] = self.path.open("ab" if append else "xb", buffering=1 << 16)
        weakref.finalize(self, self._file.close).atexit = False

    def write_line(self, line: bytes) -> None:
        """Append one line."""
        self._file.write(line)

    def flush(self) -> None:
        """Flush the buffer to the operating system."""
        self._file.flush()

    def sync(self) -> None:
        """Flush and fdatasync."""
        self._file.flush()
        os.fdatasync(self._file.fileno())

    def tell(self) -> int:
        """Bytes written so far (the file's length once flushed)."""
        return self._file.tell()

    def close(self) -> None:
        """Flush and close (closed even when the flush is refused, which then raises)."""
        if not self._file.closed:
            self._file.close()

    def __repr__(self) -> str:
        return f"FileLineSink({str(self.path)!r})"


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


def _file_object(target: object, needs: str, what: str) -> IO[Any]:
    """``target`` when it is a writable file object with ``needs``; else ``TypeError``."""
    if hasattr(target, "write") and hasattr(target, needs):
        return target  # type: ignore[return-value]
    msg = f"not a {what} or writable file object: {type(target).__name__}"
    raise TypeError(msg)


def as_line_sink(target: object) -> LineSink:
    """Use ``target`` as a line sink: a sink as it is, a file object wrapped."""
    if isinstance(target, LineSink):
        return target
    return FileObjectLineSink(_file_object(target, "flush", "sink"))


def as_metrics_sink(target: object) -> MetricsSink:
    """Use ``target`` as a metrics sink: a sink as it is, a file object wrapped."""
    if isinstance(target, MetricsSink):
        return target
    return FileObjectMetricsSink(_file_object(target, "seek", "metrics sink"))
