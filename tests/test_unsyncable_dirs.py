"""Runs on a file system that refuses to sync a directory (an SMB/CIFS or 9p mount).

``fsync`` on a directory there says ``EINVAL`` (or ``EOPNOTSUPP``). Every run there failed
before it began, ``cannot create run DIR: Invalid argument; nothing was left behind``
(exit 2), whatever its ``--durability``: a sync the file system cannot do was taken for a
write it refused. Now the run goes on, and its session log says once what such a file
system cannot promise (``directory_sync_refused``); any other error of the sync (``EIO``)
is still one.

The refusal is injected as the kernel gives it: from ``os.fsync`` on a descriptor of a
directory under the share.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from livesession._support import dirsync
from livesession._support.fsutil import atomic_write_bytes, fsync_dir
from livesession.cli import main

from crash_harness import KILLED, cli

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads a descriptor's name from /proc"
)


def _refusing(monkeypatch: pytest.MonkeyPatch, share: Path, code: int) -> None:
    """``os.fsync`` of a directory under ``share`` raises ``code``, as such a mount's does."""
    real = os.fsync

    def fsync(fd: int) -> None:
        number = fd if isinstance(fd, int) else fd.fileno()
        if stat.S_ISDIR(os.fstat(number).st_mode):
            where = str(Path(f"/proc/self/fd/{number}").readlink())
            if f"{where}/".startswith(f"{share}/"):
                raise OSError(code, os.strerror(code))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(dirsync, "_TOLD", set())  # this process has said it of no device yet


@pytest.fixture(name="share", params=[errno.EINVAL, errno.EOPNOTSUPP])
def _share(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    share = tmp_path / "share"
    share.mkdir()
    _refusing(monkeypatch, share, request.param)
    yield share
    monkeypatch.undo()


def _refusals(run: Path) -> list[dict[str, str]]:
    lines = (run / "session.log.jsonl").read_text(encoding="utf-8").splitlines()
    return [line for line in map(json.loads, lines) if line["event"] == "directory_sync_refused"]


def test_a_durable_run_goes_on_and_says_once_what_it_cannot_promise(share, capsys) -> None:
    args = ["--out", str(share), "--run-id", "r1", "--steps", "250", "--durability", "event"]
    assert main(["dryrun", *args, "-q"]) == 0  # a checkpoint every 100 steps, each refused
    assert capsys.readouterr().err == ""
    run = share / "r1"
    assert main(["verify", str(run)]) == 0
    (said,) = _refusals(run)
    assert said["level"] == "warning"
    assert said["directory"] == str(run)
    assert said["error"] in {os.strerror(errno.EINVAL), os.strerror(errno.EOPNOTSUPP)}
    assert "may be lost to a power cut or a crash of the host" in said["detail"]
    assert main(["evidence", str(run), "--out", str(share / "ev")]) == 0


def test_a_crashed_run_resumes_there(share, tmp_path, capsys) -> None:
    made = tmp_path / "made"
    args = ["--out", made, "--run-id", "c1", "--steps", "250", "--durability", "event", "-q"]
    assert cli("dryrun", *args, crash_at="write_events:300").returncode == KILLED
    run = share / "c1"
    shutil.move(made / "c1", run)  # made off the share: the refusal is this process's only
    assert main(["status", str(run)]) == 6
    assert main(["resume", str(run), "-q"]) == 0
    assert main(["verify", str(run)]) == 0
    assert capsys.readouterr().err == ""
    assert len(_refusals(run)) == 1


def test_an_atomic_write_there_replaces_its_file(share) -> None:
    target = share / "checkpoint.json"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in share.iterdir()) == ["checkpoint.json"]


def test_any_other_refusal_of_the_sync_is_still_an_error(tmp_path, monkeypatch) -> None:
    """``EIO``: the entries may be lost, which no caller may take for done."""
    _refusing(monkeypatch, tmp_path, errno.EIO)
    with pytest.raises(OSError, match="Input/output error"):
        fsync_dir(tmp_path)
