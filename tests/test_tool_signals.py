"""Ctrl-C and SIGTERM of the commands that re-run a run (``evidence``, ``burnin --drill``).

Each signal is sent by the process to itself from a hook the code calls at the chosen
moment (inside a temporary directory's clean-up, right after ``mkdtemp``), so nothing
races the clock.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from livesession.burnin import _drill
from livesession.cli import main
from livesession.evidence import _rerun

from _helpers import held_by_a_process


@pytest.fixture(name="run_dir", scope="module")
def _run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    args = ["dryrun", "--out", str(out), "--run-id", "sig", "--steps", "120", "-q"]
    assert main([*args, "--durability", "none"]) == 0
    return out / "sig"


@pytest.fixture(name="scratch")
def _scratch(tmp_path, monkeypatch):
    """The system's temporary directory, for this test alone: what is left there shows."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def _drilled(run_dir: Path) -> None:
    _drill.kill_drill(run_dir)


def _rerun_started(run_dir: Path) -> None:
    _rerun.Rerun.start(run_dir, rerunnable=True, timeout_s=120).close()


def _scratch_user(module: object):
    return _drilled if module is _drill else _rerun_started


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_a_ctrl_c_inside_the_kill_drills_clean_up_leaves_no_half_removed_run(
    run_dir, scratch, monkeypatch
):
    """It waits for the clean-up: the drill's run went whole, not its events alone."""
    real = shutil.rmtree
    calls: list[object] = []

    def rmtree(path, *args, **kwargs):
        if Path(path).parent == scratch and not calls:
            calls.append(path)
            (Path(path) / "sig" / "events.jsonl").unlink()  # the first file went, then Ctrl-C
            _ctrl_c()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    with pytest.raises(KeyboardInterrupt):
        _drill.kill_drill(run_dir)
    assert calls
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("module", [_drill, _rerun])
def test_a_ctrl_c_right_after_the_scratch_directory_is_made_removes_it(
    run_dir, scratch, monkeypatch, module
):
    """The kill drill's and the determinism re-run's directory: none is left to no one."""
    real = tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        made = real(*args, **kwargs)
        _ctrl_c()
        return made

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    with pytest.raises(KeyboardInterrupt):
        _scratch_user(module)(run_dir)
    assert list(scratch.iterdir()) == []


def _ended_pid() -> int:
    """The pid of a process that ran and was reaped: no process holds it now."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


@pytest.mark.parametrize("module", [_drill, _rerun])
def test_a_scratch_directory_a_process_killed_with_its_children_left_goes_with_the_next(
    run_dir, scratch, module
):
    """``timeout -s KILL evidence ...`` kills the whole process group, the re-run too: the
    re-run's and the kill drill's copies of the run stayed in the temporary directory for
    good, another pair at every such kill. The next one of its kind removes them; a live
    process's (it holds it: ``held_by_a_process``), and a name that carries no pid, stay."""
    prefix = "livesession-drill-" if module is _drill else "livesession-replay-"
    ended = scratch / f"{prefix}{_ended_pid()}-k1lled_x"
    (ended / "replay" / "sig").mkdir(parents=True)
    (ended / "replay" / "sig" / "events.jsonl").write_bytes(b"{}\n")
    live = scratch / f"{prefix}{os.getppid()}-l1ve_xyz"
    live.mkdir()
    unnamed = scratch / f"{prefix}n0_p1d_x"
    unnamed.mkdir()
    with held_by_a_process(live):
        _scratch_user(module)(run_dir)
    assert sorted(p.name for p in scratch.iterdir()) == sorted([live.name, unnamed.name])


def test_a_re_run_whose_evidence_process_ended_stops_and_removes_its_scratch(run_dir, scratch):
    """``evidence`` killed (SIGKILL): its re-run ran on alone and left a copy of the run.

    The parent's end of the pipe the child watches is closed here as the kernel closes it
    when the parent dies; the child ends (interrupted, or at its end) and removes it all.
    """
    rerun = _rerun.Rerun.start(run_dir, rerunnable=True, timeout_s=120)
    try:
        assert rerun.process is not None
        assert rerun.parent_end is not None
        os.close(rerun.parent_end)
        rerun.parent_end = None
        rerun.process.wait(timeout=120)  # a bound, not a pause: it ends as soon as it sees
        assert list(scratch.iterdir()) == []
    finally:
        rerun.close()


def test_a_re_run_keeps_only_its_verdict_once_it_is_given(run_dir, scratch):
    """The run's copy goes with the child's end: a parent killed later leaves no copy."""
    rerun = _rerun.Rerun.start(run_dir, rerunnable=True, timeout_s=120)
    try:
        assert rerun.verdict()["status"] == "match"
        assert rerun.scratch is not None
        assert sorted(p.name for p in rerun.scratch.iterdir()) == ["result.json", "stderr.txt"]
    finally:
        rerun.close()
    assert list(scratch.iterdir()) == []
