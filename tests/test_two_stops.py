"""Two operators stop one run at once: one stop is sent, and the run is sealed.

A second stop signal ends the holder at once, by design: an operator who sends it means
"now". Two terminals that each run ``livesession stop`` mean no such thing, yet the second
command's SIGTERM ended the holder and left the run unsealed (``verify``: incomplete). A
``stop`` that finds a stop under way (another ``stop`` command waiting for it, or the
holder's checkpoint holding one) now sends nothing and waits for the same seal.

The holder is a real ``livesession dryrun`` process whose step (or wind-down) waits while
a file exists, so the commands act while it is in there, in the order under test. Waits
poll with a deadline that only bounds a hang; nothing sleeps a fixed time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from livesession import control
from livesession._artifacts import names
from livesession._support.dirlock import flock_holder
from livesession.cli import EXIT_NO_EFFECT, EXIT_OK, main
from livesession.verify import verify_run

from _helpers import proc_stat, stepping, until

_DEADLINE_S = 300.0  # bounds a hang only

# Put in by a sitecustomize, so the holder is `python -m livesession.cli dryrun` itself (the
# one process `stop` signals): its step or its wind-down waits while a file exists (the
# paths in the environment), saying so once on stdout.
_HOLDER = """
import os, time
from livesession._market import feeds
from livesession._session import winddown

hold_step, hold_wind = os.environ["TEST_HOLD_STEP"], os.environ["TEST_HOLD_WIND"]

def held(path, said):
    if os.path.exists(path):
        print(said, flush=True)
        deadline = time.monotonic() + 300
        while os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.01)

real_bar = feeds.RandomWalkFeed.next_bar
def next_bar(self, ts_ns):
    held(hold_step, "in a step")
    return real_bar(self, ts_ns)

real_wind = winddown.WindDown.wind_down
def wind_down(self):
    held(hold_wind, "winding down")
    real_wind(self)

feeds.RandomWalkFeed.next_bar = next_bar
winddown.WindDown.wind_down = wind_down

from livesession._rundir import onestop

real_mark = onestop.mark_stop_taken
def mark_stop_taken(run_dir):
    real_mark(run_dir)  # taken, or refused (and, now, waited for)
    open(os.environ["TEST_MARKED"], "w").close()

onestop.mark_stop_taken = mark_stop_taken
"""


@contextlib.contextmanager
def _holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    run_dir = tmp_path / "run"
    args = ["dryrun", "--out", str(tmp_path), "--run-id", "run", "--steps", "1000000", "-q"]
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_HOLDER)
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(site), *sys.path]),
        "TEST_HOLD_STEP": str(tmp_path / "hold_step"),
        "TEST_HOLD_WIND": str(tmp_path / "hold_wind"),
        "TEST_MARKED": str(tmp_path / "marked"),
    }
    script = [sys.executable, "-m", "livesession.cli", *args]
    with subprocess.Popen(
        script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as p:
        try:
            until("the run to step", lambda: stepping(run_dir), p)
            yield p, run_dir
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)


def _said(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == line


class _Waiting:
    """Counts the commands (threads) that reached their wait for the holder's end."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.threads: set[int] = set()
        real = control._stopped

        def stopped(*args: object) -> object:
            self.threads.add(threading.get_ident())
            return real(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(control, "_stopped", stopped)


def _assert_sealed(run_dir: Path) -> None:
    last = orjson.loads((run_dir / names.AUDIT).read_bytes().splitlines()[-1])
    assert last["code"] == "C2_DRYRUN_STOP"
    assert (last["payload"]["status"], last["payload"]["reason"]) == (
        "COMPLETED",
        "SIGNAL_SIGTERM",
    )
    result = verify_run(run_dir)
    assert result.ok, result.render(run_dir)


def _stop_sends_nothing(
    proc: subprocess.Popen[str], run_dir: Path, capsys: pytest.CaptureFixture[str], why: str
) -> None:
    """`livesession stop --timeout 1` sends nothing, says ``why`` and how to end the holder
    at once, and exits 9 (its effect, the seal, has not come yet); the holder goes on."""
    assert main(["stop", str(run_dir), "--timeout", "1"]) == EXIT_NO_EFFECT
    err = capsys.readouterr().err
    assert f"sent nothing to pid {proc.pid}: a stop is under way ({why})" in err
    assert f"to end it at once, send the second signal: `kill -TERM {proc.pid}`" in err
    assert proc.poll() is None, "the holder goes on to its seal"


def test_two_stop_commands_at_once_send_one_signal_and_both_see_the_seal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two operators run `livesession stop` while the holder is inside a long step: each
    sent SIGTERM, the second ended the holder at once (-15), and the run was left unsealed.
    Now one sends, the other waits for the same seal, and both say how it ended."""
    waiting = _Waiting(monkeypatch)
    with _holder(tmp_path) as (proc, run_dir):
        (tmp_path / "hold_step").touch()
        _said(proc, "in a step")
        outcomes: list[control.ControlOutcome] = []

        def stop() -> None:
            outcomes.append(control.send_control("stop", run_dir, timeout_s=_DEADLINE_S))

        operators = [threading.Thread(target=stop) for _ in range(2)]
        for operator in operators:
            operator.start()
        until("both commands to wait", lambda: len(waiting.threads) == 2, proc)
        (tmp_path / "hold_step").unlink()  # the step ends: the holder acts on what it got
        for operator in operators:
            operator.join(timeout=_DEADLINE_S)
        assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK, proc.communicate()[1]
    assert sorted(outcome.kind for outcome in outcomes) == ["done", "done"]
    joined, sent = sorted(outcome.line for outcome in outcomes)  # "sent nothing" first
    sealed = f"stopped: pid {proc.pid} wound down and sealed COMPLETED (SIGNAL_SIGTERM)"
    assert sent.startswith(sealed), sent
    assert joined.startswith(
        f"sent nothing to pid {proc.pid}: a stop is under way (another `livesession stop` "
        f"of this run waits for it); {sealed}"
    ), joined
    _assert_sealed(run_dir)


def test_stop_while_the_holder_winds_down_from_a_signal_sends_no_second_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A service manager (or Ctrl-C) stopped the holder, which checkpointed the stop and
    winds down slowly; an operator then ran `livesession stop`, whose SIGTERM was the
    second and ended the holder unsealed. Now it sends nothing: it waits, says why, and on
    its timeout says how to end the holder at once if that is what is wanted."""
    with _holder(tmp_path) as (proc, run_dir):
        (tmp_path / "hold_wind").touch()
        proc.send_signal(signal.SIGTERM)
        _said(proc, "winding down")
        _stop_sends_nothing(
            proc, run_dir, capsys, "its checkpoint holds a stop (SIGNAL_SIGTERM), and it winds down"
        )

        waiting = _Waiting(monkeypatch)
        codes: list[int] = []
        operator = threading.Thread(target=lambda: codes.append(main(["stop", str(run_dir)])))
        operator.start()
        until("the command to wait", lambda: bool(waiting.threads), proc)
        (tmp_path / "hold_wind").unlink()
        operator.join(timeout=_DEADLINE_S)
        assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK, proc.communicate()[1]
    assert codes == [EXIT_OK]
    assert "wound down and sealed COMPLETED (SIGNAL_SIGTERM)" in capsys.readouterr().out
    _assert_sealed(run_dir)


def test_stop_after_a_signal_the_holder_has_not_acted_on_yet_sends_no_second_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A service manager's SIGTERM (or a Ctrl-C) came while the holder was inside a long
    step, so nothing on disk said a stop was coming yet; an operator's `livesession stop`
    then sent the second SIGTERM, which ended the holder unsealed. The holder marks the
    stop as its signal comes (a shared flock on writer.lock), and the command waits."""
    with _holder(tmp_path) as (proc, run_dir):
        (tmp_path / "hold_step").touch()
        _said(proc, "in a step")
        proc.send_signal(signal.SIGTERM)
        fd = os.open(run_dir / names.WRITER_LOCK, os.O_RDONLY)
        try:
            until("the holder to mark the stop", lambda: flock_holder(fd) == proc.pid, proc)
        finally:
            os.close(fd)
        _stop_sends_nothing(
            proc, run_dir, capsys, "it took a stop signal, and acts on it at its next step boundary"
        )
        (tmp_path / "hold_step").unlink()
        assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK, proc.communicate()[1]
    _assert_sealed(run_dir)


def test_stop_after_one_that_gave_up_inside_the_step_sends_no_second_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `stop` sent SIGTERM while the holder was inside a long step and gave up (exit 9);
    the holder's mark of the stop was refused, since that command held its turn as the
    signal came. A second `stop` then found nothing under way and sent the second SIGTERM,
    which ended the holder unsealed. The holder waits for its mark now, and the second
    `stop` finds that wait (or the mark) and sends nothing."""
    with _holder(tmp_path) as (proc, run_dir):
        (tmp_path / "hold_step").touch()
        _said(proc, "in a step")
        real = control._stopped

        def stopped(watch: object, holder: object, who: str) -> object:
            # The first command's one look comes once the holder took its signal.
            until("the holder to take the signal", (tmp_path / "marked").exists, proc)
            return real(watch, holder, who)  # type: ignore[arg-type]

        monkeypatch.setattr(control, "_stopped", stopped)
        first = control.send_control("stop", run_dir, timeout_s=0)
        assert first.kind == "timeout", first.line
        assert first.line.startswith(f"sent SIGTERM to pid {proc.pid}"), first.line
        monkeypatch.setattr(control, "_stopped", real)
        _stop_sends_nothing(
            proc, run_dir, capsys, "it took a stop signal, and acts on it at its next step boundary"
        )
        (tmp_path / "hold_step").unlink()
        assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK, proc.communicate()[1]
    _assert_sealed(run_dir)


def test_stop_of_a_holder_stopped_in_its_wind_down_says_how_the_second_signal_acts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The holder took a stop, checkpointed it, and was stopped (Ctrl-Z, SIGSTOP) in its
    wind-down. `stop` sends nothing (a stop is under way) and says the holder is stopped;
    its line said "the signal stays pending", of a signal it never sent, and "to end it at
    once, send the second signal: kill -TERM N", which a stopped process takes only once it
    runs again. It now says the stop waits, and that only `kill -KILL` ends it stopped."""
    with _holder(tmp_path) as (proc, run_dir):
        (tmp_path / "hold_wind").touch()
        proc.send_signal(signal.SIGTERM)
        _said(proc, "winding down")
        proc.send_signal(signal.SIGSTOP)
        until("the holder to stop", lambda: proc_stat(proc.pid)[0] == "T", proc)
        pid = proc.pid
        with monkeypatch.context() as at_once:  # no sleep to call: it does not wait
            at_once.setattr(control, "time", SimpleNamespace(monotonic=time.monotonic))
            assert main(["stop", str(run_dir), "--timeout", "3600"]) == EXIT_NO_EFFECT
        assert capsys.readouterr().err == (
            f"livesession: stop: sent nothing to pid {pid}: a stop is under way (its checkpoint "
            f"holds a stop (SIGNAL_SIGTERM), and it winds down); pid {pid} is stopped (state T: "
            f"SIGSTOP, or Ctrl-Z in its terminal) and acts on no signal until it runs again: "
            f"`kill -CONT {pid}`; the stop under way waits till then: `livesession status "
            f"{run_dir}`; to end it as soon as it runs again, send the second signal: `kill "
            f"-TERM {pid}` (`kill -KILL {pid}` ends it at once, stopped as it is)\n"
        )
        proc.send_signal(signal.SIGCONT)
        (tmp_path / "hold_wind").unlink()
        assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK, proc.communicate()[1]
    _assert_sealed(run_dir)
