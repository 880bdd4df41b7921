"""An idempotency store in an append-only JSON Lines file.

One line per ``reserve`` and one per ``complete``, each fsynced before the call returns, so
a key that ``reserve`` handed out survives a crash. Lines look like::

    {"fingerprint":"9f2c...","key":"ls3a...","op":"reserve"}
    {"key":"ls3a...","op":"complete","outcome":"FILLED"}

On open the whole file is replayed into memory. A torn last line (no trailing newline, or
not JSON) is the trace of a write that never returned; it is moved to ``<file>.torn`` and
the file is cut back to the last whole line. Damage before the last line is not repaired:
it raises ``RunDirectoryError`` naming the file and the line.

A file cut, moved or removed under the open store (logrotate with a glob that caught
``*.jsonl``, a cleanup) is noticed before the next line is written to it (``changed_under``):
the store writes nothing more, and the write is refused naming the file and what was done.
Before, the keys went on into the renamed file, or at the start of the cut one, and a resume
opened a store without the keys already sent.

One store object per file: the file is locked (``flock``, POSIX) while the store is open.
A child forked while it is open (a ``multiprocessing`` or ``ProcessPoolExecutor`` worker)
closes its copy at once: the lock is the open file's, which fork shares, so the child kept
the file locked (the store reopened after a crash was refused) and could append to it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import weakref
from pathlib import Path
from typing import Any

import orjson

from .._exceptions import RunDirectoryError
from .._support.fsutil import fsync_dir, open_append
from .._support.torn import truncate_to
from .._support.underfoot import changed_under
from ._record import RecordStore, Stored

__all__ = ["JsonlIdempotencyStore"]


_OPEN: weakref.WeakSet[JsonlIdempotencyStore] = weakref.WeakSet()


def _close_in_child() -> None:
    """In a forked child: close its copies of the open stores (see the module docstring)."""
    for store in list(_OPEN):
        store.close()


class _BadRecordError(ValueError):
    """A line that is JSON but not a record this store could have written."""


class JsonlIdempotencyStore(RecordStore):
    """Reservations in an append-only JSONL file, replayed into memory when it opens.

    One line per ``reserve`` and per ``complete``, fsynced before the call returns (unless
    ``durable=False``); a torn last line is moved to ``<file>.torn`` on open (see the
    module docstring).

    Used from one thread at a time. ``torn_tail`` holds the bytes cut from the end of the
    file when it was opened (empty when the file was whole).
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.path = Path(path)
        self._where = self.path.absolute()  # a later chdir does not move it
        self._durable = durable
        self._entries: dict[str, tuple[str, str | None]] = {}
        self._failed = False
        existed = self.path.exists()
        # Never through a symlink planted in the run, never waiting on a FIFO (NotAFile).
        self._fd: int | None = open_append(self.path)
        _OPEN.add(self)
        try:
            _lock_exclusively(self._fd, self.path)
            if not existed:
                fsync_dir(self.path.parent)
            self.torn_tail = self._replay()
            self._size = os.fstat(self._fd).st_size
        except BaseException:
            self.close()
            raise

    def _insert(self, key: str, fingerprint: str) -> Stored | None:
        self._check_usable()
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        self._append({"op": "reserve", "key": key, "fingerprint": fingerprint})
        self._entries[key] = (fingerprint, None)
        return None

    def _set_outcome(self, key: str, outcome: str) -> bool:
        self._check_usable()
        entry = self._entries.get(key)
        if entry is None:
            return False
        self._append({"op": "complete", "key": key, "outcome": outcome})
        self._entries[key] = (entry[0], outcome)
        return True

    def _lookup(self, key: str) -> Stored | None:
        self._check_usable()
        return self._entries.get(key)

    def _every(self) -> list[tuple[str, Stored]]:
        self._check_usable()
        return list(self._entries.items())

    def close(self) -> None:
        """Release the file and its lock; safe to call more than once."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __repr__(self) -> str:
        return f"JsonlIdempotencyStore({str(self.path)!r}, keys={len(self._entries)})"

    def _check_usable(self) -> None:
        if self._fd is None:
            raise ValueError(f"idempotency store {self.path} is closed")
        if self._failed:
            raise ValueError(f"idempotency store {self.path} failed on an earlier write: reopen it")

    def _append(self, record: dict[str, Any]) -> None:
        assert self._fd is not None  # noqa: S101 - _check_usable ran first
        line = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
        size_before = self._size
        changed = changed_under(self._fd, self._where, size_before)
        if changed is not None:  # cut, moved or removed under the run (logrotate, a cleanup)
            self._failed = True
            raise changed
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view) :]
            if self._durable:
                os.fsync(self._fd)
        except OSError:
            # After a failed write or fsync nothing said about this file can be trusted
            # (fsync errors are not sticky); cut the partial line and refuse further use.
            self._failed = True
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, size_before)
            raise
        self._size = size_before + len(line)

    def _replay(self) -> bytes:
        data = self.path.read_bytes()
        position = 0
        line_number = 0
        while position < len(data):
            end = data.find(b"\n", position)
            if end == -1:
                return truncate_to(self.path, position)
            line_number += 1
            try:
                record = orjson.loads(data[position:end])
            except orjson.JSONDecodeError:
                if end + 1 == len(data):
                    return truncate_to(self.path, position)
                raise self._corrupt(line_number, "not valid JSON") from None
            try:
                self._apply(record)
            except _BadRecordError as error:
                raise self._corrupt(line_number, str(error)) from None
            position = end + 1
        return b""

    def _apply(self, record: object) -> None:
        if not isinstance(record, dict):
            raise _BadRecordError("not a JSON object")
        op = record.get("op")
        key = record.get("key")
        if not isinstance(key, str) or not key:
            raise _BadRecordError("missing key")
        if op == "reserve":
            fingerprint = record.get("fingerprint")
            if not isinstance(fingerprint, str) or not fingerprint:
                raise _BadRecordError("missing fingerprint")
            if key in self._entries:
                raise _BadRecordError("key reserved twice")
            self._entries[key] = (fingerprint, None)
        elif op == "complete":
            outcome = record.get("outcome")
            if not isinstance(outcome, str) or not outcome:
                raise _BadRecordError("missing outcome")
            entry = self._entries.get(key)
            if entry is None:
                raise _BadRecordError("completes a key that was never reserved")
            self._entries[key] = (entry[0], outcome)
        else:
            raise _BadRecordError("unknown op")

    def _corrupt(self, line_number: int, why: str) -> RunDirectoryError:
        return RunDirectoryError(
            f"{self.path}: line {line_number} is corrupt ({why}); only a torn last line is "
            "repaired automatically: restore the file from a backup or start a new run directory"
        )


def _lock_exclusively(fd: int, path: Path) -> None:
    if sys.platform == "win32":
        return
    import fcntl  # noqa: PLC0415 - POSIX only

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RunDirectoryError(
            f"{path} is already open in another idempotency store: close that one first "
            "(one store per file)"
        ) from None


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_close_in_child)
