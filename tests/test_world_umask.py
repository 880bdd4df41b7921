"""Under ``umask 000`` no file or directory a run makes is other users' to write.

A process started under ``umask 000`` (a container's entrypoint, a service with
``UMask=0000``) made every file of a run ``0666`` and its directories ``0777``: any user of
the host could rewrite the audit trail, the events, the checkpoint a ``resume`` trusts, the
writer lock and the lease, or remove them. Files are now made from ``0664`` and
directories from ``0775``, under the umask as before: the group keeps what the umask gives
it (``umask 002``: a desk's shared group, test_group_umask.py), other users never write.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from livesession.cli import EXIT_OK, main

from crash_harness import KILLED, PROFILES, cli, dryrun


@pytest.fixture(autouse=True)
def _umask() -> Iterator[None]:
    """The tests run, and their subprocesses start, under ``umask 000``."""
    before = os.umask(0)
    yield
    os.umask(before)


def _others_write(root: Path) -> dict[str, str]:
    """Each path below ``root`` (and ``root``) that other users may write, with its mode."""
    return {
        str(path.relative_to(root)): oct(stat.S_IMODE(path.lstat().st_mode))
        for path in [root, *root.rglob("*")]
        if path.lstat().st_mode & stat.S_IWOTH
    }


def test_a_run_its_lease_evidence_and_report_are_not_others_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "runs"  # OUT and its parent made by the run
    run = out / "r1"
    args = ["dryrun", "-q", "--out", str(out), "--run-id", "r1", "--steps", "5", "--lease"]
    assert main(args) == EXIT_OK
    assert main(["evidence", str(run)]) == EXIT_OK
    assert main(["evidence", str(run), "--out", str(tmp_path / "out" / "ev" / "r1")]) == EXIT_OK
    assert main(["report", str(run)]) == EXIT_OK
    capsys.readouterr()
    made = {path.name for path in run.iterdir()}
    assert {"audit.jsonl", "events.jsonl", "writer.lock", "idempotency.sqlite"} <= made
    assert {"manifest.json", "report.html"} <= made
    assert (out / ".leases").is_dir()
    assert _others_write(tmp_path / "out") == {}
    # The umask still narrows the rest: the group writes, as it may under umask 002.
    assert stat.S_IMODE((run / "audit.jsonl").stat().st_mode) == 0o664
    assert stat.S_IMODE(run.stat().st_mode) == 0o775


def test_a_crashed_run_and_its_resume_are_not_others_to_write(tmp_path: Path) -> None:
    profile = PROFILES["mock-sqlite"]
    assert dryrun(profile, tmp_path, crash_at="torn_events:120").returncode == KILLED
    run_dir = tmp_path / profile.name
    assert _others_write(run_dir) == {}
    assert cli("resume", run_dir, "-q").returncode == EXIT_OK
    assert any(path.name.endswith(".torn") for path in run_dir.iterdir())
    assert _others_write(run_dir) == {}
    assert cli("verify", run_dir).returncode == EXIT_OK
