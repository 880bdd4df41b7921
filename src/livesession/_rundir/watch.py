"""What a run's files gained since a moment: the operator commands' view of a live run.

``livesession stop``, ``kill`` and ``ack`` signal the process holding a run, then read its
answer from the run's own files (``control``): the events and session-log lines written
since the signal, and whether ``checkpoint.json`` holds them (only then does a crash keep
them).
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING

import attrs
import orjson

from .._artifacts import names
from .._support.wholelines import file_identity
from .livecut import checkpointed_bytes

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["RunWatch"]


def _whole_lines(data: bytes) -> list[bytes]:
    """Complete lines only: the writer may be in the middle of the last one."""
    return data[: data.rfind(b"\n") + 1].splitlines()


@attrs.define
class RunWatch:
    """The run's files from where they were when an operator's signal went out.

    ``livesession stop``, ``kill`` and ``ack`` read what the holder did from here: the new
    whole lines of ``events.jsonl`` and ``session.log.jsonl``, and whether the checkpoint
    holds them yet.
    """

    run_dir: Path
    offsets: dict[str, int] = attrs.field(factory=dict)
    waiting: str = ""
    """What the effect seen so far still lacks (for the timeout's line)."""

    files: dict[str, tuple[int, int]] = attrs.field(factory=dict)
    """The file each offset is in (device and inode), by name: a rotated log is another."""

    kept: int = 0
    """How many bytes of ``events.jsonl`` the checkpoint held at the mark."""
    unkept: bytes = b""
    """The bytes of ``events.jsonl`` after ``kept`` at the mark: the tail a resume cuts."""

    sent_ns: int | None = None
    """When the command sent its signal (``time.monotonic_ns``), once it did."""

    def sent(self) -> None:
        """The signal goes out now: an answer to one the holder took before is not to it."""
        self.sent_ns = time.monotonic_ns()

    def mark(self) -> None:
        self.kept = checkpointed_bytes(self.run_dir, names.EVENTS)  # before the tail: older
        for name in (names.EVENTS, names.SESSION_LOG):
            path = self.run_dir / name
            try:
                with path.open("rb") as stream:
                    info = os.fstat(stream.fileno())
                    if name == names.EVENTS and self.kept <= info.st_size:
                        stream.seek(self.kept)
                        self.unkept = stream.read()
            except OSError:
                self.offsets[name] = 0
                continue
            self.offsets[name] = info.st_size
            if name == names.EVENTS and self.unkept:
                self.offsets[name] = self.kept + len(self.unkept)
            self.files[name] = file_identity(info)

    def _events_from(self, data: bytes) -> int:
        """Where the new lines of ``events.jsonl`` begin, given its bytes from ``kept`` on.

        A holder that is a ``resume`` starting cuts the file back to its checkpoint (the
        torn tail to ``events.jsonl.torn``) and writes on from there: read from the mark,
        an answer that landed below it went unseen (``kill`` timed out, its kill switch
        tripped and checkpointed). So the tail is compared with what it held at the mark:
        from the first line that differs on, all is new (and is for good: the mark moves).
        """
        if not self.unkept or data.startswith(self.unkept):
            return self.offsets[names.EVENTS]
        same = 0
        for line in self.unkept.splitlines(keepends=True):
            if not line.endswith(b"\n") or not data.startswith(line, same):
                break
            same += len(line)
        self.unkept = b""
        self.offsets[names.EVENTS] = self.kept + same
        return self.kept + same

    def since(self, name: str) -> int:
        """The offset in ``name`` from which its lines came after the mark."""
        if name == names.EVENTS and self.unkept:
            self._ended_at(name)  # a cut since the mark moves it
        return self.offsets.get(name, 0)

    def _ended_at(self, name: str) -> list[tuple[int, dict[str, object]]]:
        """The new whole lines that are JSON objects, each with the offset its line ends at.

        A session log rotated since the mark (logrotate's ``create``: another file at the
        path; its ``copytruncate``: cut below the mark) is read from its start: all it holds
        came since. Read from the mark, the holder's answer went unseen, and ``kill`` timed
        out. ``events.jsonl`` is the record, never rotated: read from the mark, always.
        """
        start = self.offsets.get(name, 0)
        try:
            with (self.run_dir / name).open("rb") as stream:
                info = os.fstat(stream.fileno())
                rotated = self.files.get(name, file_identity(info)) != file_identity(info)
                if name == names.SESSION_LOG and (rotated or info.st_size < start):
                    start = self.offsets[name] = 0
                    self.files[name] = file_identity(info)
                if name == names.EVENTS and self.unkept:
                    stream.seek(self.kept)
                    data = stream.read()
                    start = self._events_from(data)
                    data = data[start - self.kept :]
                else:
                    stream.seek(start)
                    data = stream.read()
        except OSError:
            return []
        out = []
        for line in _whole_lines(data):
            start += len(line) + 1
            with contextlib.suppress(orjson.JSONDecodeError):
                record = orjson.loads(line)
                if isinstance(record, dict):
                    out.append((start, record))
        return out

    def new(self, name: str) -> list[dict[str, object]]:
        return [record for _, record in self._ended_at(name)]

    def events(self, *types: str) -> list[dict[str, object]]:
        return [e for e in self.new(names.EVENTS) if e.get("event_type") in types]

    def checkpointed(self, *types: str) -> bool:
        """Whether the run's checkpoint holds every event of ``types`` seen so far.

        Only then does a crash keep it: ``resume`` continues from the checkpoint, and an
        operator's action the checkpoint does not hold is cut with the torn tail.
        """
        ends = [end for end, e in self._ended_at(names.EVENTS) if e.get("event_type") in types]
        return bool(ends) and checkpointed_bytes(self.run_dir, names.EVENTS) >= ends[-1]

    def answer(self, event: str, sig: str) -> str | None:
        """The holder's ``outcome`` of its last ``event`` log line for the signal ``sig``, if any.

        The last: the answer to an earlier command for the same signal may land after this
        command's mark (that command returned on the effect before the holder logged its
        answer), and the holder answers one signal at a time, in order. None of those to a
        signal the holder took before this command sent its own (``taken_ns``): that one
        timed out, or returned on the effect, and its answer came late; this signal is
        answered after it.
        """
        said = None
        for record in self.new(names.SESSION_LOG):
            if record.get("event") == event and record.get("signal") == sig:
                taken = record.get("taken_ns")
                if isinstance(taken, int) and self.sent_ns is not None and taken < self.sent_ns:
                    continue
                said = str(record.get("outcome", ""))
        return said
