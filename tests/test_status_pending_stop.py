"""``status`` of a run whose writer took a stop inside a long step says the stop is pending.

An operator's ``livesession stop DIR --timeout 1`` against a writer inside a long step
(a strategy whose ``on_bar`` waits) exits 9, "no effect seen ... check again with
`livesession status DIR`"; ``status`` then said only ``running`` and ``poll again later``,
nothing of the stop the writer had taken. It reads the writer's mark of the stop
(``_rundir.onestop``) from ``/proc/locks`` now, taking no lock and sending no signal, and
says the stop is pending, acted on at the next step boundary (text and ``--json``).

The writer is a real ``livesession dryrun`` process whose step waits while a file exists,
as in test_two_stops. Waits poll with a deadline that only bounds a hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession._artifacts import names
from livesession._rundir import onestop
from livesession._support.dirlock import flock_holder
from livesession.cli import EXIT_NO_EFFECT, EXIT_OK, EXIT_RUNNING, main
from livesession.verify import verify_run
from test_two_stops import _holder as _writer  # a dryrun whose step waits on a file
from test_two_stops import _said

from _helpers import until

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the mark is read in /proc/locks")

_DEADLINE_S = 300.0  # bounds a hang only
_PENDING = "it took a stop signal, and acts on it at its next step boundary"


def _status(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[list[str], dict[str, Any]]:
    """``status`` (its text lines) and ``status --json``, each exit 7: the run goes on."""
    capsys.readouterr()
    assert main(["status", str(run_dir)]) == EXIT_RUNNING
    text = capsys.readouterr().out.splitlines()
    assert main(["status", str(run_dir), "--json"]) == EXIT_RUNNING
    return text, orjson.loads(capsys.readouterr().out)


def _assert_sealed_by_the_stop(proc: subprocess.Popen[str], run_dir: Path) -> None:
    assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK, proc.communicate()[1]
    last = orjson.loads((run_dir / names.AUDIT).read_bytes().splitlines()[-1])
    assert (last["code"], last["payload"]["reason"]) == ("C2_DRYRUN_STOP", "SIGNAL_SIGTERM")
    result = verify_run(run_dir)
    assert result.ok, result.render(run_dir)


def test_status_says_a_stop_taken_inside_a_long_step_is_pending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`stop --timeout 1` gave up inside the step (exit 9) and told the operator to check
    `status`, which said `running`, `poll again later`. It says the stop is pending now,
    and the writer, neither locked out nor signalled by it, acts on it and seals the run."""
    with _writer(tmp_path) as (proc, run_dir):
        text, found = _status(run_dir, capsys)
        assert found["stop_pending"] == ""  # none taken: none said
        assert not [line for line in text if line.startswith("stop ")], text
        (tmp_path / "hold_step").touch()
        _said(proc, "in a step")
        assert main(["stop", str(run_dir), "--timeout", "1"]) == EXIT_NO_EFFECT
        fd = os.open(run_dir / names.WRITER_LOCK, os.O_RDONLY)
        try:  # the command let its turn go: the writer's mark of the stop is taken
            until("the writer to mark the stop", lambda: flock_holder(fd) == proc.pid, proc)
        finally:
            os.close(fd)
        text, found = _status(run_dir, capsys)
        assert found["verdict"] == "running"
        assert found["state"] == "DRYRUN_ACTIVE"
        assert found["stop_pending"] == _PENDING
        assert f"stop        pending: {_PENDING}" in text, text
        said = (
            "nothing: it stops at its next step boundary and seals the run; poll again later "
            f"(`kill -TERM {proc.pid}` ends it at once, resumable from its last checkpoint)"
        )
        assert found["next"] == said
        assert f"next        {said}" in text, text
        assert proc.poll() is None
        (tmp_path / "hold_step").unlink()  # the step ends: the writer acts on its stop
        _assert_sealed_by_the_stop(proc, run_dir)


def test_status_of_a_stop_acted_on_says_no_stop_pending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once the writer acted on its stop (STOPPING, winding down) its mark stays till it
    ends; status says the state, not a stop still to come."""
    with _writer(tmp_path) as (proc, run_dir):
        (tmp_path / "hold_wind").touch()
        proc.send_signal(signal.SIGTERM)
        _said(proc, "winding down")
        text, found = _status(run_dir, capsys)
        assert (found["state"], found["stop_pending"]) == ("STOPPING", "")
        assert not [line for line in text if line.startswith("stop ")], text
        (tmp_path / "hold_wind").unlink()
        _assert_sealed_by_the_stop(proc, run_dir)


def test_status_says_a_stop_command_signals_the_writer_while_it_holds_its_turn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `livesession stop` holds its turn (``onestop.stop_turn``) while it signals and waits:
    status says so, and takes no part of the turn itself (the command keeps it)."""
    with _writer(tmp_path) as (proc, run_dir):
        (tmp_path / "hold_step").touch()
        _said(proc, "in a step")
        with onestop.stop_turn(run_dir) as by:  # as a `stop` command does, in this process
            assert by is None
            _text, found = _status(run_dir, capsys)
            assert found["stop_pending"] == (
                f"a `livesession stop` of this run (pid {os.getpid()}) signals it to stop, and "
                "waits for it; it acts on the signal at its next step boundary"
            )
            fd = os.open(run_dir / names.WRITER_LOCK, os.O_RDONLY)
            try:
                assert flock_holder(fd) == os.getpid(), "the turn is still the command's"
            finally:
                os.close(fd)
        _text, found = _status(run_dir, capsys)
        assert found["stop_pending"] == ""  # no signal was sent: none pending
        proc.send_signal(signal.SIGTERM)
        (tmp_path / "hold_step").unlink()
        _assert_sealed_by_the_stop(proc, run_dir)


def _listed(out_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, Any]]:
    """``list``'s row of the one run in ``out_dir``, and its ``--json`` entry (exit 0)."""
    capsys.readouterr()
    assert main(["list", str(out_dir)]) == EXIT_OK
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[5] == "WRITER", header
    assert main(["list", str(out_dir), "--json"]) == EXIT_OK
    (found,) = orjson.loads(capsys.readouterr().out)["runs"]
    return row, found


def test_list_says_a_stop_taken_inside_a_long_step_is_pending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: ``status`` said `stop  pending: ...` of a writer that took a stop inside a long
    step, but ``list`` showed the row of any running run (`pid N`), and a desk watching its
    runs with ``list`` saw no stop under way. Its WRITER cell says it now, from what
    ``status`` reads (``--json``: the same ``stop_pending``), and the writer, neither locked
    out nor signalled by it, acts on the stop and seals the run."""
    with _writer(tmp_path) as (proc, run_dir):
        row, found = _listed(tmp_path, capsys)
        assert found["stop_pending"] == ""
        assert f" pid {proc.pid}  " in row, row
        (tmp_path / "hold_step").touch()
        _said(proc, "in a step")
        assert main(["stop", str(run_dir), "--timeout", "1"]) == EXIT_NO_EFFECT
        fd = os.open(run_dir / names.WRITER_LOCK, os.O_RDONLY)
        try:
            until("the writer to mark the stop", lambda: flock_holder(fd) == proc.pid, proc)
        finally:
            os.close(fd)
        row, found = _listed(tmp_path, capsys)
        assert (found["verdict"], found["stop_pending"]) == ("running", _PENDING)
        assert f" pid {proc.pid}, stop pending  " in row, row
        assert proc.poll() is None
        (tmp_path / "hold_step").unlink()
        _assert_sealed_by_the_stop(proc, run_dir)
