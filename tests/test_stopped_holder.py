"""A run's writer stopped by SIGSTOP (or Ctrl-Z): the controls and status say so.

A stopped process holds its run's lock and acts on no signal until it runs again. `kill`
and `stop` against one waited out their timeout and said `no effect seen ... (a long step
or wind-down?): check again with livesession verify or wait`, and `status` said `running`:
nothing pointed at the process's state, in which it would wait forever. Now the line says
that the holder is stopped and how it runs again (`kill -CONT PID`), with the exit code of
"no effect seen" (9), and `status` says so on its writer line (`--json`: `writer.stopped`).

Once it runs again, the signals it holds pending are acted on at the next step boundary, a
kill before a stop whichever came first: the kill switch cancels and flattens at once and
is in the run's record, and the stop then seals (a kill outranks a stop).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from livesession import DryrunConfig, control, create_run
from livesession._artifacts import names
from livesession._rundir import lock
from livesession._rundir.lock import Holder
from livesession.cli import EXIT_NO_EFFECT, EXIT_OK, EXIT_RUNNING, main
from livesession.control import SignalControls
from livesession.verify import verify_run

from _helpers import proc_stat, stepping, until

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="the process state is read from /proc"
)
_DEADLINE_S = 60.0


def _event_types(run_dir: Path) -> list[str]:
    return [
        orjson.loads(line)["event_type"]
        for line in (run_dir / names.EVENTS).read_bytes().splitlines()
    ]


@pytest.fixture
def stopped_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A long dry run in a subprocess, stepping, then stopped by SIGSTOP."""
    run_dir = tmp_path / "live"
    args = ["dryrun", "--out", str(tmp_path), "--run-id", "live", "--steps", "1000000", "-q"]
    with subprocess.Popen(
        [sys.executable, "-m", "livesession.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            until("the run to step", lambda: stepping(run_dir), deadline_s=_DEADLINE_S)
            os.kill(proc.pid, signal.SIGSTOP)
            until(
                "the process to stop", lambda: proc_stat(proc.pid)[0] == "T", deadline_s=_DEADLINE_S
            )
            yield proc, run_dir
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
                proc.wait(timeout=10)


def _no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The controls' wait for an effect fails the test: a stopped holder is said at once."""

    def waited(_seconds: float) -> None:
        raise AssertionError("waited for the effect of a signal to a stopped holder")

    monkeypatch.setattr(control, "time", SimpleNamespace(monotonic=time.monotonic, sleep=waited))


def test_kill_and_stop_say_the_holder_is_stopped_and_how_it_runs_again(
    stopped_run: tuple[subprocess.Popen[str], Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Said at once, without waiting out the timeout (an hour here), with exit 9 still:
    the commands waited it out first, and an operator waited on a process that would act
    on nothing until it ran again."""
    proc, run_dir = stopped_run
    pid = proc.pid
    stopped = (
        f"pid {pid} is stopped (state T: SIGSTOP, or Ctrl-Z in its terminal) and acts on no "
        f"signal until it runs again: `kill -CONT {pid}`"
    )
    _no_wait(monkeypatch)

    assert main(["kill", str(run_dir), "--timeout", "3600"]) == EXIT_NO_EFFECT
    assert capsys.readouterr().err == (
        f"livesession: kill: sent SIGUSR1 to pid {pid}; {stopped}; the signal stays pending "
        f"till then: `livesession status {run_dir}`\n"
    )
    assert main(["ack", str(run_dir), "--timeout", "3600"]) == EXIT_NO_EFFECT
    assert f"livesession: ack: sent SIGUSR2 to pid {pid}; {stopped}" in capsys.readouterr().err

    # The kill and the ack wait in the kernel: status names them (it said only "stopped",
    # where the commands sent the operator to it: "the signal stays pending till then").
    pending = (
        "SIGUSR1 (livesession kill) and SIGUSR2 (livesession ack) pending: it acts on them "
        "once it runs again, a kill before a stop"
    )
    assert main(["status", str(run_dir)]) == EXIT_RUNNING
    out = capsys.readouterr().out
    assert f"(livesession dryrun); {stopped}; {pending}\n" in out
    assert "next        a person must let the writer run again (see writer)" in out
    assert main(["status", str(run_dir), "--json"]) == EXIT_RUNNING
    writer = json.loads(capsys.readouterr().out)["writer"]
    assert (writer["stopped"], writer["pending"]) == (stopped, ["SIGUSR1", "SIGUSR2"])

    # ``list`` says it too (it showed `pid N` alone, as of a writer that steps on).
    assert main(["list", str(run_dir.parent)]) == EXIT_OK
    assert f"  pid {pid}, stopped  " in capsys.readouterr().out

    assert main(["stop", str(run_dir), "--timeout", "3600"]) == EXIT_NO_EFFECT
    assert f"livesession: stop: sent SIGTERM to pid {pid}; {stopped}" in capsys.readouterr().err
    assert main(["status", str(run_dir), "--json"]) == EXIT_RUNNING
    assert json.loads(capsys.readouterr().out)["writer"]["pending"] == [
        "SIGUSR1",
        "SIGUSR2",
        "SIGTERM",
    ]

    # Running again, it acts on all: the kill first (sent first, and it outranks a stop);
    # the ack, come with it, does not lift it.
    monkeypatch.undo()
    os.kill(pid, signal.SIGCONT)
    assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK
    kinds = _event_types(run_dir)
    assert kinds.index("KILL_SWITCH") < kinds.index("SESSION_STOPPED")
    assert "TRADING_REENABLED" not in kinds
    last = orjson.loads((run_dir / names.AUDIT).read_bytes().splitlines()[-1])
    assert last["payload"]["reason"] == "SIGNAL_SIGTERM"
    assert verify_run(run_dir).ok


def test_a_running_holder_is_not_said_to_be_stopped() -> None:
    """The process asking is running: nothing is said (and none on another host)."""
    me = Holder(pid=os.getpid(), host=os.uname().nodename, since="", command="")
    assert lock.stopped(me) == ""
    assert lock.stopped(Holder(pid=os.getpid(), host="elsewhere", since="", command="")) == ""


def test_a_tracing_stop_is_the_debuggers_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """State t (a debugger): no `kill -CONT`; a name with parentheses is read past."""
    me = Holder(pid=os.getpid(), host=os.uname().nodename, since="", command="")
    real = Path.read_bytes

    def stat(path: Path) -> bytes:
        if path == Path(f"/proc/{me.pid}/stat"):
            return f"{me.pid} (py) T (x) t 1 2 3".encode()
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", stat)
    assert lock.stopped(me) == (
        f"pid {me.pid} is stopped by a debugger (state t: tracing stop) and acts on no "
        "signal until the debugger lets it run"
    )


def test_a_kill_pending_with_a_stop_is_applied_first(tmp_path: Path) -> None:
    """Both flags up at one step boundary, the stop's raised first: the kill still acts first.

    The kill switch cancels and flattens at once and is recorded as the operator's kill; a
    stop applied first would wind down and seal with no KILL_SWITCH in the record.
    """
    session = create_run(DryrunConfig(run_id="both", steps=50), tmp_path)
    assert session.preflight()
    session.activate()
    session.run_n_steps(10)
    controls = SignalControls()
    controls._on_stop(signal.SIGTERM, None)
    controls._on_kill(signal.SIGUSR1, None)

    assert controls.at_step_boundary(session)
    session.run_to_end(50)
    session.close()

    kinds = _event_types(tmp_path / "both")
    assert kinds.index("KILL_SWITCH") < kinds.index("SESSION_STOPPED")
    assert verify_run(tmp_path / "both").ok


def _pending(pid: int, signum: int) -> bool:
    """Whether ``signum`` waits, pending, for the process ``pid`` (which blocks it)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(("ShdPnd:", "SigPnd:")) and int(line.split()[1], 16) >> (signum - 1) & 1:
            return True
    return False


# A strategy that, at its 20th bar, blocks the operator's signals and waits for a line on
# stdin: a long step whose process runs (not stopped), and a signal sent meanwhile that
# waits, pending, where the test can see it (then unblocked, it is acted on).
_BUSY = """
import signal, sys

HELD = {signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2}


class Busy:
    def __init__(self, strategy_id):
        self.strategy_id = strategy_id
        self.bars = 0

    def on_bar(self, bar, view):
        self.bars += 1
        if self.bars == 20:
            signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
            print("busy", flush=True)
            sys.stdin.readline()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)
        return []

    def get_state(self):
        return {"bars": self.bars}

    def set_state(self, state):
        self.bars = state["bars"]


def make(*, strategy_id):
    return Busy(strategy_id)
"""


@pytest.fixture
def busy_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A long dry run in a subprocess, inside a long step (running, not stopped)."""
    module = f"busy_{tmp_path.name}"
    (tmp_path / f"{module}.py").write_text(_BUSY, encoding="utf-8")
    config = tmp_path / "busy.toml"
    config.write_text(f'strategy_factory = "{module}:make"\n', encoding="utf-8")
    args = ["dryrun", "-c", str(config), "--out", str(tmp_path / "runs"), "--run-id", "live"]
    with subprocess.Popen(
        [sys.executable, "-m", "livesession.cli", *args, "--steps", "1000000", "-q"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "busy\n"
            yield proc, tmp_path / "runs" / "live"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


@pytest.mark.parametrize(
    "case",
    [
        ("stop", signal.SIGTERM, signal.SIGINT, 130, "interrupted"),
        ("kill", signal.SIGUSR1, signal.SIGTERM, 143, "terminated"),
    ],
    ids=["stop-ctrl-c", "kill-sigterm"],
)
def test_a_wait_cut_short_says_the_signal_went_out_and_stands(
    busy_run: tuple[subprocess.Popen[str], Path], case: tuple[str, int, int, int, str]
) -> None:
    """Ctrl-C (or SIGTERM) to a `stop` or `kill` waiting for its effect, once it signalled.

    It said a bare `livesession: interrupted` (`terminated`), which the RUNBOOK reads as a
    command that changed nothing: an operator would take the stop as called off, when the
    holder had it pending and sealed the run as soon as its step ended. Now the line says
    what was sent and that it stands; the exit code is still the signal's. (The holder is
    in a long step: one stopped by SIGSTOP is said so at once, with no wait to cut.)
    """
    action, signum, cut, code, said = case
    proc, run_dir = busy_run
    pid = proc.pid
    with subprocess.Popen(
        [sys.executable, "-m", "livesession.cli", action, str(run_dir), "--timeout", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as sender:
        try:
            until(f"{action}'s signal", lambda: _pending(pid, signum), sender, deadline_s=60)
            os.kill(sender.pid, cut)
            out, err = sender.communicate(timeout=60)
        finally:
            if sender.poll() is None:
                sender.kill()
    assert sender.returncode == code, err
    assert out == ""
    assert err == (
        f"livesession: {said}: sent {signal.Signals(signum).name} to pid {pid} before this "
        f"command stopped waiting for its effect: the signal stands, and pid {pid} acts on it "
        f"at its next step boundary (once it runs again, if it is stopped): `livesession "
        f"status {run_dir}` says where the run stands\n"
    )

    # It does: its step over, the holder acts on the signal the cut command sent.
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    if action == "kill":
        until("the kill", lambda: b"KILL_SWITCH_FLAT" in (run_dir / names.EVENTS).read_bytes())
        os.kill(pid, signal.SIGTERM)
    assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK
    last = orjson.loads((run_dir / names.AUDIT).read_bytes().splitlines()[-1])
    assert last["payload"]["reason"] == "SIGNAL_SIGTERM"
    assert verify_run(run_dir).ok
