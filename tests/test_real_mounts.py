"""Runs on real file systems that a fake cannot stand for: a small ext4 on a loop device.

Each test mounts an image of a few MB under its ``tmp_path`` and unmounts it when it ends;
it is skipped when this is not root, or the system will not make or mount the image (CI
runs as root on the same kind of machine, so they run there). What a fake can show is
shown without a mount beside the fix's other tests; here is one test per behaviour that
only a real file system shows whole.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from livesession.cli import main
from livesession.status import Verdict, run_status
from livesession.verify import verify_run

from crash_harness import KILLED, Profile, dryrun


def _run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False
    )


class Ext4:
    """An ext4 image mounted at ``point`` with ``errors=remount-ro``, as a desk's volume."""

    def __init__(self, image: Path, point: Path) -> None:
        self.image, self.point = image, point

    def mount(self) -> None:
        done = _run("mount", "-o", "loop,errors=remount-ro", self.image, self.point)
        if done.returncode:
            pytest.skip(f"cannot mount an ext4 image here: {done.stderr.strip()}")

    def unmount(self) -> None:
        if _run("umount", self.point).returncode:  # busy: a file a failed test left open
            _run("umount", "--lazy", self.point)

    def device(self) -> str:
        return Path(_run("findmnt", "-n", "-o", "SOURCE", self.point).stdout.strip()).name

    def mounted(self) -> bool:
        return os.path.ismount(self.point)


@contextlib.contextmanager
def _mounted(tmp_path: Path, *mkfs: str) -> Iterator[Ext4]:
    """An ext4 of 8 MB made with ``mkfs`` options, mounted under ``tmp_path`` until the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    if shutil.which("mkfs.ext4") is None or shutil.which("findmnt") is None:
        pytest.skip("mkfs.ext4 or findmnt is not installed")
    image, point = tmp_path / "ext4.img", tmp_path / "mnt"
    with image.open("wb") as handle:
        handle.truncate(8 << 20)
    if _run("mkfs.ext4", "-q", *mkfs, image).returncode:
        pytest.skip("mkfs.ext4 cannot make an image here")
    point.mkdir()
    fs = Ext4(image, point)
    fs.mount()
    try:
        yield fs
    finally:
        if fs.mounted():
            fs.unmount()


@pytest.fixture(name="ext4")
def _ext4(tmp_path: Path) -> Iterator[Ext4]:
    with _mounted(tmp_path) as fs:
        yield fs


def test_a_file_system_that_stopped_writing_after_an_error(ext4: Ext4) -> None:
    """The kernel stops writing an ext4 that met an error (``errors=remount-ro``); since
    Linux 6 it stays mounted read-write (``emergency_ro``), so ``statvfs`` and ``access``
    say writable. `status` said `resumable yes` and `resume` failed on `writer.lock`.
    Now both say what to do; done (unmount, fsck, mount), `resume` finishes the run."""
    profile = Profile(name="err", seed=3)
    assert dryrun(profile, ext4.point, crash_at="write_events:120").returncode == KILLED
    run = ext4.point / profile.name
    os.sync()  # the crashed run whole on the disk: the error drops what is not
    trigger = Path("/sys/fs/ext4", ext4.device(), "trigger_fs_error")
    try:
        trigger.write_text("test\n")
    except OSError as exc:
        pytest.skip(f"cannot make the file system meet an error here: {exc}")
    if os.statvfs(run).f_flag & os.ST_RDONLY:
        pytest.skip("this kernel remounts it read-only: tests/test_read_only_run.py's case")
    said = run_status(run)
    assert said.verdict is Verdict.NEEDS_OPERATOR
    assert said.resume_problem is not None
    assert "its file system stopped writing after an error" in said.resume_problem
    assert main(["resume", str(run), "-q"]) == 2
    ext4.unmount()
    assert _run("e2fsck", "-fy", ext4.image).returncode in (0, 1)  # 1: errors corrected
    ext4.mount()
    assert run_status(run).verdict is Verdict.CRASHED
    assert main(["resume", str(run), "-q"]) == 0
    assert verify_run(run).ok


def _fill(directory: Path) -> list[Path]:
    """Empty files in ``directory`` until the file system has no inode left for another."""
    directory.mkdir(exist_ok=True)
    made: list[Path] = []
    while True:
        path = directory / f"f{len(made)}"
        try:
            path.touch()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            return made
        made.append(path)


def test_a_file_system_out_of_inodes_wherever_a_run_makes_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An ext4 of 64 inodes, filled but for ``left``, for each count a run meets the end at
    another of the files it makes. Each run ends as RUNBOOK says: sealed, or one line, and
    either nothing left behind, or the run not sealed, which resume finishes once there is
    room. Bugs: with no inode for ``session.log.jsonl`` the run just made ended with
    ``DIR/session.log.jsonl: No space left on device: free space`` (unsealed, and not said
    so), and with none for the database's ``-wal`` the line asked ``is it a SQLite file on
    a local disk?``."""
    with _mounted(tmp_path, "-N", "64") as fs:
        out, ballast = fs.point / "out", fs.point / "ballast"
        for left in range(18):
            for path in _fill(ballast)[:left]:
                path.unlink()
            args = ["dryrun", "--out", str(out), "--run-id", "r", "--steps", "20", "-q"]
            code = main(args)
            said = capsys.readouterr().err.splitlines()
            run = out / "r"
            if code == 0:
                assert verify_run(run).ok, left
            else:
                assert code == 2, (left, said)
                [line] = said
                assert "is it a SQLite file" not in line, (left, line)
                if run.exists():
                    assert line.endswith(f"`livesession resume {run}` can continue it"), line
                    shutil.rmtree(ballast)
                    assert main(["status", str(run)]) == 6, left
                    assert main(["resume", str(run), "-q"]) == 0, left
                    assert verify_run(run).ok, left
                else:
                    assert "no space left on device" in line.lower(), line
            capsys.readouterr()
            shutil.rmtree(out, ignore_errors=True)
