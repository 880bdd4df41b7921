"""Signals and operator controls on a live CLI run, with real processes.

A dry run of a million steps is started in a subprocess and acted on while it runs: by a
signal (SIGTERM, SIGINT, a second one during the wind-down) or by the `stop`, `kill` and
`ack` commands. Waits poll the run's files with a deadline; nothing sleeps a fixed time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from _childscripts import SLOW_WINDDOWN
from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import (
    DryrunConfig,
    FillModel,
    LiveSessionOrchestrator,
    MockBroker,
    OrderType,
    SessionState,
    _cli_runs,
    control,
    create_run,
)
from livesession._artifacts import names
from livesession._rundir.lock import holder_of
from livesession._rundir.watch import RunWatch
from livesession.cli import EXIT_NOT_HELD, EXIT_OK, EXIT_REJECTED, main
from livesession.evidence import write_evidence
from livesession.testing import FaultBroker
from livesession.verify import verify_run

from _helpers import held_by_a_child, killed_after, stepping, until

# A bound on a hang, never a measure: every wait here is for something that comes (a step, a
# seal, a process's end) or, when the behaviour breaks, never comes. Alone each takes
# seconds; at load 19 on 2 cores the evidence test below took 75 s whole, close to what
# one 60 s bound allowed each of its waits. A hang still fails, only later.
_DEADLINE_S = 300.0
_LONG = "1000000"  # far more steps than any test waits for: the run ends only when told


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "livesession.cli", *args]


def _hangups_as_by_default() -> None:
    """In the child: SIGHUP's default action, whatever the suite inherited.

    A suite started under ``nohup`` (or by a CI runner that ignores SIGHUP) passes the
    ignored SIGHUP on to every child, which the CLI then rightly keeps ignoring; the tests
    of a terminal's hangup mean a terminal's process. A test of ``nohup`` says so itself.
    """
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@contextlib.contextmanager
def _process(args: list[str], **popen: Any) -> Iterator[subprocess.Popen[str]]:
    """``Popen(args, **popen)``, killed on the way out if the test left it running.

    The child starts with SIGHUP at its default action (``_hangups_as_by_default``).
    """
    popen.setdefault("preexec_fn", _hangups_as_by_default)
    with killed_after(args, **popen) as proc:
        yield proc


@pytest.fixture
def live_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A long dry run in a subprocess, stepping; killed at teardown if a test left it."""
    run_dir = tmp_path / "live"
    with _process(
        _cli("dryrun", "--out", str(tmp_path), "--run-id", "live", "--steps", _LONG, "-q"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        until("the run to step", lambda: stepping(run_dir), proc)
        yield proc, run_dir


def _audit_stop(run_dir: Path) -> dict[str, object]:
    last = orjson.loads((run_dir / names.AUDIT).read_bytes().splitlines()[-1])
    assert last["code"] == "C2_DRYRUN_STOP", last
    payload: dict[str, object] = last["payload"]
    return payload


def _final_snapshot(run_dir: Path) -> dict[str, object]:
    final: dict[str, object] = orjson.loads(
        (run_dir / names.SNAPSHOTS).read_bytes().splitlines()[-1]
    )
    return final


def _events(run_dir: Path, event_type: str) -> list[dict[str, object]]:
    lines = (run_dir / names.EVENTS).read_bytes().splitlines()
    return [e for e in map(orjson.loads, lines) if e["event_type"] == event_type]


def _assert_sealed_flat(run_dir: Path, reason: str) -> None:
    stop = _audit_stop(run_dir)
    assert (stop["status"], stop.get("reason")) == ("COMPLETED", reason)
    final = _final_snapshot(run_dir)
    assert final["fsm_state"] == "STOPPED"
    assert final["open_orders"] == []
    positions = final["positions"]
    assert isinstance(positions, dict)
    assert all(Decimal(q) == 0 for q in positions.values()), positions
    [stopped] = _events(run_dir, "SESSION_STOPPED")
    assert stopped["payload"]["reason"] == reason  # type: ignore[index]
    result = verify_run(run_dir)
    assert result.ok, result.render(run_dir)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_winds_down_and_seals_the_run(
    live_run: tuple[subprocess.Popen[str], Path], signum: signal.Signals
) -> None:
    """SIGTERM/SIGINT: cancel, flatten, seal STOPPED/COMPLETED with the signal's reason; exit 0."""
    proc, run_dir = live_run
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=_DEADLINE_S)
    assert proc.returncode == EXIT_OK, err
    assert f"livesession: stopped by {signum.name} after " in err
    assert "sealed COMPLETED" in err
    assert "Traceback" not in err
    _assert_sealed_flat(run_dir, f"SIGNAL_{signum.name}")
    changes = [e["payload"] for e in _events(run_dir, "STATE_CHANGED")]
    assert changes[-2]["reason"] == f"SIGNAL_{signum.name}"  # type: ignore[index]
    assert holder_of(run_dir) is None
    evidence = write_evidence(run_dir)  # the re-run stops where the signal stopped the run
    assert evidence.ok, evidence.problems


def test_the_soft_cpu_time_limit_stops_the_run_gracefully_however_often_it_says_so(
    live_run: tuple[subprocess.Popen[str], Path],
) -> None:
    """``ulimit -S -t`` reached: the kernel sends SIGXCPU, and again each CPU second until
    the hard limit's SIGKILL. Its default action dumped core mid-step (exit 152, no line)
    and left a crashed run. Now it is the graceful stop, reason ``SIGNAL_SIGXCPU``, and a
    repeat ends nothing (a second SIGTERM would end the process at once)."""
    proc, run_dir = live_run
    for _ in range(3):
        proc.send_signal(signal.SIGXCPU)
    _, err = proc.communicate(timeout=_DEADLINE_S)
    assert proc.returncode == EXIT_OK, err
    assert "livesession: stopped by SIGXCPU after " in err
    assert "sealed COMPLETED" in err
    _assert_sealed_flat(run_dir, "SIGNAL_SIGXCPU")
    evidence = write_evidence(run_dir)  # the re-run stops where the limit stopped the run
    assert evidence.ok, evidence.problems


def test_a_hangup_stops_the_run_gracefully_though_its_terminal_is_gone(tmp_path: Path) -> None:
    """The terminal closed (an SSH connection dropped): SIGHUP's default action ended the
    process mid-step and left a crashed run. Now it is a graceful stop, reason
    ``SIGNAL_SIGHUP``; the summary and progress bar meant for the dead terminal go nowhere
    instead of failing (EIO), and a second hangup ends nothing. The run verifies."""
    import pty

    run_dir = tmp_path / "hup"
    master, terminal = pty.openpty()
    try:
        with _process(
            _cli("dryrun", "--out", str(tmp_path), "--run-id", "hup", "--steps", _LONG),
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=terminal,
        ) as proc:
            os.close(terminal)
            until("the run to step", lambda: stepping(run_dir), proc)
            os.close(master)  # the terminal hangs up: a write to it now fails (EIO)
            master = -1
            proc.send_signal(signal.SIGHUP)
            proc.send_signal(signal.SIGHUP)
            proc.wait(timeout=_DEADLINE_S)
    finally:
        if master >= 0:
            os.close(master)
    assert proc.returncode == EXIT_OK
    _assert_sealed_flat(run_dir, "SIGNAL_SIGHUP")
    assert holder_of(run_dir) is None


def test_a_process_started_under_nohup_keeps_ignoring_hangups(tmp_path: Path) -> None:
    """``nohup livesession dryrun ...``: the user asked for the run to outlive the terminal."""
    run_dir = tmp_path / "nohup"
    with _process(
        ["nohup", *_cli("dryrun", "--out", str(tmp_path), "--run-id", "nohup", "--steps", _LONG)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    ) as proc:
        until("the run to step", lambda: stepping(run_dir), proc)
        proc.send_signal(signal.SIGHUP)
        steps = _events(run_dir, "BAR")
        until("more steps after the hangup", lambda: stepping(run_dir, len(steps) + 50), proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=_DEADLINE_S)
    assert proc.returncode == EXIT_OK, err
    _assert_sealed_flat(run_dir, "SIGNAL_SIGTERM")


def test_a_second_signal_ends_the_process_at_once_and_resume_finishes_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second SIGTERM during the wind-down kills the process; the run resumes and verifies.

    The first SIGTERM's stop was checkpointed before its wind-down: the resume finishes
    that stop (sealed with its reason, at its step), where it used to trade on to the end.
    """
    run_dir = tmp_path / "twice"
    args = ["dryrun", "--out", str(tmp_path), "--run-id", "twice", "--steps", "6000", "-q"]
    with _process(
        [sys.executable, "-c", SLOW_WINDDOWN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        until("the run to step", lambda: stepping(run_dir), proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "winding down"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=_DEADLINE_S)
    assert proc.returncode == -signal.SIGTERM, "ended by the signal itself"
    assert holder_of(run_dir) is None
    interrupted = verify_run(run_dir)
    assert not interrupted.ok
    assert "incomplete run" in "\n".join(interrupted.render(run_dir))
    assert main(["stop", str(run_dir)]) == EXIT_NOT_HELD
    assert "unfinished" in capsys.readouterr().err
    checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
    assert (checkpoint["fsm_state"], checkpoint["reason"]) == ("STOPPING", "SIGNAL_SIGTERM")
    done = subprocess.run(
        _cli("resume", str(run_dir), "-q"), capture_output=True, text=True, check=False
    )
    assert done.returncode == EXIT_OK, done.stderr
    stop = _audit_stop(run_dir)
    stopped_at = checkpoint["steps"]
    assert stopped_at < 6000
    assert (stop["status"], stop["steps"]) == ("COMPLETED", stopped_at)
    assert stop["reason"] == "SIGNAL_SIGTERM"
    result = verify_run(run_dir)
    assert result.ok, result.render(run_dir)


def test_a_second_signal_after_the_seal_leaves_the_exit_code_to_the_run(tmp_path: Path) -> None:
    """Once the run is sealed, a second SIGTERM (the process still printing, or handing
    alerts to a slow webhook) killed it all the same: exit 143 for a run sealed COMPLETED,
    which sends a supervisor looking for an unfinished run that does not exist."""
    create_run(DryrunConfig(run_id="sealed", steps=20), tmp_path).run_to_end(20)
    unsealed = create_run(DryrunConfig(run_id="open", steps=20), tmp_path)
    unsealed.preflight()  # its audit has no C2_DRYRUN_STOP yet: a second signal ends it
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from livesession.control import SignalControls\n"
        "controls = SignalControls()\n"
        "with controls.installed():\n"
        "    controls.run_dir = Path(sys.argv[1])\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    print(controls.stop_reason)\n"
    )
    for run, code, said in (("sealed", 0, "SIGNAL_SIGTERM\n"), ("open", -signal.SIGTERM, "")):
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / run)],
            capture_output=True, text=True, timeout=_DEADLINE_S, check=False,
        )  # fmt: skip
        assert (done.returncode, done.stdout) == (code, said), (run, done.stderr)
    unsealed.close()


def test_stop_kill_and_ack_act_on_a_live_run(
    live_run: tuple[subprocess.Popen[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """kill trips the kill switch, ack re-enables trading, stop seals; each says what it did."""
    proc, run_dir = live_run
    target = str(run_dir)

    assert main(["kill", target]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"kill switch tripped in pid {proc.pid}" in out
    assert "flat (KILL_SWITCH_FLAT)" in out
    [kill] = _events(run_dir, "KILL_SWITCH")
    assert kill["payload"]["reason"] == "SIGNAL_SIGUSR1"  # type: ignore[index]
    assert _events(run_dir, "KILL_SWITCH_FLAT")

    assert main(["ack", target]) == EXIT_OK
    assert f"trading re-enabled (ACTIVE) by pid {proc.pid}" in capsys.readouterr().out
    [reenabled] = _events(run_dir, "TRADING_REENABLED")
    assert reenabled["payload"]["operator"] == "SIGNAL_SIGUSR2"  # type: ignore[index]

    assert main(["ack", target]) == EXIT_OK
    assert "nothing to acknowledge: the session is DRYRUN_ACTIVE, trading ACTIVE" in (
        capsys.readouterr().out
    )
    assert len(_events(run_dir, "TRADING_REENABLED")) == 1

    assert main(["stop", target]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"stopped: pid {proc.pid} wound down and sealed COMPLETED (SIGNAL_SIGTERM)" in out
    assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK
    _assert_sealed_flat(run_dir, "SIGNAL_SIGTERM")

    assert main(["stop", target]) == EXIT_OK  # stopped already
    assert "is stopped already: sealed COMPLETED (SIGNAL_SIGTERM)" in capsys.readouterr().out
    for verb in ("kill", "ack"):
        assert main([verb, target]) == EXIT_NOT_HELD
        err = capsys.readouterr().err
        assert f"nothing holds {run_dir}: sealed COMPLETED (SIGNAL_SIGTERM)" in err

    # The evidence's re-run takes the same actions at the same steps, and matches.
    evidence = write_evidence(run_dir)
    assert evidence.ok, evidence.problems
    determinism = orjson.loads(evidence.manifest.read_bytes())["determinism"]
    assert determinism["status"] == "match"
    assert [action.split("(")[0] for action in determinism["operator_actions"]] == [
        "kill",
        "reenable_trading",
        "request_stop",
    ]


def test_controls_send_nothing_to_a_holder_that_is_not_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run held by another kind of process (an embedding app) is not signalled: exit 3."""
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "app", "--steps", "20", "-q"]) == 0
    run_dir = tmp_path / "app"
    with held_by_a_child(run_dir, "myapp dryrun") as app:
        for verb in ("kill", "ack", "stop"):
            assert main([verb, str(run_dir), "--timeout", "1"]) == EXIT_REJECTED
            err = capsys.readouterr().err
            assert "is not `livesession dryrun` or `resume`" in err
            assert "nothing was sent" in err
            assert app.poll() is None, f"{verb} signalled a process without handlers"


def test_the_library_installs_no_handlers_and_the_cli_puts_them_back(tmp_path: Path) -> None:
    """Embedding apps keep their own signal handling; an in-process CLI run restores it."""
    watched = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)
    before = {s: signal.getsignal(s) for s in watched}
    cfg = DryrunConfig(run_id="lib", steps=10, clock_mode="sim")
    with LiveSessionOrchestrator(cfg) as session:
        session.run_to_end(10)
    assert {s: signal.getsignal(s) for s in watched} == before
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "cli", "--steps", "10", "-q"]) == 0
    assert {s: signal.getsignal(s) for s in watched} == before


def test_a_stop_sealed_as_its_reason_says_so_in_the_seal(tmp_path: Path) -> None:
    """request_stop(reason, sealed_as=True) carries the reason into the result and the seal;
    the default keeps today's records (the reason stays on the STOPPING transition only)."""
    for run_id, sealed_as, expected in (("plain", False, ""), ("sig", True, "SIGNAL_SIGTERM")):
        session = create_run(DryrunConfig(run_id=run_id, steps=10, clock_mode="sim"), tmp_path)
        with session:
            assert session.preflight()
            session.activate()
            session.run_n_steps(3)
            session.request_stop("SIGNAL_SIGTERM", sealed_as=sealed_as)
            assert session.state.value == "STOPPED"
            assert session.result().reason == expected
        assert _audit_stop(tmp_path / run_id).get("reason", "") == expected


def test_os_kill_is_only_sent_after_the_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With nothing holding the run, no signal goes anywhere (not even to a stale pid)."""
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "done", "--steps", "20", "-q"]) == 0
    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    assert main(["kill", str(tmp_path / "done")]) == EXIT_NOT_HELD
    assert sent == []
    assert "nothing holds" in capsys.readouterr().err


def _processes_naming(text: str) -> list[int]:
    """The pids whose command line holds ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc for the re-run process")
def test_sigterm_ends_evidence_and_its_rerun_leaves_nothing(tmp_path: Path) -> None:
    """SIGTERM on `evidence` mid re-run: exit 143, the re-run process and its scratch
    directory gone, no manifest or document half-written (it left both behind before)."""
    runs = tmp_path / "runs"
    args = ["dryrun", "--out", str(runs), "--run-id", "ev", "--steps", "60000", "-q"]
    assert main([*args, "--durability", "none"]) == EXIT_OK
    run_dir = runs / "ev"
    before = sorted(p.name for p in run_dir.iterdir())
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    with _process(  # killed, its pipes closed, if the test fails before it ends
        _cli("evidence", str(run_dir)),
        env={**os.environ, "TMPDIR": str(scratch_root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        until("the re-run to start", lambda: any(scratch_root.glob("livesession-replay-*")), proc)
        (scratch,) = scratch_root.glob("livesession-replay-*")
        until("the re-run process", lambda: bool(_processes_naming(str(scratch))), proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=_DEADLINE_S)
    assert proc.returncode == 143, err
    assert err == "livesession: terminated\n"
    assert out == ""
    assert list(scratch_root.iterdir()) == []
    assert _processes_naming(str(scratch)) == []
    assert sorted(p.name for p in run_dir.iterdir()) == before


# A strategy that forks a multiprocessing pool on bar 10, uses it, and terminates it on bar
# 15: the pool's workers are forked while the run's signal handlers are in place.
_POOLED = """
import multiprocessing
import time


_STARTED = multiprocessing.get_context("fork").Event()  # made before the fork: shared


def _square(x):
    return x * x


def _busy():
    _STARTED.set()
    time.sleep(600)  # until terminated


class Pooled:
    def __init__(self, *, strategy_id):
        self.strategy_id = strategy_id
        self.bars = 0
        self.pool = None

    def on_bar(self, bar, view):
        self.bars += 1
        if self.bars == 10:
            self.pool = multiprocessing.get_context("fork").Pool(2)
        if self.pool is not None:
            assert self.pool.map(_square, range(4)) == [0, 1, 4, 9]
        if self.bars == 15:
            self.pool.apply_async(_busy)  # a worker busy when terminated
            assert _STARTED.wait(30)
            self.pool.terminate()  # SIGTERM to each worker
            self.pool.join()
            self.pool = None
        return []

    def get_state(self):
        return {"bars": self.bars}

    def set_state(self, state):
        self.bars = state["bars"]


def make(*, strategy_id):
    return Pooled(strategy_id=strategy_id)
"""

_POOLED_API = """
import sys
from pathlib import Path
from livesession import create_run, load_config

cfg = load_config(Path(sys.argv[1]), {"run_id": "api"})
with create_run(cfg, Path(sys.argv[2])) as session:
    print(session.run_to_end(cfg.steps).status.value)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
@pytest.mark.parametrize("how", ["cli", "api"])
def test_a_pool_a_strategy_forks_terminates_instead_of_hanging(tmp_path: Path, how: str) -> None:
    """Forked workers inherited the run's SIGTERM handler (the CLI's, or the one
    run_to_end installs), which only sets a flag: ``pool.terminate()`` could not end them
    and the run hung in ``join`` for good. In a forked child the signal now takes its
    default action."""
    (tmp_path / "poolpkg").mkdir()
    (tmp_path / "poolpkg" / "__init__.py").write_text("")
    (tmp_path / "poolpkg" / "pooled.py").write_text(_POOLED)
    config = tmp_path / "desk.toml"
    config.write_text('steps = 40\nstrategy_factory = "poolpkg.pooled:make"\n')
    out = tmp_path / "runs"
    if how == "cli":
        command = ["-m", "livesession.cli", "dryrun", "-c", str(config), "--out", str(out)]
        command += ["--run-id", "cli", "-q"]
    else:
        (tmp_path / "app.py").write_text(_POOLED_API)
        command = [str(tmp_path / "app.py"), str(config), str(out)]
    done = subprocess.run(
        [sys.executable, *command], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert verify_run(out / how).ok


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_child_forked_under_a_handler_of_ours_starts_with_the_default_action() -> None:
    """A pool worker sent SIGTERM just as it entered a blocking call (waiting for its
    queue's lock, which ``terminate`` holds) never ran the Python handler that would have
    given the signal its default action: the worker lived on and ``terminate`` waited for
    it for good (the pool test above hung in about one run in twelve under load). A forked
    child now starts with the default action, so the signal ends it wherever it waits."""
    from livesession._support.signals import ours

    before = signal.signal(signal.SIGTERM, ours(lambda *_: None))
    try:
        read, write = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork beside pytest's threads
            pid = os.fork()
        if pid == 0:  # the child: say what SIGTERM does here, and go
            default = signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
            os.write(write, b"default" if default else b"a handler")
            os._exit(0)
        os.close(write)
        said = os.read(read, 64)
        os.close(read)
        os.waitpid(pid, 0)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert said == b"default"


class _StuckBroker(MockBroker):
    """A venue that never confirms a cancel, slow to fill: a wind-down cannot finish."""

    kind = "stuck"
    simulated = True

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        return None


def test_stop_says_a_failed_wind_down_left_exposure(tmp_path: Path) -> None:
    """`stop` said "wound down and sealed FAILED (STOP_INCOMPLETE)" when the wind-down had
    failed and left a position and an order open: it now says what is still open and what to
    do, and exits 4 (failed)."""
    cfg = DryrunConfig(run_id="stuck", steps=2000, stop_max_polls=1)
    broker = _StuckBroker(fill_model=FillModel(latency_ns=240 * 10**9))
    with create_run(cfg, tmp_path, broker=broker) as session:
        assert session.preflight()
        session.activate()
        while not any(session.book.positions.values()):
            session.step()
        session.request_stop("SIGNAL_SIGTERM", sealed_as=True)
    run_dir = tmp_path / "stuck"
    watch = RunWatch(run_dir)
    holder = holder_of(run_dir)
    assert holder is None  # as after the stopped process released the run
    outcome = control._stopped(watch, types.SimpleNamespace(pid=4242), "pid 4242")  # type: ignore[arg-type]
    assert outcome is not None
    assert outcome.kind == "failed"
    assert "wound down" not in outcome.line
    assert outcome.line.startswith("stopped: pid 4242 sealed FAILED (STOP_INCOMPLETE)")
    assert "the wind-down did not finish: the book still holds 1 open order(s), position " in (
        outcome.line
    )
    assert "check the venue's own open orders and positions and close what is still" in (
        outcome.line
    )


def test_kill_says_how_many_orders_the_venue_cancelled(tmp_path: Path) -> None:
    """`kill` said "1 open order(s) cancelled, not flat yet" of a kill whose cancel the
    venue never confirmed (a sandbox answering every cancel with a 503: the order stayed
    open there, and the run ended STOP_INCOMPLETE): it now says how many were cancelled."""

    def stop(session: LiveSessionOrchestrator) -> None:
        session.step()
        session.request_stop("SIGNAL_SIGTERM", sealed_as=True)

    outcome = _killed_not_flat(tmp_path, "stuck-kill", stop)
    # Not "done" (exit 0) with "`livesession ack` re-enables trading" for a process that
    # ended not flat: exit 9 (the effect showed, but not flat), and where to look.
    assert outcome.kind == "timeout"
    assert outcome.line == (
        "kill switch tripped in pid 4242: trading HALTED, 1 open order(s) at the kill, "
        "0 cancelled, not flat when it ended: check the venue's own open orders and positions"
    )


def test_a_kill_confirmed_after_the_run_sealed_points_at_no_ack(tmp_path: Path) -> None:
    """Two terminals, `kill` and `stop` at once: the process took both at one boundary,
    tripped the kill switch (flat), then wound down and sealed; `kill`, reading after the
    seal, said "`livesession ack DIR` re-enables trading", of a run nothing holds any more
    (`ack` then exits 8). It says how the run ended instead."""
    cfg = DryrunConfig(run_id="ks", steps=20, checkpoint_every=5)
    run_dir = tmp_path / "ks"
    with create_run(cfg, tmp_path) as session:
        assert session.preflight()
        session.activate()
        watch = RunWatch(run_dir)
        watch.mark()  # the kill command, before it signals
        assert session.kill("SIGNAL_SIGUSR1")
        session.request_stop("SIGNAL_SIGTERM", sealed_as=True)
    outcome = control._killed(watch, types.SimpleNamespace(pid=4242), "pid 4242")  # type: ignore[arg-type]
    assert outcome is not None
    assert outcome.kind == "done"
    assert outcome.line == (
        "kill switch tripped in pid 4242: trading HALTED, 0 open order(s) at the kill, "
        "0 cancelled, flat (KILL_SWITCH_FLAT); then pid 4242 ended: sealed COMPLETED "
        "(SIGNAL_SIGTERM) after 0 steps"
    )


def test_kill_does_not_call_orders_that_filled_first_cancelled(tmp_path: Path) -> None:
    """`kill` said "1 open order(s) cancelled, flat" of a kill whose open order was a market
    order already executed at the venue (its fill on its way, 30 s late): the cancel found it
    not open there, it filled, and the kill's flatten sold what it bought; nothing was
    cancelled. Found killing a strategy's run on the realish venue, whose every order is
    open for its latency. It now says how many were open at the kill and how many the venue
    cancelled, as it does of a kill that ended not flat."""
    cfg = DryrunConfig(run_id="filled-first", strategy_id="scripted", steps=200, checkpoint_every=5)
    strategy = ScriptedStrategy(at({3: [buy("0.010")]}))
    broker = MockBroker(fill_model=FillModel(latency_ns=30 * 10**9))
    run_dir = tmp_path / "filled-first"
    feed = ScriptedFeed(["40000.00"] * 200)
    with create_run(cfg, tmp_path, broker=broker, strategy=strategy, feed=feed) as session:
        assert session.preflight()
        session.activate()
        while not session.book.open_orders:
            session.step()
        watch = RunWatch(run_dir)
        watch.mark()  # the kill command, before it signals
        assert session.kill("SIGNAL_SIGUSR1")
        while not _events(run_dir, "KILL_SWITCH_FLAT"):
            session.step()
        session.step()  # the checkpoint that holds the kill comes at a later step
        while not watch.checkpointed("KILL_SWITCH"):
            session.step()
        assert _events(run_dir, "KILL_SWITCH")[0]["payload"]["open_orders"] == 1  # type: ignore[index]
        assert not _events(run_dir, "ORDER_CANCELED")  # it filled: nothing was cancelled
        outcome = control._killed(watch, types.SimpleNamespace(pid=4242), "pid 4242")  # type: ignore[arg-type]
    assert outcome is not None
    assert outcome.kind == "done"
    assert outcome.line == (
        "kill switch tripped in pid 4242: trading HALTED, 1 open order(s) at the kill, "
        "0 cancelled, flattened SELL 0.010 BTC/USDT, flat (KILL_SWITCH_FLAT); `livesession ack "
        f"{run_dir}` re-enables trading"
    )


class _KilledInWindDown(FaultBroker):
    """A venue whose first cancel comes with the operator's SIGUSR1 (``kill``): the kill
    reaches the process as its run's end winds down, where no step boundary follows."""

    simulated = True

    def __init__(self, on_kill: Callable[[int, Any], None]) -> None:
        super().__init__()
        self._on_kill: Callable[[int, Any], None] | None = on_kill
        self.killed_at_cancel = False

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        if self._on_kill is not None:
            self._on_kill(signal.SIGUSR1, None)  # as the handler is called
            self._on_kill = None
            self.killed_at_cancel = True
        super().cancel(client_order_id, now_ns)


def test_a_kill_that_came_as_the_run_wound_down_is_answered(tmp_path: Path) -> None:
    """Bug: `kill` of a run winding down (a stop's, or its end's; a slow venue) said
    ``pid N ended first: sealed COMPLETED (...)`` and exited 8, "nothing holds the run",
    though the process held it when the kill came: it took the signal, no step boundary
    followed to act on it, and it sealed without a word. The process answers it after the
    seal now (nothing to do: the session is STOPPED), and `kill` says so (exit 0)."""
    controls = control.SignalControls()
    cfg = DryrunConfig(run_id="wd", strategy_id="scripted", steps=3)
    limit = {"order_type": OrderType.LIMIT, "limit_price": Decimal("38500.00")}
    strategy = ScriptedStrategy(at({1: [buy("0.010", **limit)]}))  # rests to the end
    broker = _KilledInWindDown(controls._on_kill)
    run_dir = tmp_path / "wd"
    feed = ScriptedFeed(["40000.00"] * 3)
    with create_run(cfg, tmp_path, broker=broker, strategy=strategy, feed=feed) as session:
        watch = RunWatch(run_dir)
        watch.mark()  # the kill command, before it signals
        watch.sent_ns = time.monotonic_ns()
        with _cli_runs._session_log(run_dir, "info", cfg.run_id):
            result = _cli_runs._drive(session, 3, lambda _done: None, controls)
    assert result.state is SessionState.STOPPED
    assert broker.killed_at_cancel  # the kill came in the wind-down, as it cancelled
    outcome = control._killed(watch, types.SimpleNamespace(pid=4242), "pid 4242")  # type: ignore[arg-type]
    assert outcome == control.ControlOutcome(
        "nothing", "pid 4242: nothing to do: the session is STOPPED: nothing to kill"
    )


@pytest.mark.broken_run("it leaves a run killed before its seal, as a crash does")
def test_kill_on_a_process_that_died_unsealed_before_flat_says_resume_and_exits_8(
    tmp_path: Path,
) -> None:
    """The process `kill` signalled tripped the kill switch, wrote the checkpoint that holds
    it, and died (SIGKILL) before its venue confirmed the cancels: `kill` said "not flat when
    it ended: check the venue's own open orders and positions", exit 9 (no effect seen in
    time), of a run left unsealed whose resume goes on HALTED and flattens it. Found killing
    the process of a run just after `livesession kill`. Nothing holds the run and it is
    unfinished: exit 8, with the way out, as for a stop."""

    def crash(session: LiveSessionOrchestrator) -> None:  # the kill's checkpoint holds it

        def interrupt(_: object) -> None:
            raise KeyboardInterrupt

        session.step_hooks.append(interrupt)
        with pytest.raises(KeyboardInterrupt):
            session.step()

    outcome = _killed_not_flat(tmp_path, "killed-kill", crash)  # closed unsealed, as a crash
    run_dir = tmp_path / "killed-kill"
    assert outcome.kind == "not_held"
    assert outcome.line.startswith(
        "kill switch tripped in pid 4242: trading HALTED, 1 open order(s) at the kill, "
        "0 cancelled, not flat when it ended, unsealed: a checkpoint holds the kill, so it "
        f"resumes HALTED and flattens: resume it with `livesession resume {run_dir}`"
    )


@pytest.mark.broken_run("it leaves a run killed before its seal, as a crash does")
def test_stop_on_a_process_that_died_unsealed_says_resume_and_exits_8(tmp_path: Path) -> None:
    """The process `stop` signalled died before sealing (killed harder, a crash in the
    wind-down): `stop` exited 4, the code of a run sealed FAILED ("resume has nothing to
    continue"), so a supervisor would not resume it. Nothing holds the run and it is
    unfinished: exit 8, with the way out."""
    from crash_harness import KILLED, Profile, dryrun

    profile = Profile(name="died", seed=3)
    assert dryrun(profile, tmp_path, crash_at="write_events:120").returncode == KILLED
    run_dir = tmp_path / "died"
    outcome = control._stopped(RunWatch(run_dir), types.SimpleNamespace(pid=4242), "pid 4242")  # type: ignore[arg-type]
    assert outcome is not None
    assert outcome.kind == "not_held"
    assert outcome.line == (
        f"pid 4242 ended without sealing {run_dir}: continue it with `livesession resume {run_dir}`"
    )
    from livesession._cli_commands import _CONTROL_EXITS

    assert _CONTROL_EXITS[outcome.kind] == 8


_CTRL_C_WHILE_IMPORTING = """
import os, signal, sys


class _CtrlC:
    # Ctrl-C arrives while the CLI's modules are imported: sent as the import starts.
    def find_spec(self, name, path=None, target=None):
        if name == "livesession._cli_commands":
            os.kill(os.getpid(), signal.SIGINT)
        return None


sys.meta_path.insert(0, _CtrlC())
"""


@pytest.mark.parametrize(
    "command",
    [
        ["-c", "import sys; from livesession.__main__ import main; sys.exit(main())"],
        ["-m", "livesession"],
        ["-m", "livesession.cli"],
    ],
    ids=["console-script", "python-m-livesession", "python-m-livesession.cli"],
)
def test_ctrl_c_while_the_cli_loads_is_one_line_and_130(tmp_path: Path, command: list[str]) -> None:
    """A Ctrl-C in the first tenths of a second (the CLI's imports) printed a traceback of
    some fifty lines; cli.main promises one line and 130. The signal is sent from an import
    hook (a sitecustomize), so the test does not race the clock."""
    (tmp_path / "sitecustomize.py").write_text(_CTRL_C_WHILE_IMPORTING)
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, *command, "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=_DEADLINE_S,
        env=env,
    )
    assert (done.returncode, done.stderr, done.stdout) == (130, "livesession: interrupted\n", "")


def _sigint_ignored() -> None:  # pragma: no cover - runs in the child
    """A shell script's background job (``livesession dryrun ... &``): SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_a_sigint_while_a_background_job_loads_is_not_lost(tmp_path: Path) -> None:
    """A script's background job inherits SIGINT ignored, and the run takes it all the same
    (a graceful stop); one sent while the CLI loaded was ignored, and the run then went on
    to its end (a 1M-step run stepped on for minutes). It ends the command as a Ctrl-C does."""
    (tmp_path / "sitecustomize.py").write_text(_CTRL_C_WHILE_IMPORTING)
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-m", "livesession", "--version"],
        capture_output=True, text=True, check=False, timeout=_DEADLINE_S, env=env,
        preexec_fn=_sigint_ignored,
    )  # fmt: skip
    assert (done.returncode, done.stderr, done.stdout) == (130, "livesession: interrupted\n", "")


def test_a_sigint_the_caller_ignored_ends_a_command_before_its_run_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the CLI loaded and before the run's own handlers are in (the config is read),
    an ignored SIGINT was lost as well; the command now ends by it, and SIGINT is ignored
    again on the way out, as its caller had it."""
    from livesession import _cli_runs

    loaded = _cli_runs.load_config

    def signalled(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)  # the operator's `kill -INT`, as the config is read
        return loaded(*args, **kwargs)

    monkeypatch.setattr(_cli_runs, "load_config", signalled)
    out = tmp_path / "runs"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = main(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "20"])
        after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (code, capsys.readouterr().err) == (130, "livesession: interrupted\n")
    assert after is signal.SIG_IGN
    assert not (out / "r").exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full")
@pytest.mark.parametrize("stream", ["reader-gone", "stdout-full", "stderr-full"])
def test_ctrl_c_while_the_cli_loads_keeps_130_whatever_its_streams(
    tmp_path: Path, stream: str
) -> None:
    """`livesession verify --json DIR | head -c 0` (or `>/dev/full`, `2>/dev/full`) with a
    Ctrl-C while the CLI loaded: the line or the JSON object was refused outside
    `cli.main`'s streams, and a traceback ended it with exit 1. Now 130, as `cli.main`
    takes a refused stream: a reader's leaving unsaid, stdout's refusal said on stderr."""
    (tmp_path / "sitecustomize.py").write_text(_CTRL_C_WHILE_IMPORTING)
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    read, write = os.pipe()
    os.close(read)  # the reader left before the first byte
    with open("/dev/full", "w", encoding="utf-8") as full:  # noqa: PTH123 - a device
        out, err = {
            "reader-gone": (write, subprocess.PIPE),
            "stdout-full": (full, subprocess.PIPE),
            "stderr-full": (subprocess.PIPE, full),
        }[stream]
        done = subprocess.run(
            [sys.executable, "-m", "livesession", "verify", "--json", str(tmp_path)],
            stdout=out, stderr=err, text=True, check=False, timeout=_DEADLINE_S, env=env,
        )  # fmt: skip
    os.close(write)
    assert done.returncode == 130, done.stderr
    if stream == "stderr-full":
        assert orjson.loads(done.stdout) == {"ok": False, "exit_code": 130, "error": "interrupted"}
        return
    said = ["livesession: interrupted"]
    if stream == "stdout-full":
        said.append(
            "livesession: cannot write to stdout (ENOSPC: No space left on device): the rest "
            "of the command's output is lost; its exit code is its own"
        )
    assert done.stderr.splitlines() == said


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_while_the_run_is_created_ends_dryrun_at_once_leaving_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    signum: int,
    code: int,
) -> None:
    """Before the first step there is no boundary to wait for: a big data file's check took
    minutes, the signal was held to its end, and the run then started and sealed 0 steps
    (a second signal left a directory holding only writer.lock). The signal now comes while
    the plug-ins and the data file are opened: dryrun ends by it, and no directory is left."""
    from livesession._rundir import create

    opened = create.open_plugins

    def signalled(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signum)  # the operator, while the data file is checked
        return opened(*args, **kwargs)

    monkeypatch.setattr(create, "open_plugins", signalled)
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "20", "--json"]) == code
    captured = capsys.readouterr()
    name = signal.Signals(signum).name
    said = f"stopped by {name} before the run started: nothing was written"
    assert captured.err == f"livesession: {said}\n"
    assert orjson.loads(captured.out) == {"ok": False, "exit_code": code, "error": said}
    assert not (out / "r").exists()
    assert signal.getsignal(signum) is not None  # the handlers were put back


def test_a_stop_signal_as_the_rerun_starts_leaves_no_scratch_and_no_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGTERM (here its KeyboardInterrupt-like stand-in) that lands in `Rerun.start` after
    the re-run process started but before `start` returned: the caller never held the re-run
    to close it, so the scratch directory and the process were left behind (seen under load
    in CI as a `livesession-replay-*` directory after `evidence` exited 143)."""
    from livesession.evidence import _rerun

    runs = tmp_path / "runs"
    assert main(["dryrun", "--out", str(runs), "--run-id", "ev", "--steps", "50", "-q"]) == EXIT_OK
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    real_open = Path.open

    class StderrFile:  # the re-run's stderr file: the signal lands as `start` closes it
        def __init__(self, path: Path) -> None:
            self._file = real_open(path, "wb")

        def __enter__(self) -> Any:
            return self._file

        def __exit__(self, *exc: object) -> None:
            self._file.close()
            raise KeyboardInterrupt

    monkeypatch.setattr(_rerun.subprocess, "Popen", popen)

    def open_stderr(path: Path, *args: Any, **kwargs: Any) -> Any:
        if path.name == _rerun._STDERR:  # the re-run's own stderr file
            return StderrFile(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_stderr)
    with pytest.raises(KeyboardInterrupt):
        _rerun.Rerun.start(runs / "ev", rerunnable=True, timeout_s=60.0)
    assert list((tmp_path / "tmp").iterdir()) == []
    (process,) = started
    assert process.poll() is not None  # killed and reaped, not left running


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_as_dryrun_json_returns_leaves_the_run_s_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], signum: int
) -> None:
    """Bug: a signal that came as ``dryrun --json`` returned, once its own handlers were put
    back (the summary and the JSON object said), ended it 143 (130 for SIGINT) while the
    one JSON object on stdout said ``"exit_code": 0`` and ``COMPLETED``: a supervisor saw an
    unfinished run that was sealed. After the seal a signal changes nothing (RUNBOOK): the
    exit code is the run's, the one the object says."""
    from livesession.control import SignalControls

    installed = SignalControls.installed

    @contextlib.contextmanager
    def late_signal(self: SignalControls) -> Iterator[SignalControls]:
        with installed(self) as controls:
            yield controls
        os.kill(os.getpid(), signum)  # the CLI's own handlers are gone: main's take it

    monkeypatch.setattr(SignalControls, "installed", late_signal)
    argv = ["dryrun", "--out", str(tmp_path), "--run-id", "late", "--steps", "10", "--json"]
    code = main(argv)
    out, err = capsys.readouterr()
    said = orjson.loads(out)
    assert (code, said["exit_code"], said["status"]) == (EXIT_OK, EXIT_OK, "COMPLETED")
    assert "terminated" not in err
    assert "interrupted" not in err
    assert verify_run(tmp_path / "late").ok


def _killed_not_flat(
    tmp_path: Path, run_id: str, then: Callable[[LiveSessionOrchestrator], None]
) -> control.ControlOutcome:
    """What `kill` says of a run killed with an order open its venue never cancels, ``then``
    done to the session (the kill's effects on the record checked here)."""
    cfg = DryrunConfig(run_id=run_id, steps=2000, stop_max_polls=1)
    broker = _StuckBroker(fill_model=FillModel(latency_ns=240 * 10**9))
    with create_run(cfg, tmp_path, broker=broker) as session:
        assert session.preflight()
        session.activate()
        while not session.book.open_orders:
            session.step()
        session.kill("SIGNAL_SIGUSR1")
        then(session)
    run_dir = tmp_path / run_id
    assert _events(run_dir, "KILL_SWITCH")
    assert not _events(run_dir, "KILL_SWITCH_FLAT")
    outcome = control._killed(RunWatch(run_dir), types.SimpleNamespace(pid=4242), "pid 4242")  # type: ignore[arg-type]
    assert outcome is not None
    return outcome
