"""The evidence bundle says apart whether its evidence verifies and how the run ended.

Bug: ``livesession evidence`` of a run whose strategy raised (``dryrun`` exit 4) printed
``result    PASS`` and its document opened ``- Result: **PASS**`` beside the run's FAILED
and a burn-in FAIL: ``PASS`` meant the evidence is intact and verified, and a governance
reviewer read it as the strategy's pass. Now the evidence is ``VERIFIED`` (or ``NOT
VERIFIED``), and the run ``COMPLETED``, ``KILLED``, ``STOPPED BY OPERATOR``, ``FAILED`` with
its reason, and so on, on lines of their own: in the command's output, its ``--json``, the
manifest, the document and ``verify --manifest``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, daily_loss_kill
from livesession import DryrunConfig, create_run
from livesession._artifacts import names
from livesession._artifacts.runread import iter_records
from livesession.cli import main
from livesession.evidence._outcome import outcome
from livesession.evidence._verdict import run_ended

from _reviewrun import build_review_run

_STRATEGY = """\
class Boom:
    strategy_id = "boom"

    def __init__(self):
        self.n = 0

    def on_bar(self, bar, view):
        self.n += 1
        if self.n == 30:
            raise RuntimeError("model file corrupt")
        return []

    def get_state(self):
        return {"n": self.n}

    def set_state(self, state):
        self.n = state["n"]


def make(*, strategy_id):
    return Boom()
"""
_VERIFIED = (
    "VERIFIED: the run's files are intact and every check of the bundle passed: this says "
    "the record is sound, not that the run went well"
)
_FAILED = (
    "FAILED: STRATEGY_ERROR (RuntimeError: model file corrupt) after 30 of 60 steps; wound "
    "down (cancelled, flattened) and sealed FAILED in STOPPED"
)
_NEXT = (
    "the strategy raised, or gave what the session cannot act on: audit.jsonl's "
    "C2_STRATEGY_ERROR says what, the session log its traceback (input_failed; the CLI's: "
    "session.log.jsonl); fix it and start a new run (this one stays as evidence; "
    "`livesession verify {run_dir}` checks it)"
)


def _failed_said(run_dir: Path) -> str:
    """The run line of the failed run at ``run_dir``: with status's next step, naming it."""
    return f"{_FAILED}; next: {_NEXT.format(run_dir=run_dir)}"


@pytest.fixture(name="failed", scope="module")
def _failed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run whose strategy raised on its 30th bar: the CLI's exit 4, sealed FAILED."""
    base = tmp_path_factory.mktemp("failed")
    (base / "boom.py").write_text(_STRATEGY, "utf-8")
    (base / "boom.toml").write_text(
        'run_id = "boom"\nsteps = 60\nstrategy_factory = "boom:make"\n', "utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "dryrun", "-c", "boom.toml", "--out", "runs",
         "-q"],
        cwd=base, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 4, done.stderr
    return base / "runs" / "boom"


def test_the_output_says_the_evidence_and_the_run_apart(
    failed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evidence", str(failed), "--out", str(tmp_path / "plain")]) == 0  # as before
    said_plain = capsys.readouterr()
    lines = said_plain.out.splitlines()
    assert lines[-2:] == [f"evidence  {_VERIFIED}", f"run       {_failed_said(failed)}"]
    assert said_plain.err == ""  # a failed run's evidence that verifies is no failure
    assert not [line for line in lines if "PASS" in line]

    assert main(["evidence", str(failed), "--out", str(tmp_path / "json"), "--json"]) == 0
    said = orjson.loads(capsys.readouterr().out)
    assert (said["ok"], said["evidence"], said["run_ended"], said["run_outcome"]) == (
        True,
        "VERIFIED",
        "FAILED",
        _failed_said(failed),
    )


def test_the_manifest_and_the_document_say_them_apart(failed: Path, tmp_path: Path) -> None:
    assert main(["evidence", str(failed), "--out", str(tmp_path / "ev")]) == 0
    manifest = orjson.loads((tmp_path / "ev" / "manifest.json").read_bytes())
    assert (manifest["ok"], manifest["evidence"]) == (True, "VERIFIED")
    assert manifest["run_ended"] == {"ended": "FAILED", "said": _failed_said(failed.resolve())}
    [document] = (tmp_path / "ev").glob("EV-*.md")
    lines = document.read_text("utf-8").splitlines()
    assert lines[2:4] == [
        (
            "- Evidence: **VERIFIED** (the run's files are intact and every check of the bundle "
            "passed: this says the record is sound, not that the run went well)."
        ),
        f"- Run ended: **{_failed_said(failed.resolve())}.".replace(
            "**FAILED: ", "**FAILED**: ", 1
        ),
    ]
    assert not [line for line in lines if line.startswith("- Result:")]


def test_verify_with_the_manifest_says_them_apart(
    failed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evidence", str(failed), "--out", str(tmp_path / "ev")]) == 0
    capsys.readouterr()
    manifest = tmp_path / "ev" / "manifest.json"
    assert main(["verify", str(failed), "--manifest", str(manifest)]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    bundled = _failed_said(failed.resolve())  # the bundle names the run by its absolute path
    assert f"(the bundle says: evidence VERIFIED; the run: {bundled}); its sha256 " in line
    assert main(["verify", str(failed), "--manifest", str(manifest), "--json"]) == 0
    held = orjson.loads(capsys.readouterr().out)["manifest"]
    assert (held["bundle_result"], held["bundle_run_ended"]) == ("VERIFIED", bundled)


def test_a_bundle_that_fails_says_not_verified(
    failed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "boom"
    subprocess.run(["cp", "-a", str(failed), str(run_dir)], check=True)
    (run_dir / "leak.txt").write_text("AKIAIOSFODNN7EXAMPLE\n", "utf-8")
    assert main(["evidence", str(run_dir), "--out", str(tmp_path / "ev")]) == 1
    said = capsys.readouterr()
    assert said.out.splitlines()[-2:] == [
        "evidence  NOT VERIFIED: the secret scan found 1 finding(s)",
        f"run       {_failed_said(run_dir)}",
    ]
    # Bug: nothing on stderr, where verify says its violations: a CI job keeping stdout
    # as a file logged no word of why the step failed. One line now, with --json too.
    failed_line = (
        f"livesession: evidence NOT VERIFIED for {run_dir}: the secret scan found 1 finding(s)\n"
    )
    assert said.err == failed_line
    assert main(["evidence", str(run_dir), "--out", str(tmp_path / "ev2"), "--json"]) == 1
    said = capsys.readouterr()
    assert orjson.loads(said.out)["ok"] is False
    assert said.err == failed_line


def test_the_report_and_the_evidence_give_status_s_next_step_of_a_strategy_error(
    failed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: after a strategy's error (``STRATEGY_ERROR``), ``status`` said what to do next
    (where the error and its traceback are, start a new run), while the report's header
    and the evidence's run line stopped at ``sealed FAILED in STOPPED``. Both now say
    status's words, from the one table (``REASON_NEXT``), naming the run as each does."""
    assert main(["status", str(failed), "--json"]) == 4
    status_next = orjson.loads(capsys.readouterr().out)["next"]
    assert status_next == _NEXT.format(run_dir=failed)
    assert main(["evidence", str(failed), "--out", str(tmp_path / "ev"), "--json"]) == 0
    said = orjson.loads(capsys.readouterr().out)["run_outcome"]
    assert said.endswith(f"; next: {status_next}"), said
    assert main(["report", str(failed), "--output", str(tmp_path / "report.html")]) == 0
    capsys.readouterr()
    header = (tmp_path / "report.html").read_text("utf-8").split("</header>")[0]
    in_report = _NEXT.format(run_dir="RUN_DIR").replace("'", "&#x27;")
    assert f'<p class="sub">Next: {in_report}</p>' in header, header


def _ended(run_dir: Path) -> dict[str, str]:
    return run_ended(outcome(run_dir, iter_records(run_dir / names.EVENTS)))


def test_a_run_the_kill_switch_halted_is_killed(tmp_path: Path) -> None:
    daily_loss_kill(tmp_path, "cap")
    assert _ended(tmp_path / "cap") == {
        "ended": "KILLED",
        "said": "KILLED: the daily-loss cap pulled the kill switch at step 3, before its "
        "strategy's turn (KILL_SWITCH "
        "reason DAILY_LOSS); trading HALTED to the end: no new order from then on; sealed "
        "COMPLETED after 6 of 6 steps",
    }


def test_a_run_an_operator_stopped_early_says_so(tmp_path: Path) -> None:
    cfg = DryrunConfig(run_id="op", strategy_id="scripted", steps=10)
    strategy = ScriptedStrategy(at({}))
    with create_run(cfg, tmp_path, strategy=strategy) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(4)
        session.request_stop("SIGNAL_SIGTERM", sealed_as=True)
    assert _ended(tmp_path / "op") == {
        "ended": "STOPPED BY OPERATOR",
        "said": "STOPPED BY OPERATOR: stopped with 'SIGNAL_SIGTERM' (the signal livesession "
        "stop sends, as a service manager stopping it does); sealed COMPLETED after 4 of 10 "
        "steps",
    }


def test_a_completed_run_and_a_fault_left_for_an_operator(tmp_path: Path) -> None:
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "done", "--steps", "20", "-q"]) == 0
    assert _ended(tmp_path / "done") == {
        "ended": "COMPLETED",
        "said": "COMPLETED: ran its steps; sealed COMPLETED after 20 of 20 steps",
    }
    cfg = DryrunConfig(run_id="left", strategy_id="scripted", steps=10)

    def raises(n: int, _bar: object, _view: object) -> list[object]:
        if n == 3:
            raise ValueError("no quote")
        return []

    feed, strategy = ScriptedFeed(["40000.00"]), ScriptedStrategy(raises)
    with create_run(cfg, tmp_path, feed=feed, strategy=strategy) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(5)
    assert _ended(tmp_path / "left") == {
        "ended": "FAILED",
        "said": "FAILED: STRATEGY_ERROR (ValueError: no quote) after 3 of 10 steps; left in "
        "ERROR_REQUIRES_OPERATOR, not wound down: the venue may still hold its orders and "
        "position (a person must look)",
    }


def test_a_kill_an_operator_lifted_is_no_kill_at_the_end(tmp_path: Path) -> None:
    daily_loss_kill(tmp_path, "lift", lifted_after=4)
    assert _ended(tmp_path / "lift") == {  # not KILLED; the lifted halt told, not hidden
        "ended": "COMPLETED",
        "said": "COMPLETED: ran its steps; sealed COMPLETED after 6 of 6 steps; trading HALTED "
        "and re-enabled: from step 3 until ops-1 re-enabled it after step 4: the daily-loss "
        "cap pulled the kill switch (KILL_SWITCH reason DAILY_LOSS)",
    }


def test_a_resumed_run_says_it_was_resumed(tmp_path: Path) -> None:
    """The ``run`` line of a run that crashed and was resumed said nothing of it.

    ``evidence``'s ``run`` line, the document's ``Run ended`` and ``verify --manifest``'s
    ``the run:`` read as a run that never crashed; only the document's body said
    ``Resumed``. The line now ends with the resumes, each from its checkpoint's step.
    """
    run = build_review_run(tmp_path)  # killed at the checkpoint of step 200, resumed once
    assert _ended(run) == {
        "ended": "KILLED",
        "said": "KILLED: the daily-loss cap pulled the kill switch at step 428, before its "
        "strategy's turn (KILL_SWITCH reason DAILY_LOSS); trading HALTED to the end: no new order from then on; sealed "
        "COMPLETED after 600 of 600 steps; rails refused 174 order(s) (MAX_ORDER_NOTIONAL 174), "
        "18 sent; resumed after a crash once, from step 100",
    }


@pytest.mark.parametrize(
    ("resumes", "said"),
    [
        ([{"checkpoint": False, "from_step": 0}], "once, from the start"),
        (
            [{"checkpoint": True, "from_step": 100}, {"checkpoint": True, "from_step": 200}],
            "2 times, from step 100 and step 200",
        ),
    ],
)
def test_the_resumes_in_the_run_line(resumes: list[dict[str, object]], said: str) -> None:
    found = {"sealed": True, "status": "COMPLETED", "steps": 6, "steps_planned": 6}
    assert run_ended(found | {"resumes": resumes})["said"] == (
        f"COMPLETED: ran its steps; sealed COMPLETED after 6 of 6 steps; resumed after a crash "
        f"{said}"
    )
    assert (
        run_ended(found)["said"] == "COMPLETED: ran its steps; sealed COMPLETED after 6 of 6 steps"
    )


def test_a_kill_an_operator_lifted_is_on_the_run_line(tmp_path: Path) -> None:
    """Bug: a run killed at step 30 and re-enabled at step 50 was ``COMPLETED: ran its
    steps; sealed COMPLETED after 200 of 200 steps`` on ``evidence``'s run line, while the
    document's "How the run ended" and the report's header told the kill and its lifting."""
    from _helpers import KILLED_THEN_LIFTED, steered_run

    cfg = DryrunConfig(run_id="lifted", steps=200, durability="none")
    run_dir = steered_run(cfg, tmp_path, KILLED_THEN_LIFTED)
    found = outcome(run_dir, iter_records(run_dir / names.EVENTS))
    assert run_ended(found)["said"] == (
        "COMPLETED: ran its steps; sealed COMPLETED after 200 of 200 steps; trading HALTED "
        "and re-enabled: from step 30 until alice re-enabled it after step 50: an operator's "
        "kill (KILL_SWITCH reason desk)"
    )
