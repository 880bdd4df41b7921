"""Under ``umask 002`` every file a run makes is the group's to write, as the umask says.

A desk's service user and its operators share a group, and a run made under ``umask 002``
in a setgid directory of that group is meant to be theirs: its files are made under the
process umask (RUNBOOK "Run a dry run"). Three were not: ``writer.lock`` (made ``0644``),
``idempotency.sqlite`` with its ``-wal`` and ``-shm`` (SQLite makes a database ``0644``
before the umask) and a lease's lock file (``OUT/.leases/``, ``0644``). An operator of the
group could read the run, and `status` told them to resume it, but `resume` stopped at
``cannot open writer.lock: Permission denied``, and past it at the database. Found resuming
a crashed run of the service user as another user of its group.
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
    """The tests run, and their subprocesses start, under ``umask 002``."""
    before = os.umask(0o002)
    yield
    os.umask(before)


def _modes(directory: Path) -> dict[str, str]:
    return {p.name: oct(stat.S_IMODE(p.lstat().st_mode)) for p in directory.iterdir()}


def test_every_file_of_a_crashed_sqlite_run_is_made_under_the_umask(tmp_path: Path) -> None:
    profile = PROFILES["mock-sqlite"]
    assert dryrun(profile, tmp_path, crash_at="torn_events:120").returncode == KILLED
    run_dir = tmp_path / profile.name
    modes = _modes(run_dir)
    for name in ("writer.lock", "idempotency.sqlite", "events.jsonl"):
        assert name in modes
    assert {name for name, mode in modes.items() if mode != "0o664"} == set(), modes
    assert cli("resume", run_dir, "-q").returncode == EXIT_OK
    assert cli("verify", run_dir).returncode == EXIT_OK


def test_a_lease_s_files_are_made_under_the_umask(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    args = ["dryrun", "-q", "--out", str(out), "--run-id", "r1", "--steps", "5", "--lease"]
    assert main(args) == EXIT_OK
    assert main(["verify", str(out / "r1")]) == EXIT_OK
    capsys.readouterr()
    leases = _modes(out / ".leases")
    assert leases
    assert {name for name, mode in leases.items() if mode not in ("0o664", "0o775")} == set()
    assert set(_modes(out / "r1").values()) == {"0o664"}
