"""The way out of a refused write, by its errno: never the full disk's for another cause.

Bug: a run directory removed mid-run ended with ``the metrics sink failed
(FileNotFoundError: [Errno 2] no such directory: ...): the run is not sealed; once the file
system has room again, ...``: ``once_fixed`` had no ENOENT entry and fell back on the full
disk's hint, as it did for a file size limit (EFBIG), a quota (EDQUOT), an I/O error (EIO)
and any errno it did not list.
"""

from __future__ import annotations

import errno
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from livesession._artifacts import sinks
from livesession._rundir import resumecut
from livesession._support import oserrors
from livesession._support.oserrors import ROOM_AGAIN, once_fixed, said_errno
from livesession.cli import main


@pytest.mark.parametrize(
    ("code", "once"),
    [
        (errno.ENOSPC, ROOM_AGAIN),
        (
            errno.EDQUOT,
            "the disk quota has room again (disk quota exceeded: free space or raise it)",
        ),
        (
            errno.EFBIG,
            "files may grow again (file too large: raise the file size limit, `ulimit -f`)",
        ),
        (errno.EIO, "the disk answers again (input/output error: the kernel log says why)"),
        (
            errno.EROFS,
            (
                "the file system is writable again (read-only file system: remount it; one the "
                "kernel stopped writing after an error: unmount it, check it (fsck) and mount "
                "it again)"
            ),
        ),
        (errno.EACCES, "the run directory is writable again (permission denied: make it writable)"),
        (errno.EMFILE, "the open-file limit is raised (too many open files: `ulimit -n`)"),
        (
            errno.ENOENT,
            (
                "the run directory is back where it was (it was removed or moved: until then "
                "there is nothing to resume at that path; a moved one resumes at its new path)"
            ),
        ),
        (
            errno.ENOTDIR,
            (
                "the run directory is back where it was (a file stands in its place, or in a "
                "directory's above it: until then there is nothing to resume at that path)"
            ),
        ),
        (
            errno.ESTALE,  # a run file another tool moved, cut or removed under the run
            (
                "the file is back at its name as the run left it (another tool moved, cut or "
                "removed it under the run, as said: `mv` a moved one back; a cut or removed one "
                "only a whole copy puts back; rotate, cut, move or delete none of a run's files "
                "but session.log.jsonl)"
            ),
        ),
        (errno.ETXTBSY, "what refused it is put right (text file busy)"),  # one not listed
        (None, ROOM_AGAIN),  # a library that hides the errno: the likely cause
    ],
)
def test_each_errno_has_its_own_way_out(code: int | None, once: str) -> None:
    assert once_fixed(code) == once


def test_an_error_is_named_by_its_errno_and_the_system_s_words() -> None:
    """For the sealing checkpoint's line: ``(ENOSPC: No space left on device)``."""
    refused = OSError(errno.ENOSPC, "No space left on device", "/runs/r/checkpoint.json")
    error = RuntimeError("cannot write checkpoint")
    error.__cause__ = refused
    assert said_errno(error) == "ENOSPC: No space left on device"
    assert said_errno(RuntimeError("no OSError behind it")) == "no OSError behind it"


def _at_second_checkpoint(monkeypatch: pytest.MonkeyPatch, act: Callable[[], object]) -> None:
    """``act()`` right before the run's second checkpoint writes its metrics.json."""
    real = sinks.FileMetricsSink.replace
    writes: list[bytes] = []

    def replace(sink: sinks.FileMetricsSink, content: bytes) -> None:
        writes.append(content)
        if len(writes) == 2:
            act()
        real(sink, content)

    monkeypatch.setattr(sinks.FileMetricsSink, "replace", replace)


@pytest.mark.broken_run("the run directory is removed on purpose; the run is not sealed")
def test_a_run_directory_removed_mid_run_is_not_told_to_wait_for_room(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "runs"
    run_dir = out / "gone"
    _at_second_checkpoint(monkeypatch, lambda: shutil.rmtree(run_dir))  # the directory is gone
    args = ["dryrun", "--out", str(out), "--run-id", "gone", "--steps", "300", "-q"]
    assert main(args) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(
        f"livesession: error: the metrics sink failed writing {run_dir / 'metrics.json'} "
        "(FileNotFoundError: "
    )
    assert line.endswith(
        "the run is not sealed; once the run directory is back where it was (it was removed or "
        "moved: until then there is nothing to resume at that path; a moved one resumes at its "
        f"new path), `livesession status {run_dir}` "
        f"says whether `livesession resume {run_dir}` can continue it"
    )
    assert ROOM_AGAIN not in line


@pytest.mark.broken_run("the runs folder is replaced by a file on purpose; the run is not sealed")
def test_a_runs_folder_replaced_by_a_file_mid_run_is_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--out` moved away and a file put in its place (`mv runs runs.old; touch runs`): the
    run's line said `once what refused it is put right (not a directory)`, and `status`,
    `resume` and `verify` of the run said only that it `does not exist`."""
    out = tmp_path / "runs"
    run_dir = out / "moved"

    def replaced_by_a_file() -> None:
        out.rename(tmp_path / "runs.old")
        out.write_bytes(b"")

    _at_second_checkpoint(monkeypatch, replaced_by_a_file)  # a file stands where --out was
    args = ["dryrun", "--out", str(out), "--run-id", "moved", "--steps", "300", "-q"]
    assert main(args) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(
        f"livesession: error: the metrics sink failed writing {run_dir / 'metrics.json'} "
        "(NotADirectoryError: "
    )
    assert line.endswith(
        "the run is not sealed; once the run directory is back where it was (a file stands in "
        "its place, or in a directory's above it: until then there is nothing to resume at "
        f"that path), `livesession status {run_dir}` says whether `livesession resume "
        f"{run_dir}` can continue it"
    )
    for verb in ("status", "resume", "verify"):
        assert main([verb, str(run_dir)]) == 2
        assert capsys.readouterr().err.endswith(
            f" {run_dir} does not exist ({out} is a file, not a directory)\n"
        ), verb
    out.unlink()
    (tmp_path / "runs.old").rename(out)
    assert main(["resume", str(run_dir), "-q"]) == 0


@pytest.mark.broken_run("the disk refuses the resume on purpose; the run is resumed after")
@pytest.mark.parametrize(
    "refused",
    [
        (
            "cutting events.jsonl back to its checkpoint failed (No space left on device); "
            "nothing was changed: once the file system has room again, resume again"
        ),
        (
            "writing its C2_RESUME record failed (No space left on device): once the file "
            "system has room again, resume again (nothing was changed: the tails it had cut "
            "back were put back)"
        ),
    ],
    ids=["cut", "record"],
)
def test_a_resume_the_disk_refuses_says_when_to_try_again(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    refused: str,
) -> None:
    """A resume into a disk still full ended `...: fix that, then resume again`, where every
    other refused write says what must be so first (RUNBOOK: the `once`)."""
    out = tmp_path / "runs"
    run_dir = out / "r"
    real = sinks.FileMetricsSink.replace
    writes: list[bytes] = []

    def replace(sink: sinks.FileMetricsSink, content: bytes) -> None:
        writes.append(content)
        if len(writes) > 2:  # the disk is full from the second checkpoint on
            raise OSError(errno.ENOSPC, "No space left on device")
        real(sink, content)

    monkeypatch.setattr(sinks.FileMetricsSink, "replace", replace)
    assert main(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "300", "-q"]) == 2
    monkeypatch.undo()
    capsys.readouterr()
    with monkeypatch.context() as full:
        if refused.startswith("cutting"):
            full.setattr(resumecut, "truncate_to", _no_room)
        else:
            full.setattr(sinks.FileLineSink, "flush", _no_room_for_audit(sinks.FileLineSink.flush))
            full.setattr(sinks.FileLineSink, "sync", _no_room_for_audit(sinks.FileLineSink.sync))
        assert main(["resume", str(run_dir), "-q"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"livesession: error: cannot resume {run_dir}: {refused}"
    assert main(["resume", str(run_dir), "-q"]) == 0


def _no_room(*_: object) -> bytes:
    raise OSError(errno.ENOSPC, "No space left on device")


def _no_room_for_audit(real: Callable[[sinks.FileLineSink], None]) -> Callable[..., None]:
    def refused(sink: sinks.FileLineSink) -> None:
        if sink.path.name == "audit.jsonl":
            _no_room()
        real(sink)

    return refused


def test_an_immutable_directory_is_told_from_a_mode(tmp_path: Path) -> None:
    """`attribute_refuses` reads the inode's flags (`chattr +i`); skipped where they cannot be
    set (not root, a file system without them)."""
    folder = tmp_path / "kept"
    folder.mkdir()
    assert not oserrors.attribute_refuses(folder)
    if shutil.which("chattr") is None:
        pytest.skip("no chattr here")
    done = subprocess.run(
        ["chattr", "+i", str(folder)], capture_output=True, check=False, timeout=30
    )
    if done.returncode:
        pytest.skip(f"cannot set the immutable flag here: {done.stderr!r}")
    try:
        assert oserrors.attribute_refuses(folder)
        assert oserrors.not_writable(folder) == errno.EPERM
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True, timeout=30)
