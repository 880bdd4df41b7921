"""A run whose sink the full disk refused, not resumed yet: every tool says the refused write.

Bug: ``status`` (its ``next``) and the report's header named the sink the disk refused
(``the events sink failed at line 150 of DIR/events.jsonl (OSError: [Errno 28] No space
left on device)``), but the evidence said ``NOT SEALED: it crashed or was cut short``, its
determinism line ``the run is not sealed (it crashed)`` and ``livesession burnin``'s
``completed`` ``(it crashed: ...)``: they read the store's refusal alone. They read one
source now (``_rundir/refused.unsealed_by``) and say it in one set of words.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

import pytest

from livesession import DryrunConfig, create_run
from livesession.cli import main
from livesession.status import Verdict, run_status

from _helpers import FlakySink

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.broken_run("its events sink refused by a full disk: the run is left unsealed")
def test_every_tool_says_the_sink_the_full_disk_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the evidence's run line ``NOT SEALED: it crashed or was cut short: resume it``
    and burnin's ``completed`` ``the run is not sealed (it crashed: ...)``."""
    from livesession.report import render_report

    cfg = DryrunConfig(run_id="r", steps=300, durability="none", checkpoint_every=50)
    session = create_run(cfg, tmp_path, alerts=False)
    events = session.recorder.sinks["events"]
    flaky = FlakySink(events, 150, OSError(28, "No space left on device"))
    monkeypatch.setitem(session.recorder._sinks, "events", flaky)  # the disk fills up
    session.run_to_end(300)
    run_dir = tmp_path / "r"
    assert run_status(run_dir).verdict is Verdict.CRASHED
    sink = (
        f"the events sink failed at line 150 of {run_dir / 'events.jsonl'} (OSError: [Errno 28] "
        "No space left on device)"
    )
    stopped = f"its process stopped on a refused write: {sink}"
    bundle = tmp_path / "bundle"
    assert main(["evidence", str(run_dir), "--out", str(bundle)]) == 1
    assert capsys.readouterr().out.endswith(
        f"run       NOT SEALED: {stopped}: resume it once that is put right, then write its "
        "evidence again\n"
    )
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    assert manifest["outcome"]["stopped_by"] == sink
    assert manifest["determinism"]["reason"] == (
        f"the run is not sealed ({stopped}), so there is no whole run to compare with"
    )
    (document,) = bundle.glob("EV-*.md")
    assert "crash" not in document.read_text(encoding="utf-8").split("## Verification")[0]
    assert main(["burnin", str(run_dir), "--out", str(tmp_path / "burnin")]) == 1
    out = capsys.readouterr().out
    assert f"completed: the run is not sealed ({stopped}: `livesession resume` finishes it " in out
    page = html.unescape(render_report(run_dir))
    assert f"it stopped without sealing after the last step recorded: {stopped}." in page


@pytest.mark.broken_run("its events sink refused by a full disk: the run is left unsealed")
def test_the_bundle_names_the_refused_file_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bundle is read elsewhere than where ``evidence`` ran: the file the disk refused is
    named by its absolute path, as the checkpoint's refusal is (``cannot write checkpoint
    /srv/...``), not as the run's path was typed (``r/events.jsonl``)."""
    cfg = DryrunConfig(run_id="r", steps=300, durability="none", checkpoint_every=50)
    session = create_run(cfg, tmp_path, alerts=False)
    events = session.recorder.sinks["events"]
    flaky = FlakySink(events, 150, OSError(28, "No space left on device"))
    monkeypatch.setitem(session.recorder._sinks, "events", flaky)
    session.run_to_end(300)
    monkeypatch.chdir(tmp_path)
    assert main(["evidence", "r", "--out", "bundle"]) == 1
    capsys.readouterr()
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_bytes())
    assert manifest["outcome"]["stopped_by"] == (
        f"the events sink failed at line 150 of {tmp_path / 'r' / 'events.jsonl'} (OSError: "
        "[Errno 28] No space left on device)"
    )
