"""A checkpoint the file system refuses mid-run: the line says what its errno needs.

RUNBOOK "Exit codes" (2): after ``the run is not sealed`` do what its ``once ...`` says,
which the error's errno decides.
"""

from __future__ import annotations

import errno
import html
import json
import os
from pathlib import Path

import pytest

from livesession._artifacts import names
from livesession.cli import main
from livesession.status import Verdict, run_status
from livesession.verify import verify_run

from _helpers import checkpoint_refused


@pytest.mark.parametrize(
    ("code", "once"),
    [
        (errno.ENOSPC, "the file system has room again"),
        (errno.EMFILE, "the open-file limit is raised (too many open files: `ulimit -n`)"),
    ],
)
def test_a_checkpoint_refused_mid_run_says_what_its_errno_needs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: int,
    once: str,
) -> None:
    """RUNBOOK: after ``the run is not sealed`` do what its ``once`` says, which the errno
    decides. Bug: a refused checkpoint said ``once what the line names is put right``
    whatever the errno, where every other refused file said ``once the file system has room
    again`` (ENOSPC) or ``once the open-file limit is raised`` (EMFILE)."""
    run_dir = checkpoint_refused(tmp_path, monkeypatch, code=code)
    assert capsys.readouterr().err == (
        f"livesession: error: cannot write checkpoint {run_dir / names.CHECKPOINT}: "
        f"{os.strerror(code)}: the run is not sealed; once {once}, `livesession status "
        f"{run_dir}` says whether `livesession resume {run_dir}` can continue it\n"
    )
    assert run_status(run_dir).verdict is Verdict.CRASHED
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert verify_run(run_dir).ok


def test_status_names_a_full_disk_at_the_checkpoint_as_a_full_disk_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a checkpoint the full disk refused read afterwards as a bare crash: ``status``
    said ``continue it: livesession resume DIR``, with no ``stopped by`` line and no
    ``once the file system has room again``, though the process's session log ends with the
    refusal (``session_interrupted``, ``CheckpointError``), as a store the disk refused
    did. Now it reads as that store's does; once a resume wrote its own ending, no more."""
    run_dir = checkpoint_refused(tmp_path, monkeypatch)
    capsys.readouterr()
    found = run_status(run_dir)
    assert found.verdict is Verdict.CRASHED
    said = f"cannot write checkpoint {run_dir / names.CHECKPOINT}: No space left on device"
    assert found.store_refused == (f"{said} ({names.SESSION_LOG}'s last line, session_interrupted)")
    assert found.next_step() == (
        f"once the file system has room again: continue it: livesession resume {run_dir}"
    )
    assert main(["status", str(run_dir)]) == 6
    assert f"stopped by  {found.store_refused}" in capsys.readouterr().out.splitlines()
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert verify_run(run_dir).ok
    assert run_status(run_dir).store_refused == ""


def test_evidence_of_a_run_a_full_disk_stopped_at_its_checkpoint_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: the evidence of a run whose checkpoint the full disk refused said ``Run ended:
    **NOT SEALED**: it crashed or was cut short: resume it``, as of a crash, though its
    process logged the refusal (status says it, ``stopped by``). The run line, and the
    document's "How the run ended", now say the refused write; the manifest's ``outcome``
    keeps it (``stopped_by``)."""
    run_dir = checkpoint_refused(tmp_path, monkeypatch)
    bundle = tmp_path / "bundle"
    assert main(["evidence", str(run_dir), "--out", str(bundle)]) == 1
    capsys.readouterr()
    said = run_status(run_dir).store_refused
    assert said.startswith(f"cannot write checkpoint {run_dir / names.CHECKPOINT}: No space left")
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    assert manifest["outcome"]["stopped_by"] == said
    assert manifest["run_ended"]["said"] == (
        f"NOT SEALED: its process stopped on a refused write: {said}: resume it once that is "
        "put right, then write its evidence again"
    )
    (document,) = bundle.glob("EV-*.md")
    text = document.read_text(encoding="utf-8")
    assert "crashed or was cut short" not in text
    assert "The run is **not sealed**: its process stopped on a refused write: " in text
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert verify_run(run_dir).ok


def test_the_report_of_a_run_a_full_disk_stopped_at_its_checkpoint_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: the report's header said ``it stopped without sealing (a crash, a kill, a power
    cut)`` of such a run. It says the refused write now, as ``status`` does, in the
    evidence's words (``its process stopped on a refused write: ...``; it said ``..., ...``)."""
    run_dir = checkpoint_refused(tmp_path, monkeypatch)
    report = tmp_path / "report.html"
    assert main(["report", str(run_dir), "--output", str(report)]) == 0
    capsys.readouterr()
    text = html.unescape(report.read_text(encoding="utf-8"))
    assert "a crash, a kill, a power cut" not in text
    said = run_status(run_dir).store_refused
    assert f"its process stopped on a refused write: {said}." in text
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert verify_run(run_dir).ok


def test_every_line_of_the_evidence_and_burnin_says_the_refused_write_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: the evidence's run line said the refused write of a run a full disk stopped at
    its checkpoint, while its determinism line (``the run is not sealed (it crashed)``), its
    steps note (``its process ended there, unsealed (a crash)``) and the burn-in's
    ``completed`` (``(it crashed: ...``) said a crash. Each says the run line's words now."""
    run_dir = checkpoint_refused(tmp_path, monkeypatch)
    said = run_status(run_dir).store_refused
    stopped = f"its process stopped on a refused write: {said}"
    bundle = tmp_path / "bundle"
    assert main(["evidence", str(run_dir), "--out", str(bundle)]) == 1
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    assert manifest["determinism"]["reason"] == (
        f"the run is not sealed ({stopped}), so there is no whole run to compare with"
    )
    (notes,) = manifest["burnin"]["notes"]
    assert (
        notes
        == f"the session recorded 100 of 120 planned steps and never stopped, unsealed: {stopped}"
    )
    (document,) = bundle.glob("EV-*.md")
    text = document.read_text(encoding="utf-8")
    assert "(it crashed" not in text
    assert "(a crash)" not in text
    capsys.readouterr()
    assert main(["burnin", str(run_dir), "--out", str(tmp_path / "burnin")]) == 1
    out = capsys.readouterr().out
    assert "crash)" not in out
    assert "(it crashed" not in out
    assert (
        f"completed: the run is not sealed ({stopped}: `livesession resume` finishes it once "
        "that is put right)" in out
    )
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert verify_run(run_dir).ok
