"""Evidences of one run written elsewhere, at once: they only read the run.

Two reviewers each writing the evidence of one sealed run into their own ``--out`` (the run
on a read-only copy, say) were refused one another: the second said ``DIR: another
livesession evidence is writing its bundle there`` (exit 3) of a run directory neither
wrote into. An evidence whose bundle goes elsewhere now holds the run's lock shared; a
resume, and an evidence writing into the run, still wait for it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from livesession import RunHeld
from livesession._rundir.resumecut import refuse_while_evidence_reads
from livesession.cli import main
from livesession.evidence import write_evidence


@pytest.fixture(name="run", scope="module")
def _run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    argv = ["dryrun", "--out", str(out), "--run-id", "side", "--steps", "60", "-q"]
    assert main([*argv, "--durability", "none"]) == 0
    return out / "side"


def test_two_evidences_written_elsewhere_read_the_run_side_by_side(run, tmp_path) -> None:
    before = sorted(p.name for p in run.iterdir())
    seen: dict[str, object] = {}

    def meanwhile(phase: str) -> None:
        if phase != "verifying the run" or seen:
            return
        seen["second"] = write_evidence(run, out_dir=tmp_path / "b")
        with pytest.raises(RunHeld) as into_the_run:
            write_evidence(run)
        seen["into_the_run"] = str(into_the_run.value)
        with pytest.raises(RunHeld) as resume:
            refuse_while_evidence_reads(run)
        seen["resume"] = str(resume.value)

    first = write_evidence(run, out_dir=tmp_path / "a", progress=meanwhile)
    second = seen["second"]
    assert first.ok
    assert second.ok  # type: ignore[attr-defined]
    for result in (first, second):
        manifest = result.manifest  # type: ignore[attr-defined]
        digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
        assert digest == result.manifest_sha256  # type: ignore[attr-defined]
    assert str(seen["into_the_run"]).startswith(f"{run}: another livesession evidence ")
    assert str(seen["resume"]).startswith(f"{run} is being read by a livesession evidence")
    assert sorted(p.name for p in run.iterdir()) == before  # nothing written into the run
