"""A run read where its file system takes no locks (an NFS share without its lock service).

A reviewer given a copy of the runs on a share whose locks the system refuses (``No locks
available``: an NFS mount whose lock service is not running here) could read none of them:
``verify``, ``status``, ``report``, ``prom`` and ``burnin`` each ended ``livesession:
error: No locks available`` (exit 2, naming neither the run nor the cause), ``list``
``None: No locks available`` once per run, and ``evidence`` was refused, exit 3, with
``another livesession evidence is writing its bundle there``, which no wait ever ends.
Each asked the run's locks whether a writer holds it, and took the refusal to ask for an
error (or, ``evidence``'s own lock, for one held). No writer can hold a lock there (a
writer refuses to create or resume a run on such a file system), so each now reads the run
as on any other, and ``evidence`` writes its bundle unlocked.

The refusal is injected as the kernel gives it: ``ENOLCK`` from every ``flock`` and lock
``fcntl`` on a descriptor of a file under the share.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from livesession.cli import main

from crash_harness import KILLED, Profile, dryrun

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads a descriptor's name from /proc"
)

_LOCK_CALLS = frozenset(
    getattr(fcntl, name)
    for name in ("F_GETLK", "F_SETLK", "F_SETLKW", "F_OFD_GETLK", "F_OFD_SETLK", "F_OFD_SETLKW")
    if hasattr(fcntl, name)
)


@pytest.fixture(name="template", scope="module")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sealed run ``shared`` and a crashed one ``crashed``, side by side."""
    out = tmp_path_factory.mktemp("lockless")
    args = ["dryrun", "--out", str(out), "--run-id", "shared", "--steps", "120", "-q"]
    assert main([*args, "--durability", "none"]) == 0
    assert dryrun(Profile(name="crashed", seed=3), out, crash_at="write_events:60").returncode == (
        KILLED
    )
    return out


def _no_locks(monkeypatch: pytest.MonkeyPatch, share: Path, code: int) -> None:
    """Every ``flock`` and lock ``fcntl`` on a file under ``share`` raises ``code``."""
    real_flock, real_fcntl = fcntl.flock, fcntl.fcntl

    def on_share(fd: object) -> bool:
        number = fd if isinstance(fd, int) else fd.fileno()  # type: ignore[attr-defined]
        return str(Path(f"/proc/self/fd/{number}").readlink()).startswith(f"{share}/")

    def flock(fd: int, operation: int) -> None:
        if on_share(fd):
            raise OSError(code, os.strerror(code))
        real_flock(fd, operation)

    def fcntl_(fd: int, command: int, arg: object = 0) -> object:
        if command in _LOCK_CALLS and on_share(fd):
            raise OSError(code, os.strerror(code))
        return real_fcntl(fd, command, arg)  # type: ignore[call-overload]

    monkeypatch.setattr(fcntl, "flock", flock)
    monkeypatch.setattr(fcntl, "fcntl", fcntl_)


@pytest.fixture(name="share")
def _share(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the runs in ``tmp_path/share``, where no lock can be taken or asked.

    The crashed one is resumed at the end, the share's locks back: it continues, and
    verifies.
    """
    share = tmp_path / "share"
    for name in ("shared", "crashed"):
        shutil.copytree(template / name, share / name)
    _no_locks(monkeypatch, share, errno.ENOLCK)
    yield share
    monkeypatch.undo()
    assert main(["resume", str(share / "crashed"), "-q"]) == 0


def _files(run: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in run.iterdir()}


def test_the_readers_read_a_run_on_a_share_without_locks(share, tmp_path, capsys) -> None:
    run = share / "shared"
    before = _files(run)
    assert main(["verify", str(run)]) == 0
    assert main(["status", str(run)]) == 0
    assert main(["list", str(share)]) == 0
    assert main(["report", str(run), "--output", str(tmp_path / "r.html")]) == 0
    assert main(["prom", str(run), "--output", str(tmp_path / "r.prom")]) == 0
    assert main(["burnin", str(run), "--out", str(tmp_path / "bi")]) == 1  # no OCO: a verdict
    assert main(["verify", str(run), "--json"]) == 0
    out = capsys.readouterr()
    assert "No locks available" not in out.err
    # Only ``list``'s row of the crashed run says it, in its PROBLEM column: why a resume
    # cannot take it there, as ``status`` says (the test below); no reader's own error.
    (row,) = [line for line in out.out.splitlines() if "No locks available" in line]
    assert row.startswith("crashed "), row
    assert "and a resume locks it: its file system takes no locks" in row, row
    assert _files(run) == before  # read, never written


def test_evidence_writes_its_bundle_on_a_share_without_locks(share, tmp_path, capsys) -> None:
    run = share / "shared"
    before = _files(run)
    assert main(["evidence", str(run), "--out", str(tmp_path / "ev")]) == 0
    assert _files(run) == before
    assert main(["verify", str(run), "--manifest", str(tmp_path / "ev" / "manifest.json")]) == 0
    assert main(["evidence", str(run)]) == 0  # into the run directory, on the share too
    assert (run / "manifest.json").is_file()
    err = capsys.readouterr().err
    assert "another livesession evidence" not in err


def test_a_crashed_run_on_a_share_without_locks_says_it_cannot_resume_there(share, capsys) -> None:
    run = share / "crashed"
    before = _files(run)
    locked = "the run directory cannot be locked (No locks available), and a resume locks it"
    assert main(["status", str(run)]) == 5  # a person must act, as on read-only media
    assert f"resumable   no: {locked}: its file system takes no locks" in capsys.readouterr().out
    assert main(["resume", str(run), "-q"]) == 2
    resumed = capsys.readouterr().err.strip()
    assert resumed.startswith(f"livesession: error: cannot resume {run} (nothing was changed): ")
    assert main(["dryrun", "--out", str(share), "--run-id", "new", "--steps", "5", "-q"]) == 2
    created = capsys.readouterr().err.strip()
    for said in (resumed, created):
        assert "\n" not in said
        assert "its file system takes no locks" in said, said
    assert _files(run) == before
    assert not (share / "new").exists()


@pytest.mark.parametrize("code", [errno.EOPNOTSUPP, errno.EINVAL])
def test_a_lock_refused_in_other_words_is_said_as_no_locks(code, tmp_path, monkeypatch, capsys):
    """``Operation not supported`` (a FUSE or SMB mount), not ``No locks available``.

    The run was refused all the same, but its line named no file system: ``cannot create
    run DIR: Operation not supported; nothing was left behind``.
    """
    share = tmp_path / "share"
    share.mkdir()
    _no_locks(monkeypatch, share, code)
    assert main(["dryrun", "--out", str(share), "--run-id", "new", "--steps", "5", "-q"]) == 2
    said = capsys.readouterr().err.strip()
    assert said.startswith(f"livesession: error: cannot create run {share / 'new'}: "), said
    assert f"No locks available ({os.strerror(code)}): its file system takes no locks" in said
    assert said.endswith("nothing was left behind"), said
    assert list(share.iterdir()) == []
