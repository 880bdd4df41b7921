"""Operator commands at the edges of a run's life: before a resume takes it, after its seal.

- ``livesession kill`` (or ``stop``, ``ack``) sent while ``livesession resume`` loads, before
  it takes the writer lock: the command found nothing holding the run, said so (exit 8,
  "continue it with `livesession resume`"), and the resume then traded on, its kill lost.
  The command now waits for that resume to take the run, and signals it.
- ``livesession stop`` of a run that is sealed already (a service manager's ``ExecStop=``,
  a second operator): exit 8, "nothing holds the run", as if the stop had failed. Now it
  is done already (exit 0; 4 for a run sealed FAILED), and says how the run ended.

The resume is a real process held (a file's existence) before it takes the lock; nothing
sleeps a fixed time, and waits poll with a deadline that only bounds a hang.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import orjson
import pytest

from livesession import DryrunConfig, control, create_run, resume_run
from livesession._artifacts import names
from livesession._rundir.loading import loading_next
from livesession.cli import EXIT_CRASHED, EXIT_NOT_HELD, EXIT_OK, main
from livesession.verify import verify_run

from _helpers import crash_in_step, proc_stat, until

if TYPE_CHECKING:
    from collections.abc import Iterator

_DEADLINE_S = 300.0  # bounds a hang only

# Put in by a sitecustomize: `livesession resume` waits, before it takes the run, while a
# file exists, saying so once on stdout.
_HELD_RESUME = """
import os, time
import livesession._rundir as rundir

real = rundir.resume_run

def resume_run(*args, **kwargs):
    hold = os.environ["TEST_HOLD_RESUME"]
    print("loading", flush=True)
    deadline = time.monotonic() + 300
    while os.path.exists(hold) and time.monotonic() < deadline:
        time.sleep(0.01)
    return real(*args, **kwargs)

rundir.resume_run = resume_run
"""


def _crashed_run_and_held_resume(
    tmp_path: Path, *, steps: int
) -> tuple[Path, Path, dict[str, str]]:
    """Run ``r`` crashed in its 45th step, a hold file, and the environment of a ``resume``
    that loads it and waits, before it takes the run, until the hold file is gone."""
    crash_in_step(
        create_run(DryrunConfig(run_id="r", steps=steps, checkpoint_every=10), tmp_path),
        45,
        steps,
    )
    run, hold = tmp_path / "r", tmp_path / "hold"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_HELD_RESUME)
    hold.touch()
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(site), *sys.path]),
        "TEST_HOLD_RESUME": str(hold),
    }
    return run, hold, env


@contextlib.contextmanager
def _loading_resume(run: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """A ``livesession resume`` of ``run`` that has said ``loading`` (held by ``env`` before
    it takes the run); continued and killed on the way out if it is still there."""
    script = [sys.executable, "-m", "livesession.cli", "resume", str(run), "-q"]
    with subprocess.Popen(
        script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "loading"
            yield proc
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)  # a test may have stopped it
                proc.kill()
                proc.wait(timeout=30)


def test_a_kill_sent_while_a_resume_loads_waits_for_it_and_halts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kill switch of a run a `resume` is about to take is never lost: the command
    waits for the resume to hold the run, then trips it (exit 0), and the run is sealed
    HALTED with the kill in it."""
    run, hold, env = _crashed_run_and_held_resume(tmp_path, steps=400)
    looks: list[object] = []
    real_holder_of = control.holder_of

    def holder_of(run_dir: Path) -> object:
        looks.append(run_dir)
        return real_holder_of(run_dir)

    monkeypatch.setattr(control, "holder_of", holder_of)
    with _loading_resume(run, env) as proc:  # nothing holds the run yet
        outcomes: list[control.ControlOutcome] = []
        operator = threading.Thread(
            target=lambda: outcomes.append(control.send_control("kill", run, timeout_s=_DEADLINE_S))
        )
        operator.start()
        until("the command to look twice", lambda: len(looks) > 1 or not operator.is_alive())
        hold.unlink()  # the resume takes the run, its handlers in
        operator.join(timeout=_DEADLINE_S)
        assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK, proc.communicate()[1]
    (outcome,) = outcomes
    assert (outcome.kind, outcome.line.split(":")[0]) == (
        "done",
        f"kill switch tripped in pid {proc.pid}",
    ), outcome.line
    events = [orjson.loads(line) for line in (run / names.EVENTS).read_bytes().splitlines()]
    assert [e["event_type"] for e in events].count("KILL_SWITCH") == 1
    result = verify_run(run)
    assert result.ok, result.render(run)


def test_a_kill_of_a_resume_that_never_takes_the_run_says_nothing_was_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resume that does not take the run within the command's timeout: the command
    sends nothing, says so and that it is to be sent again (exit 9), never exit 8."""
    crash_in_step(
        create_run(DryrunConfig(run_id="q", steps=60, checkpoint_every=10), tmp_path), 45, 60
    )
    run = tmp_path / "q"
    monkeypatch.setattr(control, "resuming", lambda _run: 4242)
    outcome = control.send_control("kill", run, timeout_s=0)
    assert outcome.kind == "timeout"
    assert outcome.line.startswith(
        f"nothing was sent: `livesession resume` (pid 4242) of {run} is starting and did not "
        "take the run within the timeout"
    ), outcome.line
    assert outcome.line.endswith(f"`livesession kill {run}` again")
    session = resume_run(run)
    assert session.run_to_end(60).status.value == "COMPLETED"
    session.close()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the state is read from /proc")
def test_a_resume_stopped_as_it_loads_is_said_to_be_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `livesession resume` stopped (SIGSTOP, Ctrl-Z) before it took the run: `stop`,
    `kill` and `ack` waited out their timeout and said only that it `is starting and did not
    take the run within the timeout`, and the operator waited on a process that would never
    take it until it ran again. The line now says it is stopped and how it runs again, at
    once: the command does not wait out its timeout (an hour here) first."""
    crash_in_step(
        create_run(DryrunConfig(run_id="q", steps=60, checkpoint_every=10), tmp_path), 45, 60
    )
    run = tmp_path / "q"
    with subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    ) as loading:
        try:
            os.kill(loading.pid, signal.SIGSTOP)
            until("it to stop", lambda: proc_stat(loading.pid)[0] == "T", deadline_s=_DEADLINE_S)
            monkeypatch.setattr(control, "resuming", lambda _run: loading.pid)
            monkeypatch.setattr(control, "time", SimpleNamespace(monotonic=time.monotonic))
            outcome = control.send_control("stop", run, timeout_s=3600)  # no sleep to call
        finally:
            os.kill(loading.pid, signal.SIGCONT)
            loading.kill()
            loading.wait(timeout=30)
    pid = loading.pid
    assert outcome.kind == "timeout"
    assert outcome.line == (
        f"nothing was sent: `livesession resume` (pid {pid}) of {run} is starting, but pid "
        f"{pid} is stopped (state T: SIGSTOP, or Ctrl-Z in its terminal) and acts on no signal "
        f"until it runs again: `kill -CONT {pid}`; once `livesession status {run}` says it "
        f"runs, `livesession stop {run}` again"
    ), outcome.line
    session = resume_run(run)
    assert session.run_to_end(60).status.value == "COMPLETED"
    session.close()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the state is read from /proc")
def test_status_of_a_run_a_resume_loads_names_it_and_says_to_continue_a_stopped_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status` of a crashed run whose `livesession resume` loads (before it takes the run)
    said `crashed` and `continue it: livesession resume DIR`, also when that resume was
    stopped (Ctrl-Z, SIGSTOP) and wanted only a `kill -CONT`: a second resume would race it
    for the run. It now names the loading resume, says whether it is stopped, and what to
    do; the verdict stays `crashed` (exit 6), as nothing holds the run yet."""
    run, hold, env = _crashed_run_and_held_resume(tmp_path, steps=100)
    with _loading_resume(run, env) as proc:
        pid = proc.pid
        assert main(["status", str(run)]) == EXIT_CRASHED
        out = capsys.readouterr().out
        assert (
            f"resuming    pid {pid} (livesession resume) loads the run, before it takes it\n" in out
        )
        assert out.endswith(
            f"next        wait: pid {pid}, a `livesession resume` of the run, takes it "
            "next; poll again\n"
        ), out

        os.kill(pid, signal.SIGSTOP)
        until("it to stop", lambda: proc_stat(pid)[0] == "T", deadline_s=_DEADLINE_S)
        stopped = (
            f"pid {pid} is stopped (state T: SIGSTOP, or Ctrl-Z in its terminal) and acts "
            f"on no signal until it runs again: `kill -CONT {pid}`"
        )
        assert main(["status", str(run)]) == EXIT_CRASHED
        out = capsys.readouterr().out
        assert (
            f"resuming    pid {pid} (livesession resume) loads the run, before it takes "
            f"it; {stopped}\n"
        ) in out
        assert out.endswith(
            f"next        a person must let pid {pid}, a `livesession resume` of the run "
            f"stopped as it loaded, run again: `kill -CONT {pid}` (not another "
            f"`livesession resume {run}`, which would race it for the run)\n"
        ), out
        assert main(["status", str(run), "--json"]) == EXIT_CRASHED
        said = json.loads(capsys.readouterr().out)
        assert said["resuming"] == {"pid": pid, "stopped": stopped}
        assert said["verdict"] == "crashed"
        main(["list", str(tmp_path), "--json"])  # one look at the processes for all runs
        (listed,) = json.loads(capsys.readouterr().out)["runs"]
        assert (listed["resuming"], listed["next"]) == (said["resuming"], said["next"])

        os.kill(pid, signal.SIGCONT)
        hold.unlink()
        assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK, proc.communicate()[1]
    assert main(["status", str(run), "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["resuming"] is None
    result = verify_run(run)
    assert result.ok, result.render(run)


def test_a_resume_a_debugger_stopped_as_it_loads_is_not_told_kill_cont() -> None:
    """A tracing stop (state t) is the debugger's to end: `next` says so, not `kill -CONT`."""
    stopped = (
        "pid 7 is stopped by a debugger (state t: tracing stop) and acts on no signal until "
        "the debugger lets it run"
    )
    said = loading_next({"pid": 7, "stopped": stopped}, "runs/r")
    assert said == (
        "a person must let pid 7, a `livesession resume` of the run stopped as it loaded, run "
        "again: through its debugger (not another `livesession resume runs/r`, which would "
        "race it for the run)"
    )


def test_stop_of_a_sealed_run_is_done_already_and_says_how_it_ended(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`systemctl stop` of a stopped unit is no error: neither is a `stop` of a sealed run
    (exit 0, on stdout). `kill` and `ack` of it still find nothing to signal (exit 8)."""
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "s", "--steps", "20", "-q"]) == 0
    run = tmp_path / "s"
    capsys.readouterr()
    assert main(["stop", str(run)]) == EXIT_OK
    assert capsys.readouterr().out == f"{run} is stopped already: sealed COMPLETED after 20 steps\n"
    for verb in ("kill", "ack"):
        assert main([verb, str(run)]) == EXIT_NOT_HELD


@pytest.mark.parametrize("verb", ["kill", "stop"])
def test_a_kill_or_stop_of_a_crashed_run_says_the_venue_keeps_its_orders_and_how_to_act(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    """A desk killing its basket (`for r in runs/*; do livesession kill "$r"; done`) was
    told of a crashed session only `nothing holds DIR: unfinished (no C2_DRYRUN_STOP):
    continue it with `livesession resume DIR``: not that nothing was sent, nor that its
    orders still rest at the venue, nor that the kill must be sent again once it runs. The
    line now says so, and gives the commands, which the kill above waits through; `ack`
    has nothing to add."""
    crash_in_step(
        create_run(DryrunConfig(run_id="q", steps=60, checkpoint_every=10), tmp_path), 45, 60
    )
    run = tmp_path / "q"
    assert main([verb, str(run)]) == EXIT_NOT_HELD
    assert capsys.readouterr().err == (
        f"livesession: {verb}: nothing holds {run}: unfinished (no C2_DRYRUN_STOP): nothing "
        "was sent, and what the run left at the venue (open orders, a position) stays there "
        f"until it runs again: resume it and {verb} it at once: `livesession resume {run} -q & "
        f"livesession {verb} {run}` (the {verb} waits for the resume to take the run, and is "
        "taken at its first step boundary)\n"
    )
    assert main(["ack", str(run)]) == EXIT_NOT_HELD
    assert capsys.readouterr().err == (
        f"livesession: ack: nothing holds {run}: unfinished (no C2_DRYRUN_STOP): continue it "
        f"with `livesession resume {run}`\n"
    )
    session = resume_run(run)
    assert session.run_to_end(60).status.value == "COMPLETED"
    session.close()
