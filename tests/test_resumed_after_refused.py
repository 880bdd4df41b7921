"""A run a full disk stopped at its checkpoint, then resumed: each resume says why it came.

Bug: once ``livesession resume`` had finished such a run, the evidence (its run line, its
"How the run ended", its failure paths) and ``livesession burnin`` said it was "resumed
after a crash", and the report's header "Why: the process stopped without sealing the run
(a crash, or a kill)": no run record says why the first process stopped, but its session
log does (``session_interrupted``, ``CheckpointError``), which ``status`` read before the
resume. Each resume is now said after the refused write the log names before it, in the
words the run was told in before it (``unsealed_because``), or after a crash.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

import pytest

from livesession import resume_run
from livesession._artifacts import names
from livesession.cli import main
from livesession.status import run_status
from livesession.verify import verify_run

from _helpers import checkpoint_refused, cli_child

if TYPE_CHECKING:
    from pathlib import Path

_LENIENT = ("--min-signals", "0", "--min-decisions", "0", "--min-oco", "0")


def _refused_then_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, str]:
    """The run a full disk stopped at its step-100 checkpoint, resumed to its end by the CLI,
    and what ``status`` said stopped it before the resume, as the log's line 5 says it."""
    run_dir = checkpoint_refused(tmp_path, monkeypatch)
    said = run_status(run_dir).store_refused
    assert said.endswith(f"({names.SESSION_LOG}'s last line, session_interrupted)")
    assert main(["resume", str(run_dir), "-q"]) == 0
    capsys.readouterr()
    assert verify_run(run_dir).ok
    lines = (run_dir / names.SESSION_LOG).read_bytes().splitlines()
    assert json.loads(lines[4])["interrupted_by"] == "CheckpointError"
    assert json.loads(lines[5])["event"] == "session_resumed"
    line = said.replace("'s last line,", "'s line 5,")
    return run_dir, f"its process stopped on a refused write: {line}"


def test_the_evidence_says_the_resume_came_after_the_refused_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: ``run COMPLETED: ...; resumed after a crash once, from step 0``, ``- **Resumed**
    after a crash once`` with "What that means: the process stopped without sealing the run
    (killed, or its machine went down)", and ``crash_resume | yes | 1 resume(s) after a
    crash``."""
    run_dir, stopped = _refused_then_resumed(tmp_path, monkeypatch, capsys)
    bundle = tmp_path / "bundle"
    assert main(["evidence", str(run_dir), "--out", str(bundle)]) == 0
    out = capsys.readouterr().out
    after = f"after {stopped}, not a crash"
    assert out.endswith(
        "run       COMPLETED: ran its steps; sealed COMPLETED after 120 of 120 steps; resumed "
        f"once, from step 0, {after}\n"
    )
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    (resume,) = manifest["outcome"]["resumes"]
    assert resume["stopped_by"] == stopped.removeprefix("its process stopped on a refused write: ")
    (document,) = bundle.glob("EV-*.md")
    text = document.read_text(encoding="utf-8")
    ended = text[text.index("## How the run ended") : text.index("## Verification")]
    assert "crash" not in ended.replace("not a crash", "")
    (resumed,) = [line for line in ended.splitlines() if line.startswith("- **Resumed**")]
    assert resumed.startswith("- **Resumed** once: from step 0 (torn bytes set aside ")
    assert resumed.endswith(f"), {after}.")
    assert f"| crash_resume | yes | 1 resume(s) {after} (C2_RESUME in the audit) |" in text


def test_burnin_and_the_report_say_the_refused_write_before_the_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: burnin's ``crash_resume`` row said ``1 resume(s) after a crash``, the report's
    header ``Why: the process stopped without sealing the run (a crash, or a kill)``."""
    from livesession.report import render_report

    run_dir, stopped = _refused_then_resumed(tmp_path, monkeypatch, capsys)
    main(["burnin", str(run_dir), *_LENIENT])
    capsys.readouterr()
    paths = json.loads((run_dir / "burnin.json").read_bytes())["failure_paths"]
    row = next(path for path in paths if path["path"] == "crash_resume")
    assert row["detail"] == f"1 resume(s) after {stopped}, not a crash (C2_RESUME in the audit)"
    page = render_report(run_dir)
    header = html.unescape(page[: page.index("</header>")])
    assert "a crash" not in header
    assert (
        f'<p class="sub">Why: {stopped}, and livesession resume went on from the last '
        "checkpoint, doing the steps after it again</p>"
    ) in header


@pytest.mark.broken_run("the second process is killed (SIGKILL) mid-run, then resumed")
def test_each_resume_is_said_after_its_own_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refused write, then a resume killed mid-run (a crash), then a resume to the end:
    the first resume is said after the refused write, the second after a crash."""
    run_dir = checkpoint_refused(tmp_path, monkeypatch)
    said = run_status(run_dir).store_refused.replace("'s last line,", "'s line 5,")
    killed = cli_child(tmp_path, "resume", str(run_dir), "-q", crash_at="write_events:50")
    assert killed.returncode == -9, killed.stderr
    assert main(["resume", str(run_dir), "-q"]) == 0
    capsys.readouterr()
    bundle = tmp_path / "bundle"
    assert main(["evidence", str(run_dir), "--out", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert out.endswith(
        "; resumed 2 times: from step 0 after its process stopped on a refused write: "
        f"{said}, not a crash, from step 0 after a crash\n"
    )
    (document,) = bundle.glob("EV-*.md")
    text = document.read_text(encoding="utf-8")
    assert "- What that means: the process stopped without sealing the run" in text
    main(["burnin", str(run_dir), *_LENIENT])
    capsys.readouterr()
    paths = json.loads((run_dir / "burnin.json").read_bytes())["failure_paths"]
    row = next(path for path in paths if path["path"] == "crash_resume")
    assert row["detail"] == (
        "2 resume(s): 1 after its process stopped on a refused write: "
        f"{said}, not a crash, 1 after a crash (C2_RESUME in the audit)"
    )
    from livesession.report import render_report

    page = html.unescape(render_report(run_dir))
    assert (
        f"Why: before resume 1, its process stopped on a refused write: {said}; before resume "
        "2, the process stopped without sealing the run (a crash, or a kill), and livesession "
        "resume went on"
    ) in page[: page.index("</header>")]


def test_a_resume_the_session_log_does_not_show_is_said_after_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A resume from Python logs nothing to ``session.log.jsonl``: which process its log's
    refusal ended is not known, and the resume is said after a crash, as nothing says
    otherwise (not after a refused write the log cannot place)."""
    run_dir = checkpoint_refused(tmp_path, monkeypatch)
    resume_run(run_dir, alerts=False).run_to_end(120)
    capsys.readouterr()
    assert main(["evidence", str(run_dir), "--out", str(tmp_path / "bundle")]) == 0
    assert capsys.readouterr().out.endswith("; resumed after a crash once, from step 0\n")
