"""Advice that names a command names the run too, so it works pasted as printed.

Bug: some advice said only the verb (`check again with livesession verify`, `livesession
status says where it is`): pasted, the command stopped at its missing RUN_DIR. And the
documents a run's evidence and burn-in write (the EV document, manifest.json, burnin.md and
burnin.json) named the run by the path typed: `livesession resume runs/torn`, read where
the documents are handed over, finds no run. They name it by its absolute path now; what
the command prints keeps the path typed.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from livesession import DryrunConfig, RunHeld, create_run, resume_run
from livesession._control_wait import no_effect
from livesession._rundir.lock import Holder
from livesession._rundir.watch import RunWatch
from livesession.cli import main
from livesession.evidence import write_evidence
from livesession.evidence._outcome import outcome_lines
from test_interrupts import _interrupt_after


def _crashed(out: Path, run_id: str) -> Path:
    """A run interrupted after its 200th event, unsealed: resume finishes it."""
    session = create_run(DryrunConfig(run_id=run_id, steps=300, durability="none"), out)
    _interrupt_after(session, 200, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt), session:
        session.run_to_end(300)
    return out / run_id


def _finish(run_dir: Path) -> None:
    with resume_run(run_dir) as resumed:  # every run a test makes verifies at teardown
        resumed.run_to_end(300)


def test_a_signal_without_effect_says_which_run_to_look_at_with_status() -> None:
    """Exit 9 with no effect seen said `check again with livesession verify DIR`, where the
    RUNBOOK's exit-code table (and the line's own other forms) say `status`: verify of a run
    still written reads its files so far, and says nothing of the process or its signal."""
    holder = Holder(pid=0, host="?", since="?", command="?")  # pid 0: not looked at
    watch = RunWatch(run_dir=Path("my runs/r1"))
    line = no_effect(watch, holder, "sent SIGTERM", 10, under_way=False)
    assert line.endswith("(a long step or wind-down?): check again with `livesession status "
                         "'my runs/r1'` or wait"), line  # fmt: skip


@pytest.mark.parametrize("held", ["", "stopped (state T)"])
def test_a_second_stop_says_when_killing_the_holder_would_lose_the_stop(
    tmp_path: Path, held: str
) -> None:
    """Bug: a `stop` of a holder inside a long step (exit 9), then a second one, said `a stop
    is under way (it took a stop signal, and acts on it at its next step boundary) ...; to end
    it at once, send the second signal: kill -TERM N`, and RUNBOOK that `resume` finishes the
    stop. No checkpoint held the stop yet: the resume traded on to the run's last step. The
    line says so while no checkpoint holds it, and not once one does."""
    holder = Holder(pid=0, host="?", since="?", command="?")  # pid 0: not looked at
    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    checkpoint = run_dir / "checkpoint.json"
    checkpoint.write_text(json.dumps({"fsm_state": "DRYRUN_ACTIVE", "sealed": False}))
    sent = "sent nothing to pid 0: a stop is under way (...)"
    line = no_effect(RunWatch(run_dir=run_dir), holder, sent, 1, under_way=True, held=held)
    assert line.endswith(
        f"`kill -TERM 0`{' (`kill -KILL 0` ends it at once, stopped as it is)' * bool(held)} "
        "(no checkpoint holds the stop yet: a resume would then go on without it, so "
        f"`livesession stop {run_dir}` again after `livesession resume {run_dir}`)"
    ), line
    checkpoint.write_text(
        json.dumps({"fsm_state": "STOPPING", "reason": "SIGNAL_SIGTERM", "sealed": False})
    )
    line = no_effect(RunWatch(run_dir=run_dir), holder, sent, 1, under_way=True, held=held)
    assert line.endswith("stopped as it is)" if held else "`kill -TERM 0`"), line


def test_evidence_of_a_held_run_says_which_run_status_reads(tmp_path: Path) -> None:
    session = create_run(DryrunConfig(run_id="held", steps=20), tmp_path)
    run_dir = tmp_path / "held"
    try:
        with pytest.raises(RunHeld) as refused:
            write_evidence(run_dir)
        assert str(refused.value).endswith(
            f"(wait for it to end; `livesession status {run_dir}` says where it is)"
        ), refused.value
    finally:
        session.run_to_end(20)
        session.close()


def test_the_evidence_bundle_names_the_run_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Typed relative: the result (what the command prints) keeps `runs/torn`; the manifest
    and the EV document, read elsewhere, say `/.../runs/torn`."""
    monkeypatch.chdir(tmp_path)
    where = _crashed(tmp_path / "runs", "torn").resolve()
    result = write_evidence(Path("runs/torn"))
    assert result.problems[0] == (
        "the run is not sealed: `livesession resume runs/torn` finishes it, then write its "
        "evidence again"
    )
    manifest = orjson.loads(result.manifest.read_bytes())
    assert manifest["problems"][0] == (
        f"the run is not sealed: `livesession resume {where}` finishes it, then write its "
        "evidence again"
    )
    assert manifest["problems"][1:] == list(result.problems[1:])
    [completed] = [c for c in manifest["burnin"]["criteria"] if c["name"] == "completed"]
    assert completed["detail"] == (
        f"the run is not sealed (it crashed: `livesession resume {where}` finishes it)"
    )
    document = result.document.read_text(encoding="utf-8")
    assert "runs/torn" not in document.replace(str(where), "")  # verify's advice too
    # In the burn-in table: a code span, as the commands the advice names (md_cell).
    assert f"`livesession resume {where}` finishes it" in document
    assert "\\`" not in document
    assert "runs/torn" not in result.manifest.read_text("utf-8").replace(str(where), "")
    _finish(where)


def test_the_documents_unsealed_advice_names_the_run() -> None:
    where = Path("/srv/my runs/r1")
    torn = outcome_lines({"sealed": False, "seal_problem": "the seal is torn"}, where)
    assert (
        "The run is **not sealed**: the seal is torn (`livesession verify '/srv/my runs/r1'` "
        "says what is wrong: keep the run as it is)."
    ) in torn
    unfinished = outcome_lines({"sealed": False, "status": "COMPLETED"}, where)
    assert (
        "The run is **not sealed**: its events hold `SESSION_STOPPED`, but the seal was not "
        "finished (`livesession status '/srv/my runs/r1'` says where the run stands)."
    ) in unfinished


def test_the_burnin_reports_name_the_run_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """burnin.json and burnin.md name the run by its absolute path in their advice; the
    command's own lines (stdout, --json) are as they were."""
    monkeypatch.chdir(tmp_path)
    where = _crashed(tmp_path / "runs", "torn").resolve()
    capsys.readouterr()
    assert main(["burnin", "runs/torn"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL  torn  runs/torn/burnin.md\n"), out  # the path typed
    assert (
        "      not measured flatten: no wall-time kill drill for this run (run `livesession "
        "evidence`, or `burnin --drill`): skipped, not passed\n"
    ) in out
    report = json.loads((where / "burnin.json").read_text(encoding="utf-8"))
    assert report["run_dir"] == str(where)  # the report's run directory too (test_burnin_review)
    criteria = {c["name"]: c["detail"] for c in report["criteria"]}
    assert criteria["completed"] == (
        f"the run is not sealed (it crashed: `livesession resume {where}` finishes it)"
    )
    assert criteria["flatten"] == (
        f"no wall-time kill drill for this run (run `livesession evidence {where}`, or "
        f"`livesession burnin {where} --drill`): skipped, not passed"
    )
    assert criteria["verified"].endswith(f" (`livesession verify {where}` lists them)")
    markdown = (where / "burnin.md").read_text(encoding="utf-8")
    assert f"`livesession resume {where}` finishes it" in markdown
    assert f"`livesession burnin {where} --drill`" in markdown
    assert "\\`" not in markdown  # code spans, not backticks escaped as text
    _finish(where)
