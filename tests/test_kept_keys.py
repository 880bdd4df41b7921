"""A resume whose idempotency store lost the run's keys is refused before it sends.

Each ``ORDER_SUBMITTED`` up to the checkpoint was reserved in the store first; a store
without those keys (a local file removed, or ``LIVESESSION_PG_DSN`` naming another
database: tests/test_postgres_session.py) would answer every key as new, and the resume
would send again what the crashed process sent.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from livesession.cli import main
from test_lease_session import cli, digest_files, submits_per_client_id, write_config


def test_a_resume_without_the_runs_idempotency_file_is_refused(tmp_path):
    config = write_config(tmp_path / "c.toml", steps=400, checkpoint_every=25)
    out = tmp_path / "runs"
    first = cli(
        "dryrun",
        "--config",
        config,
        "--out",
        out,
        "--run-id",
        "k",
        "-q",
        crash_at="write_events:300",
    )
    assert first.returncode == -9, first.stderr
    run_dir = out / "k"
    aside = tmp_path / "aside"
    aside.mkdir()
    kept = sorted(run_dir.glob("idempotency.sqlite*"))
    assert kept, "the run kept no idempotency file: the test proves nothing"
    for path in kept:
        path.rename(aside / path.name)
    before = digest_files(run_dir)

    status = cli("status", run_dir)
    assert status.returncode == 5, status.stdout
    assert "resumable   no: cannot resume run k: its idempotency store" in status.stdout
    resumed = cli("resume", run_dir, "-q")
    assert resumed.returncode == 2, resumed.stderr
    message = resumed.stderr.strip()
    assert message.count("\n") == 0, message
    assert "idempotency.sqlite (missing) lacks" in message
    assert "so a resume would send again what was sent; nothing was changed" in message
    assert digest_files(run_dir) == before
    assert not list(run_dir.glob("idempotency.sqlite*"))  # not made afresh either

    for path in kept:  # put back, the same resume goes on
        (aside / path.name).rename(path)
    status = cli("status", run_dir)
    assert status.returncode == 6, status.stdout
    resumed = cli("resume", run_dir, "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert max(submits_per_client_id(run_dir / "broker_journal.jsonl").values()) == 1


def _crashed_without_its_store(tmp_path, run_id, crash_at):
    """A run killed at ``crash_at``, its ``idempotency.sqlite`` files set aside: the run's
    directory, and the directory they are in."""
    first = cli("dryrun", "--out", tmp_path / "runs", "--run-id", run_id, "-q", crash_at=crash_at)
    assert first.returncode == -9, first.stderr
    run_dir = tmp_path / "runs" / run_id
    aside = tmp_path / "aside"
    aside.mkdir()
    kept = sorted(run_dir.glob("idempotency.sqlite*"))
    assert kept, "the run kept no idempotency file: the test proves nothing"
    for path in kept:
        path.rename(aside / path.name)
    return run_dir, aside


def test_verify_of_a_run_without_its_idempotency_file_does_not_advise_resume(tmp_path):
    """Bug: `verify` of such a run said `continue it with `livesession resume DIR``, which
    then refused it. Its summary now says resume refuses it, and why (as `status` does);
    with the file put back it advises resume again."""
    run_dir, aside = _crashed_without_its_store(tmp_path, "v", "checkpoint:3")

    checked = cli("verify", run_dir)
    assert checked.returncode == 1, checked.stdout
    summary = checked.stdout.splitlines()[0]
    assert summary.startswith(
        f"incomplete run: no C2_DRYRUN_STOP, and `livesession resume {run_dir}` refuses to "
        "continue it: cannot resume run v: its idempotency store "
    ), summary
    assert "put the run's own idempotency file back, then resume again" in summary
    assert "continue it with" not in checked.stdout

    for path in aside.iterdir():
        path.rename(run_dir / path.name)
    checked = cli("verify", run_dir)
    assert checked.stdout.splitlines()[0] == (
        f"incomplete run: no C2_DRYRUN_STOP; continue it with `livesession resume {run_dir}`"
    )
    assert cli("resume", run_dir, "-q").returncode == 0
    assert cli("verify", run_dir).returncode == 0


def _emptied(run_dir, backend):
    """The run's store file put back empty (its ``-wal`` and ``-shm`` gone with it)."""
    name = f"idempotency.{backend}"
    for path in run_dir.glob(f"{name}*"):
        path.unlink()
    (run_dir / name).write_bytes(b"")


def _wal_dropped(run_dir, backend):
    """The run's SQLite database copied without its ``-wal``: the keys written since the
    last checkpoint of the log into the database are gone."""
    (run_dir / f"idempotency.{backend}-wal").unlink()


@pytest.mark.parametrize(
    ("backend", "damage"),
    [("sqlite", _emptied), ("sqlite", _wal_dropped), ("jsonl", _emptied)],
    ids=["sqlite-empty", "sqlite-without-wal", "jsonl-empty"],
)
def test_a_resume_whose_idempotency_file_lost_the_runs_keys_is_refused(tmp_path, backend, damage):
    """Bug: only a store file that was missing was held to the keys the run recorded as
    submitted; one put back empty, or a SQLite database without its ``-wal``, answered
    every key as new, and the resume went on (it would send again what was in flight).
    Now refused as a missing file is; with the run's own file back it resumes.

    Bug, then: ``status`` still said ``resumable   yes`` and ``continue it`` (and
    ``verify`` advised ``livesession resume``) for such a run, which the resume refused:
    they read a local file that is there as the resume does."""
    out = tmp_path / "runs"
    args = ("--out", out, "--run-id", "e", "--idempotency-backend", backend, "-q")
    first = cli("dryrun", *args, crash_at="checkpoint:4")
    assert first.returncode == -9, first.stderr
    run_dir = out / "e"
    aside = tmp_path / "aside"  # the store's files only: a copy of the run is a run
    aside.mkdir()
    for path in run_dir.glob("idempotency.*"):
        shutil.copy2(path, aside / path.name)
    damage(run_dir, backend)
    before = digest_files(run_dir)

    status = cli("status", run_dir)
    assert status.returncode == 5, status.stdout
    assert "resumable   no: cannot resume run e: its idempotency store" in status.stdout
    assert "continue it" not in status.stdout
    checked = cli("verify", run_dir)
    assert checked.returncode == 1, checked.stdout
    assert "refuses to continue it: cannot resume run e" in checked.stdout.splitlines()[0]
    assert digest_files(run_dir) == before  # asked, not changed

    resumed = cli("resume", run_dir, "-q")
    assert resumed.returncode == 2, resumed.stderr
    message = resumed.stderr.strip()
    assert message.count("\n") == 0, message
    assert f"its idempotency store {run_dir}/idempotency.{backend} lacks " in message
    assert "so a resume would send again what was sent; nothing was changed" in message
    assert digest_files(run_dir) == before

    for path in aside.glob("idempotency.*"):  # the run's own file back: it resumes
        shutil.copy2(path, run_dir / path.name)
    assert cli("status", run_dir).returncode == 6
    assert cli("resume", run_dir, "-q").returncode == 0
    assert cli("verify", run_dir).returncode == 0


def _no_temporary_directory(monkeypatch):
    """No temporary directory this user may write, as ``tempfile`` says it: a container's
    read-only root file system, with TMPDIR naming a directory that is not there."""

    def refused():
        tried = "['/nonexistent', '/tmp', '/var/tmp', '/usr/tmp', '/']"
        raise FileNotFoundError(errno.ENOENT, f"No usable temporary directory found in {tried}")

    monkeypatch.setattr(tempfile, "gettempdir", refused)
    return "no temporary directory this user may write (tried ['/nonexistent', '/tmp', "


def _full_temporary_directory(monkeypatch):
    """A temporary directory with no room for the copy (a small emptyDir, filled)."""
    copyfile = shutil.copyfile

    def full(src, dst, **kwargs):
        if Path(dst).parent.name.startswith("livesession-keys-"):
            raise OSError(errno.ENOSPC, "No space left on device", str(src), None, str(dst))
        return copyfile(src, dst, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", full)
    return "idempotency.sqlite: No space left on device: free space; nothing was changed"


@pytest.mark.parametrize("scratch", [_no_temporary_directory, _full_temporary_directory])
def test_a_resume_that_cannot_copy_the_store_to_check_its_keys_is_refused(
    tmp_path, monkeypatch, capsys, scratch
):
    """Bug: the run's idempotency file is read from a copy in a temporary directory; with
    none this user may write (a container's read-only root file system, TMPDIR unset or
    missing) or one too full for the copy, the check of the run's keys was skipped without
    a word: `status` said `resumable yes` and the resume went on unchecked, even with a
    store that had lost the run's keys. Now both say why it cannot be checked, and how to
    give it a temporary directory; nothing was changed, and with one the run resumes."""
    out = tmp_path / "runs"
    first = cli("dryrun", "--out", out, "--run-id", "t", "-q", crash_at="checkpoint:4")
    assert first.returncode == -9, first.stderr
    run_dir = out / "t"
    before = digest_files(run_dir)
    said = scratch(monkeypatch)

    assert main(["status", str(run_dir)]) == 5
    shown = capsys.readouterr().out
    assert "resumable   no: cannot resume run t: " in shown, shown
    assert said in shown, shown
    assert main(["resume", str(run_dir), "-q"]) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0, message
    assert message.startswith(
        f"livesession: error: cannot resume run t: {run_dir}/idempotency.sqlite cannot be "
        "checked for the client order ids the run recorded as submitted (it is read from a "
        "copy in a temporary directory): "
    ), message
    assert said in message, message
    if scratch is _no_temporary_directory:
        assert "set TMPDIR to one" in message, message
    assert digest_files(run_dir) == before
    assert not list(tmp_path.rglob("livesession-keys-*"))

    monkeypatch.undo()
    assert cli("resume", run_dir, "-q").returncode == 0
    assert cli("verify", run_dir).returncode == 0


def test_a_command_without_a_temporary_directory_says_to_set_tmpdir(tmp_path, monkeypatch, capsys):
    """Bug: `livesession evidence RUN` in a container with a read-only root file system
    and TMPDIR missing said `livesession: error: No usable temporary directory found in
    ['/nonexistent', '/tmp', '/var/tmp', '/usr/tmp', '/']` and no more. Now the line says
    to set TMPDIR to a directory this user may write."""
    out = tmp_path / "runs"
    assert cli("dryrun", "--out", out, "--run-id", "ev", "--steps", "50", "-q").returncode == 0
    _no_temporary_directory(monkeypatch)
    assert main(["evidence", str(out / "ev")]) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0, message
    assert message.startswith(
        "livesession: error: no temporary directory this user may write (tried "
    ), message
    assert message.endswith(
        "set TMPDIR to one (where the root file system is read-only, a writable volume such "
        "as a Kubernetes emptyDir)"
    ), message
    assert not list((out / "ev").glob("manifest.json"))


def test_a_refused_resume_of_another_users_run_says_why(tmp_path, monkeypatch, capsys):
    """Bug: a resume refused after it took the run's lock puts the lock file back as it
    was, times included; only the file's owner (or root) may set times, so a resume by
    another user of the group (the next shift, a second pod of group 0) met EPERM there,
    and said `livesession: error: Operation not permitted` and no more: why it was
    refused was lost. Now the refusal is said, the content put back all the same."""
    run_dir, aside = _crashed_without_its_store(tmp_path, "o", "checkpoint:4")
    lock_before = (run_dir / "writer.lock").read_bytes()
    before = digest_files(run_dir)

    def not_the_owner(*_args, **_kwargs):
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))

    with monkeypatch.context() as m:
        m.setattr(os, "utime", not_the_owner)
        assert main(["resume", str(run_dir), "-q"]) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0, message
    assert "idempotency.sqlite (missing) lacks" in message, message
    assert "Operation not permitted" not in message
    assert (run_dir / "writer.lock").read_bytes() == lock_before
    assert digest_files(run_dir) == before

    for path in aside.glob("idempotency.sqlite*"):
        path.rename(run_dir / path.name)
    assert cli("resume", run_dir, "-q").returncode == 0
