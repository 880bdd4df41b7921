"""``status`` of a crashed run whose idempotency store a resume cannot open.

A resume refuses such a run (``cannot open idempotency database DIR/idempotency.sqlite:
file is not a database``), and records nothing of it: no run file, no line of the session
log says why. ``status`` said ``crashed`` (exit 6), ``resumable yes`` and ``continue it:
livesession resume DIR``, which met the same refusal again. It now reads the file's first
bytes (never opening it as a database) and says what the resume will meet:
``needs_operator`` (exit 5), ``resumable no: cannot open idempotency database ...``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from livesession._artifacts import names

from crash_harness import KILLED, Profile, cli, dryrun

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def _garbled(path: Path) -> None:
    path.write_bytes(b"not a database, written over by another program " * 4)


def _a_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


@pytest.mark.broken_run("the run's idempotency store is damaged on purpose: resume refuses it")
@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (_garbled, "file is not a database (it does not begin as a SQLite database does)"),
        (_a_directory, "it is a directory"),
    ],
)
def test_a_store_resume_cannot_open_is_said_by_status(
    tmp_path: Path, damage: Callable[[Path], None], why: str
) -> None:
    profile = Profile(name="store", seed=7, steps=150, backend="sqlite")
    assert dryrun(profile, tmp_path, crash_at="checkpoint:2").returncode == KILLED
    run_dir = tmp_path / profile.name
    store = run_dir / names.IDEMPOTENCY_SQLITE
    for end in ("-wal", "-shm"):
        store.with_name(store.name + end).unlink(missing_ok=True)
    damage(store)
    (run_dir / names.SESSION_LOG).unlink()  # nothing of the process's own words is left
    said = json.loads(cli("status", run_dir, "--json").stdout)
    problem = f"cannot open idempotency database {store}: {why}"
    assert (said["verdict"], said["exit_code"], said["resumable"]) == ("needs_operator", 5, False)
    problem_said = said["resume_problem"]
    assert problem_said.startswith(problem), problem_said
    assert said["next"].startswith("a person must look: the run crashed and cannot be resumed")
    text = cli("status", run_dir).stdout
    assert f"resumable   no: {problem}" in text
    refused = cli("resume", run_dir)  # as status said: refused, and it records no word of why
    assert refused.returncode == 2, refused.stderr
    assert f"cannot open idempotency database {store}" in refused.stderr
    assert json.loads(cli("status", run_dir, "--json").stdout)["resume_problem"] == problem_said


def test_a_store_in_order_leaves_the_run_resumable(tmp_path: Path) -> None:
    profile = Profile(name="kept", seed=7, steps=150, backend="sqlite")
    assert dryrun(profile, tmp_path, crash_at="checkpoint:2").returncode == KILLED
    run_dir = tmp_path / profile.name
    said = json.loads(cli("status", run_dir, "--json").stdout)
    assert (said["verdict"], said["resumable"]) == ("crashed", True)
    assert cli("resume", run_dir, "-q").returncode == 0
