"""A run directory on a share whose locks are this host's only (NFS ``nolock``, CIFS ``nobrl``).

Such a mount grants every lock on the client alone: ``writer.lock`` keeps a second writer
on this host away, and none on another host mounting the share, which takes the lock as
freely and writes the run too. The run said nothing of it: the lock was taken, so the run
went on as if it were the only writer anywhere. Its session log now says so as it starts
(``run_lock_local_only``), from the mount's options in ``/proc/self/mountinfo``, which
the test gives in a file of its own naming the test's directory's device.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from pathlib import Path

import pytest

from livesession import DryrunConfig, create_run, verify_run
from livesession._rundir import locallocks
from livesession._support.logging import configure_logging, disable_logging
from livesession.cli import main

from crash_harness import KILLED, cli

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the mounts from /proc/self/mountinfo"
)

_NFS_NOLOCK = "vers=3,rsize=1048576,hard,nolock,proto=tcp,timeo=600,local_lock=all,addr=10.0.0.5"


def _mounted(monkeypatch: pytest.MonkeyPatch, where: Path, kind: str, options: str) -> None:
    """``where``'s device as a mount of ``kind`` with ``options``, behind the real mounts."""
    device = where.stat().st_dev
    line = f"99 1 {os.major(device)}:{os.minor(device)} / {where} rw - {kind} srv:/x {options}"
    fake = where.parent / f"{where.name}.mountinfo"
    fake.write_text(f"1 0 253:99 / / rw - ext4 /dev/nope rw\n{line}\n", encoding="utf-8")
    monkeypatch.setattr(locallocks, "MOUNTINFO", fake)


def _said(run: Path) -> list[dict[str, str]]:
    lines = (run / "session.log.jsonl").read_text(encoding="utf-8").splitlines()
    return [line for line in map(json.loads, lines) if line["event"] == "run_lock_local_only"]


@pytest.mark.parametrize(
    ("kind", "options", "mount"),
    [
        ("nfs", _NFS_NOLOCK, "nfs, nolock and local_lock=all"),
        ("nfs4", "vers=4.2,hard,proto=tcp,local_lock=posix", "nfs4, local_lock=posix"),
        ("cifs", "vers=3.1.1,cache=strict,nobrl,uid=0", "cifs, nobrl"),
    ],
)
def test_a_run_on_a_share_whose_locks_are_local_says_so(
    kind, options, mount, tmp_path, monkeypatch
) -> None:
    out = tmp_path / "share"
    out.mkdir()
    _mounted(monkeypatch, out, kind, options)
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "20", "-q"]) == 0
    (said,) = _said(out / "r1")
    assert said["level"] == "warning"
    assert said["mount"] == mount
    assert "another host that mounts it" in said["detail"]
    assert "write each run directory from one host only" in said["detail"]
    assert main(["verify", str(out / "r1")]) == 0


def test_a_resume_there_says_so_too(tmp_path, monkeypatch) -> None:
    out = tmp_path / "share"
    args = ["--out", out, "--run-id", "c1", "--steps", "150", "-q"]
    assert cli("dryrun", *args, crash_at="write_events:120").returncode == KILLED
    _mounted(monkeypatch, out, "nfs", _NFS_NOLOCK)
    assert main(["resume", str(out / "c1"), "-q"]) == 0
    assert len(_said(out / "c1")) == 1  # the resume's; the crashed process saw the real mounts


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("nfs4", "vers=4.2,hard,proto=tcp,local_lock=none"),  # the server's locks
        ("cifs", "vers=3.1.1,cache=strict,uid=0"),
        ("ext4", "rw,nolock"),  # no such option there: taken at its word
    ],
)
def test_a_share_with_its_locks_says_nothing(kind, options, tmp_path, monkeypatch) -> None:
    out = tmp_path / "share"
    out.mkdir()
    _mounted(monkeypatch, out, kind, options)
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "20", "-q"]) == 0
    assert _said(out / "r1") == []


def test_an_application_s_log_says_it_as_it_creates_the_run(tmp_path, monkeypatch) -> None:
    out = tmp_path / "share"
    out.mkdir()
    _mounted(monkeypatch, out, "nfs", _NFS_NOLOCK)
    log = io.StringIO()
    configure_logging(log, level=logging.INFO)
    try:
        session = create_run(DryrunConfig(run_id="app", steps=5), out)
        session.run_to_end(5)
        session.close()
    finally:
        disable_logging()
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    (said,) = [line for line in lines if line["event"] == "run_lock_local_only"]
    assert said["mount"] == "nfs, nolock and local_lock=all"
    assert verify_run(out / "app").ok
