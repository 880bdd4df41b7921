"""Readers beside a run that is being written, and two readers of one run at once.

Each test drives the overlap at a fixed point (evidence's progress callback, or the other
process's step done before ours through a patched call), never by sleeping.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from livesession import resume_run, verify_run
from livesession._exceptions import RunHeld
from livesession._support.fsutil import atomic_write_set
from livesession.cli import main
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
