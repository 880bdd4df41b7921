"""RUNBOOK's check_livesession, run as written: status's verdicts as a Nagios plugin's codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from _pages import installed_script
from livesession import DryrunConfig, create_run

from _helpers import crash_in_step, held_by_a_child, status_json_refused
from _runfactory import build_run

_ROOT = Path(__file__).resolve().parent.parent
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


@pytest.fixture(name="check")
def _check(tmp_path: Path):
    """Run RUNBOOK's check on a run directory: ``(exit code, its one line)``."""
    script = installed_script("NAGIOS", tmp_path / "bin", "check_livesession")
    env = {**os.environ, "PATH": f"{script.parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def run(run_dir: Path, *args: str) -> tuple[int, str]:
        done = subprocess.run(
            [str(script), str(run_dir), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        lines = done.stdout.splitlines()
        assert len(lines) == 1, done.stdout + done.stderr
        return done.returncode, lines[0]

    return run


def test_a_completed_run_is_ok_and_a_path_that_is_no_run_unknown(tmp_path, check):
    session = create_run(DryrunConfig(run_id="done", steps=20), tmp_path)
    with session:
        session.run_to_end(20)

    code, line = check(tmp_path / "done")
    assert code == OK, line
    assert line.startswith("LIVESESSION OK - done: completed; next: verify before handing")
    assert line.endswith(" | steps=20 heartbeat_age=" + line.rsplit("=", 1)[1])
    code, line = check(tmp_path / "nope")
    assert (code, line.split(" (")[0]) == (
        UNKNOWN,
        f"LIVESESSION UNKNOWN - {tmp_path}/nope: not_a_run",
    )
    assert "heartbeat_age=U;300" in line


@pytest.mark.broken_run("a run sealed FAILED by the factory, and a crash")
def test_a_crash_warns_and_a_failed_run_is_critical(tmp_path, check):
    build_run(tmp_path / "fault", scenario="fault")
    code, line = check(tmp_path / "fault")
    assert code == CRITICAL, line
    assert "LIVESESSION CRITICAL - run-test-1: failed; next: " in line
    session = create_run(DryrunConfig(run_id="cr", steps=40, checkpoint_every=10), tmp_path)
    crash_in_step(session, 25, 40)
    code, line = check(tmp_path / "cr")
    assert code == WARNING, line
    assert line.startswith("LIVESESSION WARNING - cr: crashed; next: continue it")


@pytest.mark.broken_run("a crashed run held by a child standing for its writer")
def test_a_running_run_is_ok_until_its_heartbeat_is_stale(tmp_path, check):
    session = create_run(DryrunConfig(run_id="live", steps=40, checkpoint_every=10), tmp_path)
    crash_in_step(session, 25, 40)
    run = tmp_path / "live"
    with held_by_a_child(run, "livesession dryrun"):
        code, line = check(run)
        assert code == OK, line
        assert line.startswith("LIVESESSION OK - live: running; next: ")
        old = (run / "checkpoint.json").stat().st_mtime - 3600
        os.utime(run / "checkpoint.json", (old, old))
        code, line = check(run, "600")
        assert code == WARNING, line
        assert ": running, heartbeat " in line
        assert " s old; next: " in line
        assert line.endswith(";600.0")


@pytest.mark.broken_run("a crashed run held by a child standing for its writer")
def test_a_heartbeat_ahead_of_the_clock_warns_and_is_not_called_fresh(tmp_path, check):
    """A checkpoint written an hour ahead of this machine's clock (a clock stepped back, a
    writer on a host whose clock is ahead) read "0.0 s ago": the check said OK however long
    the writer had hung. Its age is now negative, the check warns and ``status`` says why."""
    session = create_run(DryrunConfig(run_id="ahead", steps=40, checkpoint_every=10), tmp_path)
    crash_in_step(session, 25, 40)
    run = tmp_path / "ahead"
    ahead = (run / "checkpoint.json").stat().st_mtime + 3600
    os.utime(run / "checkpoint.json", (ahead, ahead))
    with held_by_a_child(run, "livesession dryrun"):
        code, line = check(run, "600")
        assert code == WARNING, line
        assert re.search(
            r": running, heartbeat 3[56]\d\d s in the future \(clocks disagree\); next: ", line
        )
        assert "heartbeat_age=-3" in line
        done = subprocess.run(
            [sys.executable, "-m", "livesession.cli", "status", str(run)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    [beat] = [s for s in done.stdout.splitlines() if s.startswith("heartbeat")]
    assert "in the future by this machine's clock, so its age cannot be told" in beat
    assert " s ago" not in beat


def test_a_run_status_cannot_read_is_unknown_naming_the_file(tmp_path, check, monkeypatch, capsys):
    """A run one of whose files this user may not read: ``status --json`` says so in an
    ``error`` (exit 2) and has no ``run_id``, ``verdict`` nor ``next``, and the check said
    ``UNKNOWN - None: None (a file of it cannot be read); next: ``. It names the run as
    given and the file with why now."""
    run, said = status_json_refused(tmp_path, monkeypatch, capsys)
    shim = tmp_path / "bin" / "livesession"  # status as this user sees the run
    shim.write_text(f"#!/bin/sh\ncat <<'EOF'\n{said}EOF\nexit 2\n", encoding="utf-8")

    code, line = check(run)

    assert code == UNKNOWN, line
    assert line == (
        f"LIVESESSION UNKNOWN - {run}: not read ({run}/audit.jsonl: Permission denied) "
        "| steps=0 heartbeat_age=U;300.0"
    )
