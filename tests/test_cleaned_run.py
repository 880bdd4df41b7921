"""A run whose records a clean-up removed is not a run killed while it started.

Bug: a sealed run whose ``events.jsonl``, ``audit.jsonl`` and ``checkpoint.json`` were
removed (an ``rm -r`` of old runs cut short, or read by ``list`` half way through it; a
clean-up of the large files), leaving ``run.json``, ``config.json``, ``metrics.json`` or
``timings.json``, was judged "a run killed while it started": ``status`` said ``crashed``
(exit 6, which the runbook's supervisor answers with ``resume``), ``list`` ``killed while
starting``, and ``resume`` started it over, writing a new run over what was left of the one
that ran. Only a run past its start writes those files: such a run lost its records, is
``needs_operator`` (exit 5) naming them, and ``resume`` refuses it, changing nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
import pytest

from livesession._artifacts import names
from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path

_LOST = "events.jsonl and audit.jsonl are missing from a run livesession made"


def _tree(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir())}


@pytest.mark.broken_run("its records are removed on purpose, as a clean-up cut short does")
@pytest.mark.parametrize(
    "kept",
    [
        (names.RUN_META, names.CONFIG, names.METRICS, names.TIMINGS, names.WRITER_LOCK),
        (names.RUN_META, names.CONFIG, names.TIMINGS, names.WRITER_LOCK),  # rm -r's own order
        (names.RUN_META, names.CONFIG, names.SNAPSHOTS),
    ],
    ids=["metrics", "timings", "snapshots"],
)
def test_a_run_whose_records_were_removed_is_not_started_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kept: tuple[str, ...]
) -> None:
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "old", "--steps", "20", "-q"]) == 0
    run_dir = out / "old"
    for path in run_dir.iterdir():
        if path.name not in kept:
            path.unlink()
    before = _tree(run_dir)
    capsys.readouterr()

    assert main(["status", str(run_dir), "--json"]) == 5
    said = orjson.loads(capsys.readouterr().out)
    assert said["verdict"] == "needs_operator"
    assert said["killed_while_starting"] == ""
    assert said["resume_problem"].startswith(_LOST)

    assert main(["list", str(out)]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.split()[:2] == ["old", "needs_operator"]
    assert "killed while starting" not in row
    assert f"cannot be resumed: {_LOST}" in row

    assert main(["resume", str(run_dir), "-q"]) == 2
    err = capsys.readouterr().err
    assert _LOST in err
    assert len(err.splitlines()) == 1
    assert _tree(run_dir) == before


def test_a_run_killed_while_it_started_is_still_started_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a SIGKILL leaves between ``run.json`` and the first records: resumable as ever."""
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "k", "--steps", "20", "-q"]) == 0
    run_dir = out / "k"
    for path in run_dir.iterdir():
        if path.name in (names.EVENTS, names.AUDIT, names.SNAPSHOTS):
            path.write_bytes(b"")
        elif path.name not in (names.RUN_META, names.CONFIG, names.WRITER_LOCK):
            path.unlink()
    capsys.readouterr()
    assert main(["status", str(run_dir), "--json"]) == 6
    assert orjson.loads(capsys.readouterr().out)["killed_while_starting"].startswith(
        "a run killed while it started"
    )
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert main(["status", str(run_dir)]) == 0
