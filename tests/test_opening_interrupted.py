"""A writer lock, or a file sink, whose opening was cut short (Ctrl-C, a full disk) lets go
of what it opened: a long-lived process keeps no descriptor, and no run, of it."""

from __future__ import annotations

import errno
import weakref
from pathlib import Path

import pytest

from livesession import (
    DryrunConfig,
    FileLineSink,
    MockBroker,
    RealishBroker,
    RunDirectoryError,
    create_run,
    resume_run,
    verify_run,
)
from livesession._artifacts import names
from livesession._artifacts import sinks as sinks_module
from livesession._rundir import lock as lock_module
from livesession._rundir.lock import holder_of, is_held

from _helpers import crash_in_step


def _open_descriptors() -> set[Path]:
    return set(Path("/proc/self/fd").iterdir())


def _crashed(tmp_path: Path) -> Path:
    cfg = DryrunConfig(run_id="cut", steps=30, clock_mode="sim", checkpoint_every=5)
    crash_in_step(create_run(cfg, tmp_path, alerts=False), 12, 30)
    return tmp_path / "cut"


@pytest.mark.parametrize(
    ("cut", "raised"),
    [
        (KeyboardInterrupt(), KeyboardInterrupt),
        (OSError(errno.ENOSPC, "No space left on device"), RunDirectoryError),
    ],
    ids=["ctrl-c", "disk-full"],
)
def test_a_resume_cut_short_as_it_takes_the_lock_leaves_the_run_to_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut: BaseException, raised: type
) -> None:
    """Bug: a Ctrl-C in a notebook (or a full disk refusing the holder's name) while
    `resume_run` took the writer lock left the lock's descriptors open: the process held the
    crashed run until it ended, and the next `resume_run` of it was refused (`RunHeld: ...
    is being written by pid <the crashed writer> ... (dryrun)`, a process long dead). The
    lock is let go and its file put back as it was: the next resume continues the run."""
    run_dir = _crashed(tmp_path)
    lock_file = (run_dir / names.WRITER_LOCK).read_bytes()
    before = _open_descriptors()
    real = lock_module._write_name

    def cut_short(fd: int, holder: object) -> None:
        monkeypatch.setattr(lock_module, "_write_name", real)
        raise cut

    monkeypatch.setattr(lock_module, "_write_name", cut_short)
    with pytest.raises(raised):
        resume_run(run_dir, alerts=False)
    assert _open_descriptors() == before
    assert not is_held(run_dir)
    assert holder_of(run_dir) is None
    assert (run_dir / names.WRITER_LOCK).read_bytes() == lock_file
    resumed = resume_run(run_dir, alerts=False)
    with resumed:
        assert resumed.run_to_end(30).status.value == "COMPLETED"
    assert verify_run(run_dir).ok


def test_a_creation_cut_short_as_it_takes_the_lock_closes_what_it_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: a Ctrl-C as `create_run` took the lock of its new run left the lock file's
    and the directory's descriptors open (`writer.lock (deleted)` in /proc/self/fd) once the
    run directory was taken away: one more for every such Ctrl-C in a long-lived process."""
    before = _open_descriptors()

    def interrupted(fd: int, holder: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(lock_module, "_write_name", interrupted)
    with pytest.raises(KeyboardInterrupt):
        create_run(DryrunConfig(run_id="new", steps=5), tmp_path, alerts=False)
    assert _open_descriptors() == before
    assert not (tmp_path / "new").exists()


def test_a_file_sink_interrupted_as_it_opens_closes_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: a Ctrl-C as `FileLineSink` set up the finalizer that closes its file (after the
    file was open) left the file open for the life of the process: a `create_run` so
    interrupted took its run directory away, and `events.jsonl (deleted)` stayed open."""
    before = _open_descriptors()
    real = sinks_module.weakref.finalize

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sinks_module.weakref, "finalize", interrupted)
    with pytest.raises(KeyboardInterrupt):
        FileLineSink(tmp_path / "events.jsonl")
    monkeypatch.setattr(sinks_module.weakref, "finalize", real)
    assert _open_descriptors() == before
    sink = FileLineSink(tmp_path / "events.jsonl", append=True)  # the file is whole and free
    sink.write_line(b"{}\n")
    sink.close()
    assert (tmp_path / "events.jsonl").read_bytes() == b"{}\n"


@pytest.mark.parametrize("venue", [MockBroker, RealishBroker])
def test_a_venue_interrupted_as_it_opens_its_journal_closes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, venue: type[MockBroker]
) -> None:
    """Bug: a Ctrl-C as a venue set up the finalizer that closes its journal left the
    journal open for the life of the process (`broker_journal.jsonl (deleted)` in
    /proc/self/fd, once an interrupted `create_run` had taken its run directory away)."""
    before = _open_descriptors()

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(weakref, "finalize", interrupted)
        with pytest.raises(KeyboardInterrupt):
            venue(journal=tmp_path / "broker_journal.jsonl")
    assert _open_descriptors() == before
