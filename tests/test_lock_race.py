"""Two writers racing for a run: the loser names the process that holds it, never a dead one.

A resume refused after it took the lock (the run is sealed, its files fail a check) puts the
lock file back as it found it, naming the crashed writer, and only then lets go. A second
resume that found the lock taken in that moment read that name for a moment, saw a dead
process, and was refused all the same: `DIR is being written by pid P ... (livesession
dryrun)`, P long gone, exit 3, when the run was free and its own refusal (or its resume)
was due.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import struct
import subprocess
import sys

import pytest

from livesession._artifacts import names
from livesession._exceptions import RunHeld
from livesession._rundir import holderread
from livesession._rundir.lock import RunLock


def _ofd_lock(path) -> int:
    """A write lock on ``path`` held by a descriptor of its own (as another process would)."""
    fd = os.open(path, os.O_RDWR)
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("@hhqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
    return fd


@pytest.mark.skipif(not hasattr(fcntl, "F_OFD_SETLK"), reason="OFD locks are Linux's")
def test_a_lock_held_only_a_moment_is_taken_not_refused_naming_a_dead_writer(tmp_path, monkeypatch):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = proc.pid  # reaped: no process has this pid now (a reuse within the test aside)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    path = run_dir / names.WRITER_LOCK
    crashed = {"pid": dead, "host": socket.gethostname(), "since": "2026-01-01T00:00:00Z"}
    path.write_text(json.dumps({**crashed, "command": "livesession dryrun"}), encoding="utf-8")
    blocker = _ofd_lock(path)  # the refused resume, holding the lock for a moment
    pauses = []

    def pause(_seconds: float) -> None:  # the moment passes: the refused resume lets go
        pauses.append(_seconds)
        if len(pauses) == 1:
            os.close(blocker)

    monkeypatch.setattr(holderread.time, "sleep", pause)
    try:
        taken = RunLock.acquire(run_dir, "livesession resume")
    except RunHeld as refused:  # pragma: no cover - the bug
        pytest.fail(f"refused naming a dead writer: {refused}")
    try:
        assert taken.holder.pid == os.getpid()
        assert json.loads(path.read_text(encoding="utf-8"))["command"] == "livesession resume"
    finally:
        taken.release()
    assert pauses  # it did wait for the name first


@pytest.mark.skipif(not hasattr(fcntl, "F_OFD_SETLK"), reason="OFD locks are Linux's")
def test_a_live_holder_is_still_refused_and_named(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    path = run_dir / names.WRITER_LOCK
    me = {"pid": os.getppid(), "host": socket.gethostname(), "since": "2026-01-01T00:00:00Z"}
    path.write_text(json.dumps({**me, "command": "livesession dryrun"}), encoding="utf-8")
    blocker = _ofd_lock(path)
    try:
        with pytest.raises(RunHeld, match=f"is being written by pid {os.getppid()} on "):
            RunLock.acquire(run_dir, "livesession resume")
    finally:
        os.close(blocker)
