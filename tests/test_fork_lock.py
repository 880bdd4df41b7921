"""A forked child never holds its parent's run: only the writer holds the writer lock.

The lock is an OFD lock on an open file description, which ``fork`` shares with the
child (``multiprocessing``'s default start method on Linux, ``ProcessPoolExecutor``). A
child here blocks on a pipe the test holds, so it outlives the writer for as long as the
test needs and ends the moment the pipe closes: nothing waits on wall time.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from livesession import DryrunConfig, FileLineSink, create_run
from livesession._rundir.lock import RunLock, holder_of
from livesession.cli import main
from livesession.stores import JsonlIdempotencyStore

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

_FORKING_WRITER = """
import os, sys
from livesession import DryrunConfig, create_run
session = create_run(DryrunConfig(run_id="crash", steps=1000, seed=3), sys.argv[1])
session.preflight(); session.activate(); session.run_n_steps(250)
if os.fork() == 0:  # a sweep worker: waits for its stdin (the test's pipe) to close
    os.write(1, b"child\\n")  # past its fork handlers; one write: never mixed with "ready"
    sys.stdin.buffer.read()
    os._exit(0)
os.write(1, b"ready\\n")
sys.stdin.buffer.read()
"""


@pytest.mark.broken_run("the writer is killed on purpose: the run is left crashed")
def test_a_killed_writer_s_forked_child_does_not_keep_the_run_held(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _FORKING_WRITER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin is not None
    assert writer.stdout is not None
    try:
        said = sorted(writer.stdout.readline() for _ in range(2))
        assert said == ["child\n", "ready\n"]  # the child is past its fork handlers
        run = tmp_path / "crash"
        assert holder_of(run) is not None
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        assert holder_of(run) is None  # the child still lives: its stdin is open
        assert main(["status", str(run)]) == 6  # crashed and resumable, not running
        assert "crashed" in capsys.readouterr().out
    finally:
        writer.kill()
        writer.wait()
        writer.stdin.close()  # the child reads EOF and ends
        writer.stdout.close()


def test_a_closed_run_is_free_while_a_child_forked_when_it_was_open_lives(
    tmp_path: Path,
) -> None:
    session = create_run(DryrunConfig(run_id="closed", steps=50, seed=3), tmp_path)
    run = tmp_path / "closed"
    report_r, report_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: says whether its copy holds, then waits
        try:
            os.close(hold_w)
            locks = [o for o in gc.get_objects() if isinstance(o, RunLock)]
            os.write(report_w, b"free" if locks and not any(x.held for x in locks) else b"held")
            os.read(hold_r, 1)
        finally:
            os._exit(0)
    os.close(report_w)
    os.close(hold_r)
    try:
        assert os.read(report_r, 4) == b"free"
        assert holder_of(run) is not None  # the writer still holds it
        session.run_to_end(50)
        session.close()
        assert holder_of(run) is None
    finally:
        os.close(hold_w)  # the child ends
        os.waitpid(pid, 0)
        os.close(report_r)


def test_a_jsonl_store_closed_is_free_while_a_child_forked_when_it_was_open_lives(
    tmp_path: Path,
) -> None:
    """The store's ``flock`` is the open file's too: the child kept it, and a reopen failed."""
    path = tmp_path / "keys.jsonl"
    store = JsonlIdempotencyStore(path)
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: past its fork handlers, waits for the pipe
        try:
            os.close(hold_w)
            os.write(ready_w, b"r")
            os.read(hold_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(hold_r)
    try:
        assert os.read(ready_r, 1) == b"r"  # else the parent could outrun the child's handler
        store.close()
        JsonlIdempotencyStore(path).close()  # refused while the child held the lock
    finally:
        os.close(hold_w)
        os.waitpid(pid, 0)
        os.close(ready_r)


def _in_a_child(work: Callable[[], None]) -> None:
    """Run ``work`` in a forked child, which then ends at once (no exit handlers), and wait."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            work()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


_FORKING_HOST = """
import gc, os, sys
from livesession import DryrunConfig, create_run
session = create_run(DryrunConfig(run_id="forked", steps=120, seed=3), sys.argv[1])
session.preflight(); session.activate()
for _ in range(60):  # a bare step flushes nothing: the events stay in the sink's buffer
    session.step()
pid = os.fork()
if pid == 0:  # a worker letting go of what it inherited
    del session
    gc.collect()
    os._exit(0)
os.waitpid(pid, 0)
session.run_to_end(120)
session.close()
"""


def test_a_forked_child_letting_its_copy_of_a_session_go_writes_nothing_of_the_run(
    tmp_path: Path,
) -> None:
    """The child flushed the lines the parent's file sink held too: repeated, unverifiable."""
    subprocess.run([sys.executable, "-c", _FORKING_HOST, str(tmp_path / "forked")], check=True)
    alone = create_run(DryrunConfig(run_id="forked", steps=120, seed=3), tmp_path / "alone")
    alone.run_to_end(120)
    alone.close()
    for name in ("events.jsonl", "state_snapshots.jsonl", "audit.jsonl", "metrics.json"):
        forked = (tmp_path / "forked" / "forked" / name).read_bytes()
        assert forked == (tmp_path / "alone" / "forked" / name).read_bytes(), name


def test_a_forked_child_s_copy_of_a_file_sink_writes_nothing(tmp_path: Path) -> None:
    sink = FileLineSink(tmp_path / "lines.jsonl")
    sink.write_line(b'{"n":1}\n')

    def write_and_close() -> None:
        with contextlib.suppress(OSError):  # refused: the file is the parent's
            sink.write_line(b'{"n":2}\n')
            sink.flush()
        sink.close()

    _in_a_child(write_and_close)
    sink.close()
    assert (tmp_path / "lines.jsonl").read_bytes() == b'{"n":1}\n'
