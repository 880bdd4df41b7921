"""A run named by its run id alone, beside the ``out/runs/ID`` that ``dryrun`` printed.

Bug (a new user's first day, by the docs): after ``livesession dryrun --config desk.toml``
printed ``artifacts out/runs/aapl-0302``, ``livesession verify aapl-0302`` (and ``report``,
``evidence``, ``status``, ``resume``) said only ``run directory aapl-0302 does not exist``,
and the user looked for a typo in the id. The line now says that a run is named by its
directory and which one is there. Still one line, exit 2, nothing read or written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path

_HINT = " (a run is named by its directory, not its run id: out/runs/r1 is there)"


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A desk's directory holding one finished run, made as the docs make it."""
    monkeypatch.chdir(tmp_path)
    assert main(["dryrun", "--run-id", "r1", "--steps", "5", "-q"]) == 0
    return tmp_path


@pytest.mark.parametrize("verb", ["verify", "report", "evidence", "resume", "prom", "stop"])
def test_a_run_id_alone_is_told_the_run_directory_there(
    desk: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    capsys.readouterr()
    assert main([verb, "r1"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"livesession: error: run directory r1 does not exist{_HINT}\n"
    assert not (desk / "r1").exists()


def test_status_says_it_too(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["status", "r1"]) == 2
    assert capsys.readouterr().err == f"livesession: error: r1 does not exist{_HINT}\n"


@pytest.mark.parametrize("given", ["r2", "sub/r1", "runs/r1"])
def test_a_name_with_no_run_of_that_id_there_is_said_as_before(
    desk: Path, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    """Only a bare name whose ``out/runs/NAME`` is there gets the hint."""
    capsys.readouterr()
    assert main(["verify", given]) == 2
    assert capsys.readouterr().err == f"livesession: error: run directory {given} does not exist\n"
