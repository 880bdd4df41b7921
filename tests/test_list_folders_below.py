"""``livesession list`` of the folder above the runs names the folders that hold them.

Bug: ``livesession list out`` (the folder above dryrun's ``out/runs``, or a desk's folder
holding ``runs/`` and ``archive/``) printed only ``(no runs in out)``, exit 0: a person read
that the runs were gone. The line now names each folder below that holds runs, with the
command that lists it; the exit and ``--json`` are as before (no run is in that folder).
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import orjson

from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_an_empty_list_names_the_folders_below_that_hold_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = tmp_path / "desk out"
    runs = desk / "runs"
    assert main(["dryrun", "--out", str(runs), "--run-id", "r1", "--steps", "20", "-q"]) == 0
    shutil.copytree(runs / "r1", desk / "archive" / "r1")
    (desk / "notes").mkdir()  # a folder of no runs is not named
    capsys.readouterr()

    assert main(["list", str(desk)]) == 0
    *_, line = capsys.readouterr().out.splitlines()
    assert line == (
        f"(no runs in {desk}; folders below it hold runs: "
        f"`livesession list '{desk / 'archive'}'`, `livesession list '{desk / 'runs'}'`)"
    )

    assert main(["list", str(desk), "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["runs"] == []


def test_an_empty_folder_with_no_runs_below_says_no_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    assert main(["list", str(tmp_path / "empty")]) == 0
    *_, line = capsys.readouterr().out.splitlines()
    assert line == f"(no runs in {tmp_path / 'empty'})"


def test_an_empty_list_names_the_archives_of_runs_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a desk that archived its runs as operations.md says (``tar -czf r1.tar.gz r1``,
    beside it) and removed them read ``(no runs in out/runs)``, as if they were gone."""
    runs = tmp_path / "runs"
    assert main(["dryrun", "--out", str(runs), "--run-id", "r1", "--steps", "20", "-q"]) == 0
    shutil.make_archive(str(runs / "r1"), "gztar", runs, "r1")
    shutil.rmtree(runs / "r1")
    (runs / "notes.txt").write_text("not an archive\n")
    capsys.readouterr()

    assert main(["list", str(runs)]) == 0
    *_, line = capsys.readouterr().out.splitlines()
    assert line == (
        f"(no runs in {runs}; r1.tar.gz is there: an archive of a run? "
        f"`tar -xf {runs / 'r1.tar.gz'} -C {runs}` gives it back)"
    )

    for name in ("r2.tgz", "r3.tar.xz", "r4.tar"):
        (runs / name).write_bytes(b"")
    assert main(["list", str(runs)]) == 0
    *_, line = capsys.readouterr().out.splitlines()
    assert line == (
        f"(no runs in {runs}; 4 archives are there (r1.tar.gz, r2.tgz, r3.tar.xz and 1 more): "
        f"archives of runs? `tar -xf {runs / 'r1.tar.gz'} -C {runs}` gives the first back)"
    )
    assert main(["list", str(runs), "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["runs"] == []
