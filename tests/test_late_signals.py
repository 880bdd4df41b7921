"""Stop signals at the edges of a CLI process: after its run is sealed, and while it loads.

A scheduler sends SIGTERM when it likes, also in the last moments of a process whose run is
sealed already: while the summary is flushed to a slow reader, while a plug-in's ``atexit``
hook runs, while the interpreter joins threads. Until now such a signal ended the process
by the signal (a shell shows 143: "unfinished") or with ``livesession: terminated`` and 143,
for a run sealed COMPLETED whose ``--json`` object said exit code 0; a supervisor then
resumed a sealed run. The signals are sent by the process to itself at the exact moment (an
``atexit`` hook, a wrapper around the signal handlers' block), so nothing races the clock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest

from livesession.cli import main
from livesession.verify import verify_run

from _helpers import QUIET_STRATEGY

_STOPS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]

_QUIET = QUIET_STRATEGY
"""A strategy that orders nothing: the plug-ins below add only their signal."""

_LATE = f"""
import atexit, os, signal


{_QUIET}

def make(*, strategy_id="late"):
    # A client library's exit hook; the scheduler's signal comes while it runs.
    atexit.register(os.kill, os.getpid(), int(os.environ["LATE_SIGNAL"]))
    return Quiet(strategy_id)
"""

_AFTER_THE_HANDLERS = """
import contextlib, os, signal, sys
from livesession import cli, control

real = control.SignalControls.installed


@contextlib.contextmanager
def then_signalled(self):
    with real(self) as controls:
        yield controls
    # The run's handlers are gone: the summary is still to be flushed, the process to end.
    os.kill(os.getpid(), int(os.environ["LATE_SIGNAL"]))


control.SignalControls.installed = then_signalled
sys.exit(cli.main(sys.argv[1:]))
"""


def _default_stops() -> None:  # pragma: no cover - runs in the child
    """A scheduler's child: every stop signal at its default action (not the suite's)."""
    for signum in _STOPS:
        signal.signal(signum, signal.SIG_DFL)


def _dryrun(
    tmp_path: Path,
    head: list[str],
    signum: int | None,
    *more: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = (os.environ if env is None else env) | (
        {} if signum is None else {"LATE_SIGNAL": str(int(signum))}
    )
    args = ["dryrun", "--out", str(tmp_path / "runs"), "--run-id", "r", "--steps", "20", "--json"]
    return subprocess.run(
        [sys.executable, *head, *args, *more],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
        preexec_fn=_default_stops,
    )


@pytest.mark.parametrize("signum", _STOPS, ids=lambda s: signal.Signals(s).name)
def test_a_stop_signal_while_the_sealed_run_s_process_exits_keeps_its_exit_code(
    tmp_path: Path, signum: int
) -> None:
    """SIGTERM from a plug-in's exit hook ended the process by the signal (-15) after it
    printed ``"exit_code": 0``; SIGINT printed a KeyboardInterrupt from the hook; SIGHUP
    killed it (-1). Now the process ends at once with the run's own code, and says nothing."""
    (tmp_path / "late.py").write_text(_LATE)
    cfg = tmp_path / "late.toml"
    cfg.write_text('strategy_id = "late"\nstrategy_factory = "late:make"\n')
    done = _dryrun(tmp_path, ["-m", "livesession.cli"], signum, "--config", str(cfg))
    assert (done.returncode, done.stderr) == (0, "")
    said = orjson.loads(done.stdout)
    assert (said["exit_code"], said["status"]) == (0, "COMPLETED")


@pytest.mark.parametrize("signum", _STOPS, ids=lambda s: signal.Signals(s).name)
def test_a_stop_signal_after_the_run_s_handlers_are_gone_changes_nothing(
    tmp_path: Path, signum: int
) -> None:
    """Between the run's handlers and the process's end (the summary flushed to a slow
    reader) SIGTERM raised inside the CLI: ``livesession: terminated`` and 143 for a sealed
    run (SIGINT 130, SIGHUP killed it). The sealed run's signals are moot there now."""
    script = tmp_path / "late_cli.py"
    script.write_text(_AFTER_THE_HANDLERS)
    done = _dryrun(tmp_path, [str(script)], signum)
    assert (done.returncode, done.stderr) == (0, "")
    assert orjson.loads(done.stdout)["exit_code"] == 0


def test_main_gives_its_caller_its_own_stop_handlers_back(tmp_path: Path) -> None:
    """A sealed run leaves the stop signals ignored to the end of the command; ``main``
    called in a process of the caller's (an application, this suite) restores them."""

    def mine(_signum: int, _frame: object) -> None:  # pragma: no cover - never sent
        return

    before = {signum: signal.signal(signum, mine) for signum in _STOPS}
    try:
        code = main(["dryrun", "--out", str(tmp_path / "runs"), "--run-id", "r", "-q"])
        after = {signum: signal.getsignal(signum) for signum in _STOPS}
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    assert code == 0
    assert after == dict.fromkeys(_STOPS, mine)


_CTRL_C_IN_AN_EXTENSION_S_INIT = """
import os, signal, sys


class _CtrlC:
    # Ctrl-C while orjson's C extension initialises (it imports these as it starts).
    def find_spec(self, name, path=None, target=None):
        if name in ("datetime", "uuid", "dataclasses", "json") and "orjson" in sys.modules:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None


sys.meta_path.insert(0, _CtrlC())
"""


@pytest.mark.parametrize("as_json", [False, True], ids=["plain", "json"])
def test_ctrl_c_while_a_c_extension_of_the_cli_initialises_is_one_line_and_130(
    tmp_path: Path, as_json: bool
) -> None:
    """The KeyboardInterrupt, raised inside orjson's initialisation, crashed the interpreter
    (SIGSEGV: a shell shows 139, and nothing said why). SIGINT is held while the CLI loads:
    the import finishes, and the Ctrl-C is the one line and 130. The signal comes from an
    import hook (a sitecustomize), so the test does not race the clock."""
    (tmp_path / "sitecustomize.py").write_text(_CTRL_C_IN_AN_EXTENSION_S_INIT)
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    json_flag = ["--json"] if as_json else []
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "verify", str(tmp_path / "none"), *json_flag],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
        preexec_fn=_default_stops,
    )
    assert (done.returncode, done.stderr) == (130, "livesession: interrupted\n")
    expected = '{"error":"interrupted","exit_code":130,"ok":false}\n' if as_json else ""
    assert done.stdout == expected


def test_a_second_ctrl_c_while_the_evidence_re_run_is_cleaned_up_leaves_no_scratch(
    tmp_path: Path,
) -> None:
    """`evidence` stopped by Ctrl-C kills its re-run process and removes its scratch
    directory; a second Ctrl-C meanwhile (a scheduler's SIGINT twice, an impatient operator)
    left ``livesession-replay-*`` behind in the temporary directory. The second now waits
    for the clean-up's end, then interrupts as before."""
    from livesession.evidence._rerun import Rerun

    scratch = tmp_path / "livesession-replay-x"
    (scratch / "replay").mkdir(parents=True)
    (scratch / "replay" / "bars.bin").write_bytes(b"\0" * 64)

    class Ending:
        """The re-run process, running when the first Ctrl-C came."""

        returncode = None

        def poll(self) -> None:
            return None

        def kill(self) -> None:
            return

        def wait(self) -> int:
            os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, while it is stopped
            return -9

    rerun = Rerun(Ending(), scratch, deadline=0.0, timeout_s=1.0)  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        rerun.close()
    assert not scratch.exists()


def test_a_hangup_while_the_run_is_created_exits_with_the_documented_129(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGHUP while `dryrun` opens its plug-ins and data file ends it at once, nothing
    written, with 128 + SIGHUP: a code neither RUNBOOK's table nor `--help` named (they
    gave 130 and 143 only), so a supervisor matching documented codes could not place it."""
    from livesession import cli
    from livesession._rundir import create

    opened = create.open_plugins

    def hung_up(*args: object, **kwargs: object) -> object:
        os.kill(os.getpid(), signal.SIGHUP)  # the terminal closes while the data is checked
        return opened(*args, **kwargs)

    monkeypatch.setattr(create, "open_plugins", hung_up)
    before = signal.signal(signal.SIGHUP, signal.SIG_DFL)  # a terminal's process, not nohup's
    try:
        code = main(["dryrun", "--out", str(tmp_path / "runs"), "--run-id", "r", "--steps", "5"])
    finally:
        signal.signal(signal.SIGHUP, before)
    assert code == cli.EXIT_HANGUP == 129
    assert capsys.readouterr().err == (
        "livesession: stopped by SIGHUP before the run started: nothing was written\n"
    )
    assert not (tmp_path / "runs" / "r").exists()
    runbook = (Path(__file__).parents[1] / "RUNBOOK.md").read_text(encoding="utf-8")
    assert "\n| 129 | hung up (SIGHUP" in runbook
    assert "129 hung up" in " ".join((cli.build_parser().epilog or "").split())


def test_a_ctrl_c_as_the_evidence_re_run_process_starts_leaves_it_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signal inside ``Popen``, after the child existed but before ``Rerun.start`` held
    it, left the re-run process running on its own, unkilled (the suite's SIGTERM test met
    it under load). The signal now waits for the handle; the clean-up kills the child."""
    from livesession.evidence import _rerun

    assert main(["dryrun", "--out", str(tmp_path / "runs"), "--run-id", "r", "--steps", "5"]) == 0
    spawned: list[subprocess.Popen[bytes]] = []
    real = subprocess.Popen

    def signalled(_command: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        child = real([sys.executable, "-c", "import time; time.sleep(60)"], **kwargs)  # type: ignore[call-overload]
        spawned.append(child)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, the child started, its handle not kept
        return child

    monkeypatch.setattr(_rerun.subprocess, "Popen", signalled)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        _rerun.Rerun.start(tmp_path / "runs" / "r", rerunnable=True, timeout_s=60.0)
    [child] = spawned
    try:
        assert child.returncode == -signal.SIGKILL  # killed and reaped by the clean-up
    finally:
        child.kill()
        child.wait()
    assert not list(tmp_path.glob("livesession-replay-*"))


_TEARDOWN = f"""
import os, signal


{_QUIET}

class _Late:
    def __del__(self):  # runs as the interpreter frees the module, after its exit hooks
        os.kill(os.getpid(), int(os.environ["LATE_SIGNAL"]))


_late = _Late()


def make(*, strategy_id="teardown"):
    return Quiet(strategy_id)
"""


@pytest.mark.parametrize("signum", _STOPS, ids=lambda s: signal.Signals(s).name)
def test_a_stop_signal_in_the_interpreter_s_teardown_keeps_the_exit_code(
    tmp_path: Path, signum: int
) -> None:
    """After the exit hooks Python resets its signal handlers to the default action: a stop
    signal while the modules were freed killed the process (-2, -15, -1) after its sealed
    run's ``"exit_code": 0``. The last exit hook now leaves them ignored."""
    (tmp_path / "teardown.py").write_text(_TEARDOWN)
    cfg = tmp_path / "teardown.toml"
    cfg.write_text('strategy_id = "teardown"\nstrategy_factory = "teardown:make"\n')
    done = _dryrun(tmp_path, ["-m", "livesession.cli"], signum, "--config", str(cfg))
    assert (done.returncode, done.stderr) == (0, "")
    assert orjson.loads(done.stdout)["exit_code"] == 0


_LINGERING = f"""
import os, threading

{_QUIET}

class Failing(Quiet):
    def on_bar(self, bar, view):
        raise RuntimeError("alpha blew up")


def make(*, strategy_id="lingers"):
    # A client library's poller, started and never stopped: not a daemon thread.
    threading.Thread(target=threading.Event().wait, name="desk-poller").start()
    return (Failing if os.environ.get("LINGER_FAILS") else Quiet)(strategy_id)
"""


def _dryrun_of(
    tmp_path: Path, name: str, source: str, *, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``dryrun --json`` of 20 steps of the strategy ``NAME:make`` in ``source``; its out."""
    (tmp_path / f"{name}.py").write_text(source)
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(f'strategy_id = "{name}"\nstrategy_factory = "{name}:make"\n')
    done = _dryrun(tmp_path, ["-m", "livesession.cli"], None, "--config", str(cfg), env=env)
    return done, tmp_path / "runs"


@pytest.mark.parametrize(
    ("fails", "code", "status"), [(False, 0, "COMPLETED"), (True, 4, "FAILED")]
)
def test_threads_a_plug_in_left_running_do_not_keep_the_process_from_exiting(
    tmp_path: Path, fails: bool, code: int, status: str
) -> None:
    """Bug: Python waits at exit for every thread that is not a daemon thread, so a
    strategy's poller left running kept ``dryrun`` from ever exiting, its run sealed and its
    result printed. A second after the command ends, one line names the threads and the
    process ends with the run's own code; the run is sealed and verifies."""
    env = os.environ | ({"LINGER_FAILS": "1"} if fails else {})
    # without the watchdog the process never ends: the test fails at the timeout
    done, out = _dryrun_of(tmp_path, "lingers", _LINGERING, env=env)
    lingering = (
        "livesession: threads a plug-in left running ('desk-poller') still ran 1 s after the "
        "command ended (not daemon threads, which Python waits for at exit): exiting with "
        f"code {code} without them\n"
    )
    assert done.returncode == code
    assert done.stderr.endswith(lingering)
    assert done.stderr.count("\n") == 1 + fails  # a failed run's own line, then this one
    said = orjson.loads(done.stdout)
    assert (said["exit_code"], said["status"]) == (code, status)
    assert verify_run(out / "r").ok


_CHATTY = f"""
import os, threading, time

{_QUIET}


def _poll():
    while True:  # a client library's poller that logs by print, never stopped
        print("poller: tick", flush=True)
        os.write(1, b"poller: below Python\\n")
        time.sleep(0.005)


def make(*, strategy_id="chatty"):
    threading.Thread(target=_poll, name="desk-poller").start()  # not a daemon thread
    return Quiet(strategy_id)
"""


def test_a_thread_a_plug_in_left_printing_never_writes_after_the_json_object(
    tmp_path: Path,
) -> None:
    """Bug: with ``--json`` a plug-in's print goes to stderr while the command runs, but a
    thread it left running (a poller that prints) wrote to stdout once the command was done,
    after the one JSON object, while the process waited for it at exit: stdout was no longer
    one JSON object. In the ``livesession`` process stdout now stays aside to the end."""
    done, out = _dryrun_of(tmp_path, "chatty", _CHATTY)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()  # the one object, and nothing the poller printed
    assert orjson.loads(line)["status"] == "COMPLETED"
    assert "poller: tick\n" in done.stderr
    assert "poller: below Python\n" in done.stderr
    assert verify_run(out / "r").ok


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full")
@pytest.mark.parametrize("stderr", ["full", "reader-gone"])
def test_threads_left_running_with_a_refused_stderr_do_not_hang_the_exit(
    tmp_path: Path, stderr: str
) -> None:
    """Bug: with stderr on a full device (or read by a reader that had left), the exit
    watchdog's thread died on its line before it ended the process, and the process then
    waited for the plug-in's thread for ever, its run sealed. It ends with the run's code."""
    (tmp_path / "lingers.py").write_text(_LINGERING)
    cfg = tmp_path / "lingers.toml"
    cfg.write_text('strategy_id = "lingers"\nstrategy_factory = "lingers:make"\n')
    out = tmp_path / "runs"
    args = ["dryrun", "--config", str(cfg), "--out", str(out), "--run-id", "r", "--steps", "20"]
    read, write = os.pipe()
    os.close(read)  # the reader left before the first byte
    with open("/dev/full", "w", encoding="utf-8") as full:  # noqa: PTH123 - a device
        done = subprocess.run(
            [sys.executable, "-m", "livesession.cli", *args, "--json"],
            stdout=subprocess.PIPE,
            stderr=full if stderr == "full" else write,
            text=True,
            check=False,
            timeout=120,  # without the fix the process never ends: the test fails here
            preexec_fn=_default_stops,
        )
    os.close(write)
    assert done.returncode == 0
    assert orjson.loads(done.stdout)["status"] == "COMPLETED"
    assert verify_run(out / "r").ok


def test_a_run_is_held_until_its_session_is_closed(tmp_path: Path) -> None:
    """What the exit's watchdog asks before it ends the process without the threads: a run
    still open (its files not all closed) is waited for instead."""
    from livesession import DryrunConfig, create_run
    from livesession._rundir.session import runs_held

    session = create_run(DryrunConfig(run_id="held", steps=5), tmp_path / "runs")
    assert runs_held() == [tmp_path / "runs" / "held"]
    session.run_to_end(5)
    assert runs_held() == []


_AT_THE_SEAL = f"""
import os


{_QUIET}

class AtTheSeal(Quiet):
    # The session asks for the strategy's state as it closes after its last step (its
    # stop's checkpoint, then the seal's): the signal comes there, once.
    bars = 0
    sent = False

    def on_bar(self, bar, view):
        self.bars += 1
        return ()

    def get_state(self):
        if self.bars == 20 and not self.sent:
            self.sent = True
            os.kill(os.getpid(), int(os.environ["LATE_SIGNAL"]))
            open(os.path.join(os.path.dirname(__file__), "signalled"), "w").close()  # it came
        return {{}}

def make(*, strategy_id="seal"):
    return AtTheSeal(strategy_id)
"""


@pytest.mark.parametrize("signum", [*_STOPS, signal.SIGXCPU], ids=lambda s: signal.Signals(s).name)
def test_a_stop_signal_after_the_last_step_as_the_run_is_sealed_leaves_it_sealed(
    tmp_path: Path, signum: int
) -> None:
    """A stop (a scheduler's SIGTERM, the CPU-time limit's SIGXCPU) that comes after the
    last step, while the session winds down and seals on its own: nothing is left
    unsealed, the run is COMPLETED as it ran (no signal's reason: it stopped nothing) and
    no line claims a stop by the signal. (A second one there would end the process at once,
    as any second stop signal in a wind-down does.)"""
    (tmp_path / "seal.py").write_text(_AT_THE_SEAL)
    cfg = tmp_path / "seal.toml"
    cfg.write_text('strategy_id = "seal"\nstrategy_factory = "seal:make"\n')
    done = _dryrun(tmp_path, ["-m", "livesession.cli"], signum, "--config", str(cfg))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    said = orjson.loads(done.stdout)
    assert (said["exit_code"], said["status"], said["steps"]) == (0, "COMPLETED", 20)
    assert said["reason"] == "", said
    assert verify_run(tmp_path / "runs" / "r").ok
    assert (tmp_path / "signalled").exists()
