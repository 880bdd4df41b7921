"""The tools that read a run, pointed at one a ``dryrun`` is creating at that moment.

Bug: from making ``OUT/<run_id>/`` to its first records a live ``dryrun`` holds a directory
with ``writer.lock`` alone, then with ``config.json`` and ``run.json`` but no events (while
it opens its broker and stores). ``verify``, ``report``, ``prom``, ``evidence`` and
``burnin`` called the second "a run killed while it started ...: start it over with
`livesession resume DIR`" (exit 2) while its process ran, and the first "a dryrun starting,
or killed while it did"; ``resume`` of the first was "not a run" (exit 2), not the second
writer it is. Each now names the process (exit 3 where a live run is refused: ``resume``,
``evidence``, ``burnin``; exit 2 for the readers), and changes nothing.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

from livesession._artifacts import names
from livesession._rundir.lock import RunLock
from livesession._rundir.starting import RECORDING
from livesession.cli import main
from livesession.status import Verdict, run_status

from _helpers import dryrun_checking, dryrun_held

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

_READERS = {"verify": 2, "report": 2, "prom": 2, "evidence": 3, "burnin": 3}


def _tree(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir())}


def test_a_run_whose_writer_has_not_recorded_yet_is_said_to_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / names.CONFIG).write_text("{}\n", encoding="utf-8")
    (run_dir / names.RUN_META).write_text("{}\n", encoding="utf-8")
    with RunLock.acquire(run_dir, "livesession dryrun") as lock:
        before = _tree(run_dir)
        for command, code in _READERS.items():
            out = ["--out", str(tmp_path / command)] if command in ("evidence", "burnin") else []
            assert main([command, str(run_dir), *out]) == code, command
            err = capsys.readouterr().err
            assert f" {run_dir} is being written by {lock.holder.describe()}: it is " in err
            assert "killed" not in err
            assert "resume" not in err
            assert _tree(run_dir) == before
            assert not (tmp_path / command).exists()


def test_a_dryrun_checking_its_data_file_is_said_to_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with dryrun_checking(tmp_path) as (child, run_dir):
        held = f" {run_dir} is being written by pid {child.pid} on "
        for command, code in {**_READERS, "resume": 3}.items():
            out = ["--out", str(tmp_path / command)] if command in ("evidence", "burnin") else []
            assert main([command, str(run_dir), *out]) == code, command
            err = capsys.readouterr().err
            assert held in err
            assert "it is starting and has recorded nothing yet" in err
            assert "or killed while it did" not in err
            assert [p.name for p in run_dir.iterdir()] == [names.WRITER_LOCK]


def test_status_and_list_say_starting_of_a_run_whose_writer_has_not_recorded_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: `state  none: a run killed while it started` (`list`: `killed while starting`)
    beside `verdict  running` and the writer's pid, with resume's start over offered."""
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / names.CONFIG).write_text("{}\n", encoding="utf-8")
    (run_dir / names.RUN_META).write_text("{}\n", encoding="utf-8")
    with RunLock.acquire(run_dir, "livesession dryrun"):
        found = run_status(run_dir)
        assert found.verdict is Verdict.RUNNING
        assert (found.killed_while_starting, found.starting) == ("", RECORDING)
        assert main(["status", str(run_dir)]) == 7
        out = capsys.readouterr().out
        assert f"state       none: {RECORDING}\n" in out
        assert "killed" not in out
        assert "position    no checkpoint yet\n" in out  # it was `flat; no POSITION_CHANGED yet`
        assert "flat" not in out
        assert main(["list", str(run_dir.parent)]) == 0
        assert capsys.readouterr().out.splitlines()[1].split()[2:4] == ["running", "starting"]


_ACTIVATING_BROKER = '''\
import sys

from livesession.testing import FaultBroker


class Activating(FaultBroker):
    """A venue whose first read of the open orders (as the session activates, its first
    records not written out yet) lasts until the test lets it go (a slow venue's)."""

    simulated = True
    held = True

    def open_orders(self):
        if self.held:
            self.held = False
            print("activating", flush=True)
            sys.stdin.readline()
        return super().open_orders()


def make():
    return Activating()
'''


def test_stop_signals_a_dryrun_whose_first_records_are_not_written_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: ``livesession stop`` of a dryrun that had written ``run.json`` and was still
    preflighting and activating on a slow venue (its first records not written out:
    ``status`` said ``running``, ``starting: run.json written, nothing recorded yet``)
    refused with ``... is a run killed while it started ...: start it over with `livesession
    resume DIR``` (exit 2) and sent nothing, and the run went on trading. It signals the
    process now, which stops before its first step."""
    with dryrun_held(tmp_path, "broker", _ACTIVATING_BROKER, "activating") as (child, run_dir):
        assert child.stdin is not None
        assert run_status(run_dir).starting == RECORDING
        sent = os.kill

        def kill(pid: int, signum: int) -> None:
            sent(pid, signum)
            if pid == child.pid and signum == signal.SIGTERM:
                child.stdin.write("go\n")  # the venue answers once the stop was sent
                child.stdin.flush()

        monkeypatch.setattr(os, "kill", kill)
        code = main(["stop", str(run_dir), "--timeout", "60"])
        out, err = capsys.readouterr()
        assert (code, err) == (0, "")
        assert out == (
            f"stopped: pid {child.pid} wound down and sealed COMPLETED (SIGNAL_SIGTERM) "
            f"after 0 steps: {run_dir}\n"
        )
        assert child.wait(timeout=60) == 0


def test_status_says_a_run_still_activating_is_activating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: ``status`` of a dryrun activating on a slow venue (``run.json`` written, its
    first records not written out) said ``it opens its broker and stores before its first
    records``, long after it had opened them: it preflights and activates there too."""
    with dryrun_held(tmp_path, "broker", _ACTIVATING_BROKER, "activating") as (child, run_dir):
        assert main(["status", str(run_dir)]) == 7
        out = capsys.readouterr().out
        assert f"state       none: {RECORDING}\n" in out
        assert "it opens its broker and stores, preflights and activates before its first " in out
        assert child.stdin is not None
        child.stdin.write("go\n")  # then it runs its 20 steps and seals
        child.stdin.flush()
        assert child.wait(timeout=60) == 0
