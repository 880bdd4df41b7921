"""A run resumed after a crash and after a full disk: each resume is said with its own cause.

Bug: the evidence (its document and run line) and ``burnin`` read the audit records the
resumes set aside (``audit.jsonl.torn``) as one: when any said the process stopped itself
(a full disk's ``SINK_WRITE_FAILED``), every resume was said to follow a process that
"stopped itself unsealed, not a crash", the crash's too. Each resume's ``torn_bytes`` say
which of those records it set aside, so each is now said after its own stop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest

from livesession import DryrunConfig, create_run, resume_run
from livesession.cli import main
from livesession.evidence import write_evidence
from test_interrupts import _interrupt_after

from _helpers import FlakySink

if TYPE_CHECKING:
    from pathlib import Path

_BROKEN = pytest.mark.broken_run("a crash, then a full disk, each resumed; the run is sealed")


def _crash_then_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run killed at its 80th event (past the checkpoint at step 50), resumed; its events
    sink then refused by a full disk, the process stopping itself, and resumed again."""
    cfg = DryrunConfig(run_id="r", steps=300, durability="none", checkpoint_every=50)
    session = create_run(cfg, tmp_path, alerts=False)
    _interrupt_after(session, 80, KeyboardInterrupt, written_out=True)
    with pytest.raises(KeyboardInterrupt), session:
        session.run_to_end(300)
    run_dir = tmp_path / "r"
    resumed = resume_run(run_dir, alerts=False)
    events = resumed.recorder.sinks["events"]
    flaky = FlakySink(events, 150, OSError(28, "No space left on device"))
    monkeypatch.setitem(resumed.recorder._sinks, "events", flaky)  # the disk fills up
    resumed.run_to_end(300)
    resume_run(run_dir, alerts=False).run_to_end(300)
    return run_dir


def _payloads(run_dir: Path) -> list[dict[str, Any]]:
    audit = (run_dir / "audit.jsonl").read_bytes().splitlines()
    return [r["payload"] for r in map(orjson.loads, audit) if r["code"] == "C2_RESUME"]


@_BROKEN
def test_the_evidence_says_each_resume_after_its_own_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: `- **Resumed** 2 times: from step 50 (...); from step 150 (...)` with no
    cause, and the run line `resumed 2 times, from step 50 and step 150, after the process
    stopped itself unsealed (SINK_WRITE_FAILED), not a crash`, the crash's resume too."""
    run_dir = _crash_then_full_disk(tmp_path, monkeypatch)
    first, second = (p["from_step"] for p in _payloads(run_dir))

    result = write_evidence(run_dir)

    assert result.ok, result.problems
    text = result.document.read_text()
    ended = text[text.index("## How the run ended") : text.index("## Verification")]
    (resumed,) = [line for line in ended.splitlines() if line.startswith("- **Resumed**")]
    assert resumed.startswith(f"- **Resumed** 2 times: from step {first} (")
    assert f"), after a crash; from step {second} (" in resumed
    assert resumed.endswith(
        "), after the process stopped itself unsealed (SINK_WRITE_FAILED), not a crash."
    )
    assert "- What that means: the process stopped without sealing the run" in ended
    assert result.run_ended["said"].endswith(
        f"; resumed 2 times: from step {first} after a crash, from step {second} after the "
        "process stopped itself unsealed (SINK_WRITE_FAILED), not a crash"
    )
    manifest = orjson.loads(result.manifest.read_bytes())
    assert [stop["resume"] for stop in manifest["outcome"]["stopped_itself"]] == [2]


@_BROKEN
def test_burnin_and_the_report_count_each_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: `2 resume(s) after the process stopped itself unsealed (SINK_WRITE_FAILED),
    not a crash`, and the report's `Why: its process stopped itself`, of both."""
    from livesession.report import render_report

    run_dir = _crash_then_full_disk(tmp_path, monkeypatch)
    lenient = ("--min-signals", "0", "--min-decisions", "0", "--min-oco", "0")
    main(["burnin", str(run_dir), *lenient])
    capsys.readouterr()

    paths = orjson.loads((run_dir / "burnin.json").read_bytes())["failure_paths"]
    row = next(path for path in paths if path["path"] == "crash_resume")
    assert row["detail"] == (
        "2 resume(s): 1 after a crash, 1 after the process stopped itself unsealed "
        "(SINK_WRITE_FAILED), not a crash (C2_RESUME in the audit)"
    )
    page = render_report(run_dir)
    assert (
        '<p class="sub">Why: the process stopped without sealing the run (a crash, or a kill) '
        "before 1 resume(s), and stopped itself, unsealed (a write the system refused: see "
        "audit.jsonl.torn) before 1, and livesession resume went on from the last checkpoint, "
        "doing the steps after it again</p>"
    ) in page[: page.index("</header>")]
