"""A ``dryrun`` still starting: it holds ``OUT/<run_id>/writer.lock`` alone while it checks
its data file (minutes for a file of millions of rows), before it writes the run.

Bugs: ``livesession stop`` refused such a directory (exit 2, "not a run") though a process
held it, so an operator could not end it but by ``kill -TERM`` by hand; ``kill`` and ``ack``
said the same; and ``livesession list`` left it out, as it left out one killed there.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from typing import TYPE_CHECKING

import orjson

from livesession._artifacts import names
from livesession.cli import main

from _helpers import dryrun_checking

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pytest


@contextlib.contextmanager
def _starting(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    with dryrun_checking(tmp_path) as (child, run_dir):
        assert [p.name for p in run_dir.iterdir()] == [names.WRITER_LOCK]
        yield child, run_dir


def _listed(capsys: pytest.CaptureFixture[str], out: Path) -> tuple[str, dict[str, object]]:
    assert main(["list", str(out)]) == 0
    table = capsys.readouterr().out
    assert main(["list", str(out), "--json"]) == 0
    runs = orjson.loads(capsys.readouterr().out)["runs"]
    assert len(runs) == 1
    return table, runs[0]


def test_stop_ends_a_dryrun_that_is_still_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _starting(tmp_path) as (child, run_dir):
        table, listed = _listed(capsys, run_dir.parent)
        assert table.splitlines()[1].split()[2:4] == ["running", "starting"]
        assert listed["verdict"] == "running"
        assert str(listed["starting"]).startswith("starting: no run.json yet")
        for action in ("kill", "ack"):
            assert main([action, str(run_dir), "--timeout", "30"]) == 3, action
            err = capsys.readouterr().err
            assert err == (
                f"livesession: {action}: {run_dir} is starting: no run.json yet (it checks its "
                "data file and builds its plug-ins before it writes the run): nothing trades "
                f"yet, so there is nothing to {action}; `livesession stop {run_dir}` ends it "
                "(it has recorded and sent nothing)\n"
            )
        assert child.poll() is None  # neither signalled it
        assert main(["stop", str(run_dir), "--timeout", "60"]) == 0
        assert capsys.readouterr().out == (
            f"stopped: pid {child.pid} ended while it started (before it wrote the run): it "
            f"recorded nothing and sent nothing, and removed {run_dir}\n"
        )
        assert child.wait(timeout=30) == 128 + signal.SIGTERM
        assert child.stderr is not None
        assert "stopped by SIGTERM before the run started: nothing was written" in (
            child.stderr.read()
        )
    assert not run_dir.exists()


def test_list_shows_a_dryrun_killed_while_it_started(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _starting(tmp_path) as (child, run_dir):
        child.kill()
        child.wait(timeout=30)
    assert [p.name for p in run_dir.iterdir()] == [names.WRITER_LOCK]  # left behind
    table, listed = _listed(capsys, run_dir.parent)
    assert table.splitlines()[1].split()[2:6] == ["not_a_run", "killed", "while", "starting"]
    assert str(listed["killed_while_starting"]).startswith(
        "a run killed while it started, before it wrote anything"
    )
    assert main(["stop", str(run_dir)]) == 2  # nothing holds it: status says what it is
    assert "`livesession status" in capsys.readouterr().err
