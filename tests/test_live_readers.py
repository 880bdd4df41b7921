"""Readers beside a run that is being written, and two readers of one run at once.

Each test drives the overlap at a fixed point (evidence's progress callback, or the other
process's step done before ours through a patched call), never by sleeping.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest

from livesession import resume_run, verify_run
from livesession._exceptions import RunHeld
from livesession.cli import main
from livesession.evidence import write_evidence
from test_api_edges import _crashed

if TYPE_CHECKING:
    from pathlib import Path


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
