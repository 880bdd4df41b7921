"""What ``open_session`` does on the event loop's own thread: nothing that waits.

A host serving requests on the loop stalls for as long as a callback holds it. These tests
record the thread that performs each blocking call (a thread's start, a join, a file's
``fsync``, a directory's creation) instead of timing anything.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import TYPE_CHECKING

from livesession import DryrunConfig, open_session
from livesession.verify import verify_run

from _helpers import Sinks

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


class _Calls:
    """Which thread made each call of interest, by call."""

    def __init__(self) -> None:
        self.made: list[tuple[str, str, str]] = []  # (call, caller thread, what)
        self._lock = threading.Lock()

    def note(self, call: str, what: str) -> None:
        with self._lock:
            self.made.append((call, threading.current_thread().name, what))

    def on(self, thread: str, call: str) -> list[str]:
        return [what for made, by, what in self.made if made == call and by == thread]

    def off(self, thread: str, call: str) -> list[str]:
        return [what for made, by, what in self.made if made == call and by != thread]


def _recorded(monkeypatch: pytest.MonkeyPatch) -> _Calls:
    calls = _Calls()
    start, join = threading.Thread.start, threading.Thread.join
    fsync, mkdir = os.fsync, os.mkdir

    def starting(self: threading.Thread) -> None:
        calls.note("start", self.name.split("_")[0])
        start(self)

    def joining(self: threading.Thread, timeout: float | None = None) -> None:
        if timeout != 0:  # join(0) only asks whether it has ended: it never waits
            calls.note("join", self.name.split("_")[0])
        join(self, timeout)

    def fsyncing(fd: int) -> None:
        calls.note("fsync", str(fd))
        fsync(fd)

    def making(path: object, *args: object, **kwargs: object) -> None:
        calls.note("mkdir", str(path))
        mkdir(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(threading.Thread, "start", starting)
    monkeypatch.setattr(threading.Thread, "join", joining)
    monkeypatch.setattr(os, "fsync", fsyncing)
    monkeypatch.setattr(os, "mkdir", making)
    return calls


def test_the_loop_starts_one_thread_a_block_and_waits_for_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: with asyncio's debug mode on (``slow_callback_duration = 0.02``) entering and
    leaving an ``open_session`` block held the loop 20-30 ms on a busy machine: the loop's
    thread started four threads (the owner, a side thread at the first verb or read, one to
    seal the run, one more to end the owner thread) and joined two, each a wait for another
    thread to be scheduled. It now starts the owner thread only (the owner starts the side
    threads, a side thread the sealing one), joins none (a thread that has done its call is
    seen ended without waiting), and, as before, creates, writes and syncs nothing of the
    run directory."""
    calls = _recorded(monkeypatch)

    async def main() -> str:
        loop = threading.current_thread().name
        cfg = DryrunConfig(run_id="aio-loop", steps=200)
        async with open_session(cfg, out_dir=tmp_path) as session:
            await session.run_steps(20)
            await session.book()
            await session.result()
            await session.stop("done")
        return loop

    loop = asyncio.run(main())
    assert calls.on(loop, "start") == ["livesession-owner"]
    assert calls.on(loop, "join") == []
    assert calls.on(loop, "fsync") == []
    assert calls.on(loop, "mkdir") == []
    assert calls.off(loop, "fsync")  # the run's files were synced, on the session's threads
    assert str(tmp_path / "aio-loop") in calls.off(loop, "mkdir")
    assert "livesession-side" in calls.off(loop, "start")
    assert "livesession-spare" in calls.off(loop, "start")  # the sealing thread
    assert [t.name for t in threading.enumerate() if t.name.startswith("livesession-")] == []
    assert verify_run(tmp_path / "aio-loop").ok


def test_a_session_in_memory_starts_its_side_thread_off_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _recorded(monkeypatch)

    async def main() -> str:
        cfg = DryrunConfig(run_id="aio-loop-mem")
        async with open_session(cfg, **Sinks().kwargs()) as session:
            await session.run_steps(5)
            await session.kill("desk")
        return threading.current_thread().name

    loop = asyncio.run(main())
    assert calls.on(loop, "start") == ["livesession-owner"]
    assert calls.on(loop, "join") == []
