"""``livesession list``'s table shows what is wrong with a run, as ``list --json`` does.

Bug: the table's row of a run that needs a person (a seal its files do not bear out, a
file that is not regular) or that a full disk stopped said only its verdict, while
``--json`` (``problem``, ``store_refused``) and ``status`` said why: an operator scanning
a fleet in a terminal saw ``needs_operator`` with no reason, and ``crashed`` with no word
of the disk. A ``PROBLEM`` column says it now; ``-`` for a run with none.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from livesession import DryrunConfig, create_run
from livesession._artifacts import names
from livesession.cli import main

from _helpers import checkpoint_refused


def _table(out: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, list[str]]:
    """``list``'s ``PROBLEM`` cells by the first word of their row (the run id)."""
    assert main(["list", str(out)]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    at = header.index("PROBLEM")
    assert header.split()[-1] == "PROBLEM"
    return {row.split()[0]: row[at:] for row in rows}


@pytest.mark.broken_run("a copy's last event is cut off on purpose: list must say so")
def test_list_rows_say_what_is_wrong_with_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    args = ["dryrun", "--out", str(out), "--steps", "120", "-q"]
    assert main([*args, "--run-id", "ok"]) == 0
    shutil.copytree(out / "ok", out / "torn")
    events = out / "torn" / names.EVENTS
    events.write_bytes(events.read_bytes().rsplit(b"\n", 2)[0] + b"\n")  # lose the last event

    checkpoint_refused(out, monkeypatch, run_id="full")
    capsys.readouterr()

    assert main(["list", str(out), "--json"]) == 0
    listed = {Path(r["run_dir"]).name: r for r in json.loads(capsys.readouterr().out)["runs"]}
    rows = _table(out, capsys)
    assert listed["torn"]["problem"].startswith("the seal is not borne out: ")
    assert main(["list", str(out)]) == 0
    table = {tuple(row.split()[:2]): row for row in capsys.readouterr().out.splitlines()}
    assert table["ok", "completed"].endswith("  -")
    assert table["ok", "(torn)"].split()[2] == "needs_operator"
    assert table["ok", "(torn)"].endswith(f"  {listed['torn']['problem']}")
    assert listed["full"]["store_refused"].startswith("cannot write checkpoint ")
    assert rows["full"] == f"stopped by {listed['full']['store_refused']}"
    assert "No space left on device" in rows["full"]
    assert main(["resume", str(out / "full"), "-q"]) == 0  # the full disk's run verifies
    assert _table(out, capsys)["full"] == "-"


def test_list_state_says_what_halted_a_run_s_trading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a run the kill switch halted read ``STOPPED`` in ``list``'s table, as one that
    traded to its end, though ``status`` and ``list --json`` (``halted_by``) said it."""
    out = tmp_path / "runs"
    _killed_run(out, "killed")
    args = ["dryrun", "--out", str(out), "--steps", "20", "-q"]
    assert main([*args, "--run-id", "plain"]) == 0
    capsys.readouterr()
    assert main(["list", str(out)]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    at, end = header.index("STATE"), header.index("STEPS")
    states = {row.split()[0]: row[at:end].rstrip() for row in rows}
    assert states == {"killed": "STOPPED, HALTED by the kill switch (operator)", "plain": "STOPPED"}


def _killed_run(out: Path, run_id: str) -> None:
    """A 20-step run an operator's kill halted after 5 steps, sealed."""
    with create_run(DryrunConfig(run_id=run_id, steps=20), out) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(5)
        assert session.kill("operator")
        session.run_to_end(20)
