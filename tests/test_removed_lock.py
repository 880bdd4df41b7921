"""One writer per run even when its ``writer.lock`` is deleted by hand while it writes.

The writer's lock stayed on the unlinked file: ``status`` said crashed, ``stop`` that
nothing held the run, and ``resume`` took a new ``writer.lock`` and wrote beside the
writer (repeated sequence numbers, time going backwards). The writer also holds its run
directory (``_rundir.dirhold``), which deleting a file does not take away.

A writer in another process blocks on a pipe the test holds, so nothing waits on wall time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from livesession import DryrunConfig, create_run
from livesession._artifacts import names
from livesession._rundir.lock import holder_of, is_held, not_a_cli_writer
from livesession._support.logging import LOG_STATE
from livesession.cli import main

_REMOVED = "writer.lock was removed while pid {pid} writes; do not delete it"

_WRITER = """
import os, sys
from livesession import DryrunConfig, create_run
session = create_run(DryrunConfig(run_id="w", steps=1000, seed=3), sys.argv[1])
session.preflight(); session.activate(); session.run_n_steps(250)
os.unlink(os.path.join(sys.argv[1], "w", "writer.lock"))
if sys.argv[2] == "fork" and os.fork() == 0:  # a worker: lives until its stdin closes
    os.write(1, b"child\\n")
    sys.stdin.buffer.read()
    os._exit(0)
os.write(1, b"ready\\n")
sys.stdin.buffer.read()
"""


def _refusal(capsys: pytest.CaptureFixture[str]) -> str:
    """The one stderr line of a CLI refusal."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def _files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}


def _writer(out: Path, mode: str) -> subprocess.Popen[str]:
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(out), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    said = sorted(writer.stdout.readline() for _ in range(2 if mode == "fork" else 1))
    if said != (["child\n", "ready\n"] if mode == "fork" else ["ready\n"]):
        _end(writer)  # not left running, nor its pipes open, past this test
        pytest.fail(f"the writer did not start: {said}")
    return writer


def _end(writer: subprocess.Popen[str]) -> None:
    writer.kill()
    writer.wait()
    for pipe in (writer.stdin, writer.stdout):
        if pipe is not None:
            pipe.close()  # a forked child reads EOF and ends


def test_a_writer_whose_lock_file_was_deleted_is_still_the_run_s_writer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = create_run(DryrunConfig(run_id="r", steps=60, checkpoint_every=10, seed=3), tmp_path)
    run = tmp_path / "r"
    assert session.preflight()
    session.activate()
    session.run_n_steps(20)
    (run / names.WRITER_LOCK).unlink()
    session.run_n_steps(5)
    before = _files(run)
    removed = _REMOVED.format(pid=os.getpid())

    holder = holder_of(run)
    assert holder is not None
    assert holder.pid == os.getpid()
    assert removed in holder.describe()
    assert is_held(run)
    assert main(["status", str(run)]) == 7
    out = capsys.readouterr().out
    assert "running (exit 7)" in out
    assert f"writer      pid {os.getpid()} on " in out
    assert removed in out
    assert "crashed" not in out
    assert main(["list", str(tmp_path)]) == 0
    assert " running " in capsys.readouterr().out

    assert main(["resume", str(run)]) == 3
    said = _refusal(capsys)
    assert removed in said
    assert "nothing was changed" in said
    assert main(["evidence", str(run)]) == 3
    assert removed in _refusal(capsys)
    assert _files(run) == before, "a refused resume or evidence changed the run"
    assert not (run / names.WRITER_LOCK).exists()

    session.run_to_end(60)
    session.close()
    assert holder_of(run) is None
    assert not is_held(run)


class _Warnings:
    def __init__(self) -> None:
        self.said: list[tuple[str, dict[str, object]]] = []

    def warning(self, event: str, **fields: object) -> None:
        self.said.append((event, fields))

    def _drop(self, *_args: object, **_kwargs: object) -> None:
        """Anything else: not asked about here."""

    debug = info = error = critical = exception = _drop


def test_the_writer_puts_its_lock_file_back_at_its_next_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings = _Warnings()
    monkeypatch.setattr(LOG_STATE, "logger", warnings)
    session = create_run(DryrunConfig(run_id="r", steps=60, checkpoint_every=10, seed=3), tmp_path)
    run = tmp_path / "r"
    named = (run / names.WRITER_LOCK).read_bytes()
    assert session.preflight()
    session.activate()
    session.run_n_steps(20)
    (run / names.WRITER_LOCK).unlink()
    session.run_n_steps(5)  # no checkpoint: not yet
    assert not (run / names.WRITER_LOCK).exists()
    session.run_n_steps(5)  # step 30: a checkpoint
    assert (run / names.WRITER_LOCK).read_bytes() == named, "not the same holder, since"
    holder = holder_of(run)
    assert holder is not None
    assert holder.pid == os.getpid()
    assert holder.since != "unknown"  # named by its file again
    assert [event for event, _ in warnings.said] == ["writer_lock_put_back"]
    assert "do not delete it" in str(warnings.said[0][1]["detail"])
    session.run_to_end(60)
    session.close()
    assert holder_of(run) is None


def test_stop_sees_the_writer_through_its_directory(tmp_path: Path) -> None:
    """Not "does not have writer.lock open": the holder is looked at like any other."""
    session = create_run(DryrunConfig(run_id="r", steps=20, seed=3), tmp_path)
    run = tmp_path / "r"
    (run / names.WRITER_LOCK).unlink()
    holder = holder_of(run)
    assert holder is not None
    assert "is not `livesession dryrun` or `resume` (an application embedding" in (
        not_a_cli_writer(holder, run)
    )
    session.run_to_end(20)
    session.close()


def test_a_killed_writer_whose_lock_file_was_deleted_leaves_a_run_that_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = _writer(tmp_path, "plain")
    run = tmp_path / "w"
    try:
        holder = holder_of(run)
        assert holder is not None
        assert holder.pid == writer.pid
        before = _files(run)
        assert main(["resume", str(run)]) == 3
        assert _REMOVED.format(pid=writer.pid) in _refusal(capsys)
        assert _files(run) == before
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        assert holder_of(run) is None  # the kernel dropped the directory's lock with it
        assert main(["status", str(run)]) == 6
        assert "crashed" in capsys.readouterr().out
        assert main(["resume", str(run)]) == 0
    finally:
        _end(writer)


@pytest.mark.broken_run("the writer is killed on purpose: the run is left crashed")
def test_a_forked_child_does_not_keep_the_directory_held(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = _writer(tmp_path, "fork")
    run = tmp_path / "w"
    try:
        assert holder_of(run) is not None
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        assert holder_of(run) is None  # the child still lives: its stdin is open
        assert main(["status", str(run)]) == 6
        assert "crashed" in capsys.readouterr().out
    finally:
        _end(writer)
