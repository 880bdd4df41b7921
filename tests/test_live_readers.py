"""Readers beside a run that is being written, and two readers of one run at once.

Each test drives the overlap at a fixed point (evidence's progress callback, or the other
process's step done before ours through a patched call), never by sleeping.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from livesession import resume_run, verify_run
from livesession._exceptions import RunHeld
from livesession._support import fsutil
from livesession._support.dirlock import lock_directory
from livesession._support.fsutil import atomic_write_set
from livesession.cli import EXIT_REJECTED, main
from livesession.evidence import write_evidence
from test_api_edges import _crashed


def _tree(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir())}


def test_a_resume_is_refused_while_an_evidence_reads_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: ``resume`` of a crashed run started while its ``evidence`` was at work cut the
    files back and wrote on beneath it (evidence holds no writer lock, only a lock on the
    directory): the bundle hashed and verified files that changed as it read them, and
    said NOT SEALED of a run the resume sealed. The resume is refused now (exit 3), nothing
    changed, and goes through once the evidence is done."""
    run_dir = _crashed(tmp_path / "out", "r1", desk=False)
    seen: dict[str, object] = {}

    def meanwhile(phase: str) -> None:
        if phase != "verifying the run":
            return
        before = _tree(run_dir)
        with pytest.raises(RunHeld) as refused:
            resume_run(run_dir)
        seen["api"] = str(refused.value)
        seen["cli"] = main(["resume", str(run_dir)])
        seen["stderr"] = capsys.readouterr().err
        seen["same"] = _tree(run_dir) == before

    result = write_evidence(run_dir, out_dir=tmp_path / "bundle", progress=meanwhile)
    assert str(seen["api"]).startswith(f"{run_dir} is being read by a livesession evidence")
    assert "nothing was changed" in str(seen["api"])
    assert seen["cli"] == 3
    (line,) = str(seen["stderr"]).splitlines()
    assert line.startswith(f"livesession: rejected: {run_dir} is being read by a livesession")
    assert seen["same"] is True  # the writer.lock as it was too
    assert not result.ok  # of the crashed run it read: not sealed
    assert hashlib.sha256(result.manifest.read_bytes()).hexdigest() == result.manifest_sha256
    resumed = resume_run(run_dir)  # the evidence let go of the run
    resumed.run_to_end(resumed.config.steps)
    resumed.close()
    assert verify_run(run_dir).ok


def _made_meanwhile(monkeypatch: pytest.MonkeyPatch, target: Path) -> list[Path]:
    """Each ``mkdir`` of ``target`` finds it made a moment before, by another process."""
    real = os.mkdir
    raced: list[Path] = []

    def other_first(path: object, *args: object, **kwargs: object) -> None:
        if Path(os.fsdecode(path)) == target and not target.exists():  # type: ignore[arg-type]
            real(target)  # the other evidence's mkdir won
            raced.append(target)
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "mkdir", other_first)
    return raced


def test_two_evidences_making_one_out_directory_do_not_fail_on_file_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: two ``evidence RUN --out NEW`` started together both found ``NEW`` missing, and
    the one whose check made it second exited 2, ``cannot write the evidence bundle ... (File
    exists): write it elsewhere with --out DIR``, for a directory there to write into."""
    assert main(["dryrun", "--out", str(tmp_path / "runs"), "--run-id", "ev", "--steps", "60",
                 "-q", "--durability", "none"]) == 0  # fmt: skip
    capsys.readouterr()
    out = tmp_path / "bundles" / "new"
    raced = _made_meanwhile(monkeypatch, out)
    assert main(["evidence", str(tmp_path / "runs" / "ev"), "--out", str(out)]) == 0
    assert raced == [out]
    said = capsys.readouterr()
    assert said.err == ""
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 2  # the manifest and its EV document
    assert names[0].startswith("EV-")
    assert names[1] == "manifest.json"


def test_a_directory_another_process_made_meanwhile_is_written_into_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundle's own write makes ``--out`` as it writes: made meanwhile by another, it is
    written into; and a refusal after that leaves it, since it was not this writer's."""
    out = tmp_path / "bundle"
    raced = _made_meanwhile(monkeypatch, out)
    atomic_write_set([(out / "manifest.json", b"{}"), (out / "EV.md", b"# EV")])
    assert raced == [out]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {
        "manifest.json": b"{}",
        "EV.md": b"# EV",
    }


def _two_runs(tmp_path: Path) -> tuple[Path, Path]:
    """Two sealed runs of their own ids, ``a`` and ``b``."""
    for run_id in ("a", "b"):
        assert main(["dryrun", "--out", str(tmp_path / "runs"), "--run-id", run_id,
                     "--steps", "60", "-q", "--durability", "none"]) == 0  # fmt: skip
    return tmp_path / "runs" / "a", tmp_path / "runs" / "b"


def _at_the_bundles_mkdir(
    monkeypatch: pytest.MonkeyPatch, target: Path, meanwhile: Callable[[], None]
) -> list[Path]:
    """``meanwhile`` runs as the bundle's own ``mkdir`` of ``target`` starts (the second:
    the first is the CLI's up-front check, which takes it away again), then the mkdir."""
    real = os.mkdir
    calls: list[Path] = []

    def hooked(path: object, *args: object, **kwargs: object) -> None:
        if Path(os.fsdecode(path)) == target:  # type: ignore[arg-type]
            calls.append(target)
            if len(calls) == 2:
                monkeypatch.setattr(os, "mkdir", real)  # the other's makes are its own
                meanwhile()
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "mkdir", hooked)
    return calls


def test_two_evidences_of_two_runs_into_one_new_out_leave_one_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: two ``evidence`` of two runs started together into one new ``--out`` both
    found it missing, so neither locked it (nor found the other's manifest there), and the
    second to write replaced the first's ``manifest.json`` beside the first's EV document:
    one directory held a mix, and the SHA-256 the first printed matched no file. The one
    that makes (or finds) the directory as it writes now locks it and checks it again: the
    other run's bundle written there meanwhile is refused (exit 3, one line), kept whole."""
    a, b = _two_runs(tmp_path)
    out = tmp_path / "new"
    other: list[int] = []
    calls = _at_the_bundles_mkdir(
        monkeypatch, out, lambda: other.append(main(["evidence", str(b), "--out", str(out)]))
    )
    capsys.readouterr()
    assert main(["evidence", str(a), "--out", str(out)]) == EXIT_REJECTED
    assert (calls, other) == ([out, out], [0])
    said = capsys.readouterr()
    assert said.err == (
        f"livesession: rejected: {out}: another livesession evidence wrote the bundle of run b "
        "there meanwhile (manifest.json); nothing was written (a directory holds one run's "
        "bundle: write this one elsewhere with --out DIR)\n"
    )
    (sha,) = [line for line in said.out.splitlines() if line.startswith("sha256")]
    manifest = (out / "manifest.json").read_bytes()
    assert sha.split()[1] == hashlib.sha256(manifest).hexdigest()  # b's, as b printed it
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 2  # b's manifest and its EV document
    assert names[0].startswith("EV-")
    assert names[0].endswith("-b.md")


def test_an_evidence_into_a_new_out_another_holds_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: an ``--out`` missing when evidence started was never locked: another evidence
    that made it and held it as it wrote did not keep this one out. It is locked when made
    (or found made) for the bundle, and one held is refused (exit 3), nothing written."""
    a, _ = _two_runs(tmp_path)
    out = tmp_path / "new"
    held: list[int] = []

    def other_makes_and_holds() -> None:
        out.mkdir()
        fd, _holder = lock_directory(out)
        assert fd is not None
        held.append(fd)

    _at_the_bundles_mkdir(monkeypatch, out, other_makes_and_holds)
    capsys.readouterr()
    try:
        assert main(["evidence", str(a), "--out", str(out)]) == EXIT_REJECTED
    finally:
        for fd in held:
            os.close(fd)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(
        f"livesession: rejected: {out}: another livesession evidence is writing its bundle "
        "there (held by another process"
    )
    assert line.endswith("; nothing was written (one evidence at a time: let it finish and read "
                         "the manifest.json it prints the SHA-256 of, or run this one again then)")  # fmt: skip
    assert list(out.iterdir()) == []  # and the directory is the other's: kept


def test_a_burnin_writes_into_an_out_another_made_and_took_away_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: two ``burnin --out NEW`` started together: the later one's up-front check made
    ``NEW`` and took it away again while the earlier one, its work done, found it there and
    went to write: exit 2, ``NEW: no such directory``. It makes it again now and writes.
    (``File exists`` never failed one, and two runs' reports have two names there.)"""
    a, _ = _two_runs(tmp_path)
    out = tmp_path / "new"
    real_mkdir, real_create = os.mkdir, fsutil._create_tmp
    mkdirs: list[Path] = []
    taken: list[Path] = []

    def mkdir(path: object, *args: object, **kwargs: object) -> None:
        if Path(os.fsdecode(path)) == out:  # type: ignore[arg-type]
            mkdirs.append(out)
            if len(mkdirs) == 2:  # the reports' mkdir (the first is this one's own check)
                real_mkdir(out)  # the other burnin's check made it first
        real_mkdir(path, *args, **kwargs)  # type: ignore[arg-type]

    def create(path: Path) -> tuple[int, Path]:
        if not taken:
            out.rmdir()  # the other's check takes it away again, before a file is in it
            taken.append(out)
        return real_create(path)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(fsutil, "_create_tmp", create)
    capsys.readouterr()
    assert main(["burnin", str(a), "--out", str(out)]) == 1  # judged: 60 steps fail signals
    assert (mkdirs, taken) == ([out, out, out], [out])
    assert "error" not in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["a-burnin.json", "a-burnin.md"]
