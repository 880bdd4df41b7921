"""A run a full disk stopped that cannot be resumed is still said to have stopped so.

Bug: a run whose checkpoint the full disk refused read as a full-disk stop in ``status``
(``stopped by``) and the evidence only while ``resume`` could continue it. Once something
else kept the resume from it too (here its ``config.json`` edited after it began), ``status``
dropped the ``stopped by`` line and said ``a person must look: the run crashed and cannot be
resumed (...)``, and the evidence ``it crashed or was cut short, and cannot be resumed
here``: the person who must look was told of a crash that never happened.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livesession._artifacts import names
from livesession._rundir.refused import REFUSED_STOP, unsealed_by
from livesession.cli import main
from livesession.evidence._verdict import _unsealed
from livesession.status import Verdict, run_status

from _helpers import checkpoint_refused

_CASH = '"initial_cash": "100000.00"'


def _edited(run_dir: Path) -> str:
    """``config.json`` edited after the run began (a resume refuses it); its text before."""
    path = run_dir / names.CONFIG
    before = path.read_text(encoding="utf-8")
    assert _CASH in before
    path.write_text(before.replace(_CASH, '"initial_cash": "99999"'), encoding="utf-8")
    return before


def test_status_of_a_full_disk_stop_that_cannot_be_resumed_names_the_refused_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = checkpoint_refused(tmp_path, monkeypatch)
    before = _edited(run_dir)
    capsys.readouterr()
    refused = f"cannot write checkpoint {run_dir / names.CHECKPOINT}: No space left on device"

    standing = run_status(run_dir)
    assert standing.verdict is Verdict.NEEDS_OPERATOR
    assert standing.resume_problem is not None
    assert "config.json was changed after the run began" in standing.resume_problem
    assert standing.store_refused.startswith(refused)
    assert standing.next_step() == (
        f"a person must look: {REFUSED_STOP}: {standing.store_refused}, and it cannot be "
        f"resumed ({standing.resume_problem})"
    )
    assert unsealed_by(standing) == standing.store_refused  # the evidence's and burnin's

    assert main(["status", str(run_dir)]) == 5
    lines = capsys.readouterr().out.splitlines()
    assert f"stopped by  {standing.store_refused}" in lines
    assert not [line for line in lines if "crashed" in line]

    # Put right, it is the full-disk stop a resume finishes (and every run verifies).
    (run_dir / names.CONFIG).write_text(before, encoding="utf-8")
    assert run_status(run_dir).verdict is Verdict.CRASHED
    assert main(["resume", str(run_dir), "-q"]) == 0


@pytest.mark.parametrize(
    ("stopped_by", "said"),
    [
        ("cannot write checkpoint DIR/checkpoint.json: No space left on device", REFUSED_STOP),
        ("", "it crashed or was cut short"),
    ],
)
def test_the_evidence_of_a_run_that_cannot_be_resumed_says_what_stopped_it(
    stopped_by: str, said: str
) -> None:
    line = _unsealed({"stopped_by": stopped_by}, "its run directory is read-only")
    head = f"{said}: {stopped_by}" if stopped_by else said
    assert line == (
        f"{head}, and cannot be resumed here: its run directory is read-only; then write its "
        "evidence again"
    )


def test_the_edit_the_test_makes_is_one_a_resume_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's config holds the cash as the test edits it (else the test proves nothing)."""
    run_dir = checkpoint_refused(tmp_path, monkeypatch)
    config = json.loads((run_dir / names.CONFIG).read_text(encoding="utf-8"))
    assert config["initial_cash"] == "100000.00"
    assert main(["resume", str(run_dir), "-q"]) == 0
