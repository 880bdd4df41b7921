"""Files appended to in whole lines: a line the file system refuses is taken back.

A buffered file that a full disk refuses part way keeps the rest of the line in its buffer
and writes it with the next line, or on close: one line nobody can read, in the middle of
the file once a resumed run appends after it. These write each line with ``os.write``
and cut a refused one back, so the file holds whole lines only; and a torn last line a
killed process left is set aside in ``<file>.torn`` before anything is appended to it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .fsutil import open_append, open_update
from .torn import truncate_to

__all__ = ["LineCarry", "LineLog", "append_whole", "file_identity", "set_aside_torn_line"]

_CHUNK = 65536


class LineCarry:
    """A file read in chunks, cut into lines: a line's start kept in pieces, joined once.

    Joined to each chunk as it came (``carry + chunk``), a line of many chunks was copied
    again with each: one line of 200 MB took ``verify`` 30 s, a sparse file of 20 GB longer
    than anyone waits. Here each byte is copied once into its line.
    """

    __slots__ = ("_pieces",)

    def __init__(self) -> None:
        self._pieces: list[bytes] = []

    def lines(self, chunk: bytes) -> list[bytes]:
        r"""The lines ``chunk`` ends, without their ``\n``; what follows the last is kept."""
        *ended, tail = chunk.split(b"\n")
        if ended:
            if self._pieces:
                ended[0] = b"".join([*self._pieces, ended[0]])
            self._pieces.clear()
        self._pieces.append(tail)
        return ended

    def rest(self) -> bytes:
        """What follows the last line end read (a torn line; empty after a whole file)."""
        return b"".join(self._pieces)


def append_whole(fd: int, data: bytes) -> None:
    """Append ``data`` to the ``O_APPEND`` descriptor ``fd`` whole, or not at all.

    A write the file system refuses part way (a full disk, a file size limit) is cut back
    to where it began and its ``OSError`` raised.
    """
    start = os.lseek(fd, 0, os.SEEK_END)
    left = memoryview(data)
    try:
        while left:
            left = left[os.write(fd, left) :]
    except OSError:
        with contextlib.suppress(OSError):  # a cut frees space; if even it fails, the
            os.ftruncate(fd, start)  # torn line is set aside before the next append
        raise


def file_identity(info: os.stat_result) -> tuple[int, int]:
    """The file a ``stat`` is of: its device and inode."""
    return info.st_dev, info.st_ino


def set_aside_torn_line(path: Path) -> None:
    """Move ``path``'s last line to ``<file>.torn`` when it has no newline (a torn write)."""
    fd = open_update(path)  # never through a symlink, never waiting on a FIFO
    try:
        size = end = os.fstat(fd).st_size
        while end > 0:
            start = max(0, end - _CHUNK)
            newline = os.pread(fd, end - start, start).rfind(b"\n")
            if newline >= 0:
                end = start + newline + 1
                break
            end = start
    finally:
        os.close(fd)
    if end < size:
        truncate_to(path, end)


class LineLog:
    """A text log appended to in whole lines (``print`` writes a line and its newline apart).

    Opening sets a torn last line aside, where the system lets it (a log is for people: one
    it refuses is left as it is). ``write`` raises what the system raised for a line, which
    is then not in the file.

    The log follows its path, as logging's ``WatchedFileHandler`` does: a file renamed or
    removed under it (logrotate's ``create`` and ``nocreate``) is let go, and the next line
    goes to the file now at the path, made if need be. Kept open, the renamed file took
    every later line: the run's ``session.log.jsonl`` stayed empty, and ``livesession
    kill`` never saw the answer the process logged there. An append (``O_APPEND``) is what
    makes ``copytruncate`` safe: after the cut the next line is at the file's new end, never
    at the old offset behind a run of NUL bytes. One ``stat`` per line: the session log
    holds few lines but at ``debug``.
    """

    def __init__(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            if path.exists():
                set_aside_torn_line(path)
        self._path = path
        self._fd = -1
        self._held: tuple[int, int] | None = None
        self._closed = False
        self._pending: list[str] = []
        self.refused = 0
        """Lines the system refused (raised to the writer, and not in the file)."""
        self.refusal: OSError | None = None
        """The first refusal, for the line that says the log is not whole."""
        # A file the system will not make (a full disk, no inode left) is no reason to stop:
        # each line tries again, and one it cannot take is refused as a line the disk
        # refuses is. It stopped the run, which had just been made, unsealed.
        with contextlib.suppress(OSError):
            self._fd = open_append(path)  # never through a symlink, a FIFO or a device
            self._held = file_identity(os.fstat(self._fd))

    def write(self, text: str) -> int:
        """Take ``text``; a line is appended once its newline comes."""
        self._pending.append(text)
        if text.endswith("\n"):
            line, self._pending = "".join(self._pending), []
            try:
                self._follow()
                append_whole(self._fd, line.encode("utf-8"))
            except OSError as exc:
                self.refused += 1
                self.refusal = self.refusal or exc
                raise
        return len(text)

    def _follow(self) -> None:
        """Open the file at the path when it is no longer the one held (a rotation).

        One that cannot be opened (the run directory removed, a symlink planted there: never
        written through) leaves the held file taking the line: a line kept somewhere, never
        one lost for want of a file. With no file held (none could be made yet), the line
        is refused with the error making one met.
        """
        if self._closed:
            return  # closed: nothing is reopened
        if self._fd >= 0:
            try:
                if file_identity(os.lstat(self._path)) == self._held:
                    return
            except FileNotFoundError:
                pass  # renamed away and no file made in its place: make it
            except OSError:
                return  # the path cannot be looked at: keep the file held
        try:
            fd = open_append(self._path)
        except OSError:
            if self._fd < 0:
                raise  # no file to take the line
            return
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._held = fd, file_identity(os.fstat(fd))

    def flush(self) -> None:
        """Nothing to do: each whole line went to the system when it was written."""

    def close(self) -> None:
        """Close the file (a part line never ended is dropped: it was never whole)."""
        self._closed = True
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)
