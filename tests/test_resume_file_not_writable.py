"""`resume` of a run holding a file this user may not write is refused before anything changes.

An operator of the desk's group resumed a crashed run of the desk's user in the group's
directory: the directory and most files were the group's to write, but not its
``idempotency.sqlite`` (SQLite made it ``0644``). `status` said to resume it; the resume
cut ``events.jsonl`` back to the checkpoint (``events.jsonl.torn``), appended to the audit
log, the broker journal and the session log, then stopped at the database's first write
(``attempt to write a readonly database``) advising to wait for the file system to have
room. A file a resume writes that this user may not write is now said as the run directory
is: `resume` refuses it (exit 2, nothing changed), `status` says `resumable  no:` (exit 5).
Root writes whatever the mode says, so the test answers ``os.access`` as the system does
for the operator.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from livesession._support import oserrors
from livesession.cli import EXIT_OK, main

from crash_harness import KILLED, PROFILES, cli, dryrun

_EXIT_BAD_INPUT = 2
_EXIT_NEEDS_OPERATOR = 5


def _digests(run_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run_dir.iterdir()}


def test_a_database_this_user_may_not_write_refuses_the_resume_before_it_changes_a_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = PROFILES["mock-sqlite"]
    assert dryrun(profile, tmp_path, crash_at="torn_events:120").returncode == KILLED
    run_dir = tmp_path / profile.name
    before = _digests(run_dir)
    real = os.access

    def access(path: str | Path, mode: int, **kwargs: object) -> bool:
        if Path(path).name == "idempotency.sqlite" and mode & os.W_OK:
            return False  # another user's 0644 file
        return real(path, mode)

    with monkeypatch.context() as m:
        m.setattr(oserrors.os, "access", access)
        assert main(["status", str(run_dir)]) == _EXIT_NEEDS_OPERATOR
        said = capsys.readouterr().out
        assert main(["resume", str(run_dir)]) == _EXIT_BAD_INPUT
    err = capsys.readouterr().err
    line = (
        "its idempotency.sqlite cannot be written (Permission denied), and a resume writes "
        "into it: give this user write permission to it (or resume as the user who owns it), "
        f"then `livesession resume {run_dir}` continues it"
    )
    assert err == f"livesession: error: cannot resume {run_dir} (nothing was changed): {line}\n"
    assert f"resumable   no: {line}\n" in said
    assert _digests(run_dir) == before
    assert cli("resume", run_dir, "-q").returncode == EXIT_OK  # as the user who may
    assert cli("verify", run_dir).returncode == EXIT_OK
