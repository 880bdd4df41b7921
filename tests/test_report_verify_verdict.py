"""With ``--verify`` the report gives the verifier's verdict, not only its count.

Bug: ``livesession report RUN --verify --output r.html`` of a crashed run (killed as it
traded, not resumed yet) said ``5 violation(s): this run does not match the contract.``,
the words of a tampered run, where ``livesession verify`` opens with ``incomplete run: no
C2_DRYRUN_STOP; continue it with `livesession resume RUN` `` and the evidence with ``the
run is not sealed: livesession resume finishes it``. The verdict line is verify's own now.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from livesession import DryrunConfig, create_run, verify_run
from livesession.report import render_report
from test_interrupts import _interrupt_after


def _verification(document: str) -> str:
    section = document.split("<h2>Verification</h2>", 1)[1].split("<h2>", 1)[0]
    return re.sub(r"<[^>]+>", "", section)


@pytest.mark.broken_run("the run crashes on purpose and is left unsealed")
def test_a_crashed_run_reads_as_incomplete_not_as_broken(tmp_path: Path) -> None:
    session = create_run(DryrunConfig(run_id="crashed", steps=300, durability="none"), tmp_path)
    _interrupt_after(session, 300, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt), session:
        session.run_to_end(300)
    run_dir = tmp_path / "crashed"
    result = verify_run(run_dir)
    assert result.summary.startswith("incomplete run: no C2_DRYRUN_STOP")
    text = _verification(render_report(run_dir, verify=result))
    assert f"{result.total} violation(s): {result.summary}" in text.replace("&#x27;", "'")
    assert "does not match the contract" not in text


def test_a_clean_run_is_verified(tmp_path: Path) -> None:
    with create_run(DryrunConfig(run_id="clean", steps=30), tmp_path) as session:
        session.run_to_end(30)
    text = _verification(render_report(tmp_path / "clean", verify=True))
    assert "Verified: the four artifacts agree" in text
