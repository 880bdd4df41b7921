"""``list`` over a desk's out directory with one run half deleted.

Bug (found by a desk's CI script over one out directory of 29 runs): a run whose
``run.json`` and ``audit.jsonl`` were removed (a clean-up script, a half-finished ``rm``)
vanished from ``livesession list`` (text and ``--json``), exit 0, while its ``events.jsonl``,
``checkpoint.json`` and the rest were still there: a fleet check counting the runs ``list``
shows lost it without a word. Such a directory is now listed, ``not_a_run``, with what is
missing; a directory holding none of a run's files is still left out.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import pytest

from livesession._artifacts import names
from livesession.cli import main
from livesession.status import Verdict, list_runs

if TYPE_CHECKING:
    from pathlib import Path


def test_list_shows_a_run_whose_run_json_and_audit_log_are_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "kept", "--steps", "20", "-q"]) == 0
    half = out / "half"
    shutil.copytree(out / "kept", half)
    (half / names.RUN_META).unlink()
    (half / names.AUDIT).unlink()  # no longer a run, but plainly what is left of one
    (out / "notes").mkdir()  # a desk's own folder beside the runs: none of a run's files
    (out / "notes" / "readme.txt").write_text("not a run\n", encoding="utf-8")
    capsys.readouterr()

    assert [(s.run_dir, s.verdict) for s in list_runs(out)] == [
        (str(half), Verdict.NOT_A_RUN),
        (str(out / "kept"), Verdict.COMPLETED),
    ]
    assert main(["list", str(out), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [(r["run_dir"], r["verdict"], r["exit_code"]) for r in runs] == [
        (str(half), "not_a_run", 2),
        (str(out / "kept"), "completed", 0),
    ]
    assert runs[0]["problem"] == f"{half} is not a run: no run.json, and audit.jsonl missing"
    assert main(["list", str(out)]) == 0
    rows = [line.split()[:3] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [["?", "(half)", "not_a_run"], ["kept", "completed", "STOPPED"]]


@pytest.mark.parametrize("left", [*names.CONTRACT, names.CHECKPOINT])
def test_any_one_file_a_run_writes_after_run_json_is_enough_to_list_its_remains(
    tmp_path: Path, left: str
) -> None:
    """A clean-up that left one file of a run (its checkpoint, or one of the four files of
    the contract) still leaves what is left of a run: listed, not_a_run, never dropped."""
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "kept", "--steps", "20", "-q"]) == 0
    half = out / "half"
    half.mkdir()
    shutil.copyfile(out / "kept" / left, half / left)
    assert [(s.run_dir, s.verdict) for s in list_runs(out)] == [
        (str(half), Verdict.NOT_A_RUN),
        (str(out / "kept"), Verdict.COMPLETED),
    ]


@pytest.mark.broken_run("its file names upper-cased, as a copy through a case-folding file system")
def test_list_shows_a_run_whose_file_names_a_copy_upper_cased(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: left out of `list` (text and --json), exit 0, without a word, while `status`
    and `verify` of it said `... are there, in another case`."""
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "kept", "--steps", "20", "-q"]) == 0
    folded = out / "folded"
    shutil.copytree(out / "kept", folded)
    for path in list(folded.iterdir()):
        path.rename(path.with_name(path.name.upper()))
    if (folded / names.RUN_META).exists():
        pytest.skip("a file system that folds case finds the files by their own names")
    capsys.readouterr()

    assert main(["list", str(out), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [(r["run_dir"], r["verdict"]) for r in runs] == [
        (str(folded), "not_a_run"),
        (str(out / "kept"), "completed"),
    ]
    assert runs[0]["problem"].startswith(f"{folded} is not a run: no run.json, and ")
    assert "are there, in another case (a copy through a file system" in runs[0]["problem"]
    assert main(["list", str(out)]) == 0
    rows = [line.split()[:3] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [["?", "(folded)", "not_a_run"], ["kept", "completed", "STOPPED"]]
