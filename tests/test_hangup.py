"""SIGHUP to a command that is not running a session: one line, 129, its clean-up done.

The terminal closing, an SSH connection dropping, or a supervisor's ``kill -HUP`` killed
``verify``, ``evidence``, ``report``, ``status``, ``list`` or a ``stop`` waiting for its
effect by the signal's default action: a shell showed 129 and the log held no line at all,
where SIGTERM said ``livesession: terminated`` (143) and Ctrl-C ``interrupted`` (130). Now
SIGHUP ends each as SIGTERM does: ``livesession: hung up`` (with ``--json`` the error
object), 129, the evidence's re-run process and scratch directory gone. Under ``nohup``
(SIGHUP ignored) the command runs on to its end.

Each child sends the signal to itself at the exact moment (a patched step of the command),
so nothing races the clock.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from _childscripts import SLOW_WINDDOWN
from livesession.cli import main
from livesession.verify import verify_run

from _helpers import as_pid_1, pid_1_of, running_as_pid_1, stepping, until

_HUNG_UP = {"ok": False, "exit_code": 129, "error": "hung up"}

_HANG_UP_IN = """
import os, signal, sys
import {module} as where
from livesession import cli

real = where.{name}


def hung_up(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGHUP)  # the terminal closes as the command works
    return real(*args, **kwargs)


where.{name} = hung_up
sys.exit(cli.main(sys.argv[1:]))
"""


def _stops_default() -> None:  # pragma: no cover - runs in the child
    """A terminal's or a scheduler's child: SIGHUP and SIGTERM at their default action."""
    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def _nohup() -> None:  # pragma: no cover - runs in the child
    """``nohup``'s child: SIGHUP ignored."""
    _stops_default()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


@pytest.fixture(name="run", scope="module")
def _run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hangup")
    assert main(["dryrun", "--out", str(out), "--run-id", "done", "--steps", "60", "-q"]) == 0
    return out / "done"


def _hung_up_in(
    tmp_path: Path, module: str, name: str, *args: str, nohup: bool = False
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "hang_up.py"
    script.write_text(_HANG_UP_IN.format(module=module, name=name))
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=os.environ | {"TMPDIR": str(scratch)},
        preexec_fn=_nohup if nohup else _stops_default,
    )


@pytest.mark.parametrize("as_json", [False, True], ids=["plain", "json"])
def test_verify_hung_up_says_so_and_exits_129(run: Path, tmp_path: Path, as_json: bool) -> None:
    json_flag = ["--json"] if as_json else []
    done = _hung_up_in(tmp_path, "livesession.verify", "verify_run", "verify", str(run), *json_flag)
    assert (done.returncode, done.stderr) == (129, "livesession: hung up\n")
    assert done.stdout == ('{"error":"hung up","exit_code":129,"ok":false}\n' if as_json else "")


def test_evidence_hung_up_ends_its_re_run_and_leaves_nothing(run: Path, tmp_path: Path) -> None:
    """SIGHUP while the run is verified, its determinism re-run running in a second process:
    the re-run is ended, its scratch directory removed, and no bundle half written."""
    out = tmp_path / "evidence"
    done = _hung_up_in(
        tmp_path, "livesession.evidence", "verify_run", "evidence", str(run), "--out", str(out)
    )
    assert (done.returncode, done.stderr) == (129, "livesession: hung up\n")
    assert list((tmp_path / "tmp").iterdir()) == []  # no livesession-replay-* left
    assert not out.exists()


def test_under_nohup_a_hangup_changes_nothing(run: Path, tmp_path: Path) -> None:
    done = _hung_up_in(
        tmp_path, "livesession.verify", "verify_run", "verify", str(run), "--json", nohup=True
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert orjson.loads(done.stdout)["ok"] is True


def test_a_stop_cut_by_a_hangup_says_its_signal_stands_and_exits_129(tmp_path: Path) -> None:
    """A ``stop`` waiting for its effect, its terminal closing: the line says what it sent."""
    from livesession._cli_signals import HungUp, Terminated
    from livesession._control_wait import cut_after, ended_as
    from livesession._rundir.lock import Holder

    holder = Holder(pid=4242, host="here", since="2026-01-01T00:00:00Z", command="dryrun")
    with pytest.raises(Terminated) as cut, cut_after("sent SIGTERM to pid 4242", holder, tmp_path):
        raise HungUp
    said, code = ended_as(cut.value)
    assert code == 129
    assert said.startswith("hung up: sent SIGTERM to pid 4242 before this command stopped")


def test_main_gives_its_caller_its_sighup_disposition_back(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``main`` in a process of the caller's (an application, this suite) puts back the
    SIGHUP disposition it found, as it does SIGTERM's."""
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        code = main(["verify", str(run)])
        after = signal.getsignal(signal.SIGHUP)
    finally:
        signal.signal(signal.SIGHUP, before)
    assert code == 0
    assert after is signal.SIG_IGN
    assert capsys.readouterr().out.startswith("OK ")


_SIGNAL_WHILE_IMPORTING = """
import os, signal, sys


class _Signal:
    # The supervisor's signal arrives while the CLI's modules are imported.
    def find_spec(self, name, path=None, target=None):
        if name == "livesession._cli_commands":
            os.kill(os.getpid(), int(os.environ["LOAD_SIGNAL"]))
        return None


sys.meta_path.insert(0, _Signal())
"""


def _loading_signalled(tmp_path: Path, signum: int, *head: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "sitecustomize.py").write_text(_SIGNAL_WHILE_IMPORTING)
    path = os.pathsep.join([str(tmp_path), *sys.path])
    args = ["dryrun", "--out", str(tmp_path / "runs"), "--run-id", "r", "--steps", "300"]
    return subprocess.run(
        [*head, sys.executable, "-m", "livesession", *args, "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=os.environ | {"PYTHONPATH": path, "LOAD_SIGNAL": str(int(signum))},
        preexec_fn=_stops_default,
    )


@pytest.mark.parametrize(
    ("signum", "said"),
    [(signal.SIGTERM, "terminated"), (signal.SIGHUP, "hung up")],
    ids=["SIGTERM", "SIGHUP"],
)
def test_a_signal_while_the_cli_loads_is_one_line_and_its_code(
    tmp_path: Path, signum: int, said: str
) -> None:
    """SIGTERM or SIGHUP in the CLI's first tenths of a second ended it with no line (a
    shell showed 143 / 129), where one a moment later says ``livesession: terminated``."""
    done = _loading_signalled(tmp_path, signum)
    assert (done.returncode, done.stderr) == (128 + signum, f"livesession: {said}\n")
    assert not (tmp_path / "runs").exists()


def test_a_sigterm_while_the_cli_loads_as_pid_1_is_not_lost(tmp_path: Path) -> None:
    """A container's first process (``docker run IMAGE livesession dryrun``, no init): the
    kernel drops a signal whose action is the default one, so a ``docker stop`` while the
    CLI loaded was lost, and the run went on to its end (or to the SIGKILL that follows)."""
    done = _loading_signalled(tmp_path, signal.SIGTERM, *as_pid_1())
    assert (done.returncode, done.stderr) == (143, "livesession: terminated\n")
    assert not (tmp_path / "runs").exists()


def _line_of(proc: subprocess.Popen[str], bound_s: float = 120.0) -> str:
    """The next line ``proc`` prints, or "" if none comes in ``bound_s`` (a bound on a hang)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], bound_s)
    return proc.stdout.readline().strip() if ready else ""


def test_a_second_sigterm_as_pid_1_ends_the_process_at_once(tmp_path: Path) -> None:
    """A second SIGTERM in the wind-down ends the process at once, by its default action;
    as a container's first process the kernel dropped it, and the process wound down on
    (each further SIGTERM dropped too). It now exits 143 there, the run resumable."""
    run_dir = tmp_path / "twice"
    args = ["dryrun", "--out", str(tmp_path), "--run-id", "twice", "--steps", "1000000", "-q"]
    with running_as_pid_1([sys.executable, "-c", SLOW_WINDDOWN, *args]) as proc:
        until("the run to step", lambda: stepping(run_dir), proc)
        first = pid_1_of(proc.pid)  # signalled as a container's runtime signals it
        os.kill(first, signal.SIGTERM)
        assert _line_of(proc) == "winding down"
        os.kill(first, signal.SIGTERM)
        proc.wait(timeout=120)
    assert proc.returncode == 143
    assert not verify_run(run_dir).ok  # left at its last checkpoint
    assert main(["resume", str(run_dir), "-q"]) == 0  # which finishes the stop it holds
    assert verify_run(run_dir).ok


def test_a_hangup_between_the_evidence_renames_leaves_the_whole_new_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGHUP (which now raises, as SIGTERM does) as the bundle's manifest is renamed
    into place waits for its EV document: never a new manifest beside an old document."""
    from livesession._cli_signals import HungUp, signals_end_commands
    from livesession._support.fsutil import atomic_write_set

    manifest, document = tmp_path / "manifest.json", tmp_path / "EV.md"
    manifest.write_bytes(b"old manifest")
    document.write_bytes(b"old document")
    real = Path.replace

    def replace_then_hang_up(self: Path, target: Path) -> Path:
        done = real(self, target)
        if Path(target) == manifest:
            os.kill(os.getpid(), signal.SIGHUP)  # delivered at the next bytecode
        return done

    monkeypatch.setattr(Path, "replace", replace_then_hang_up)
    before = signal.signal(signal.SIGHUP, signal.SIG_DFL)  # a terminal's, not nohup's
    try:
        with pytest.raises(HungUp), signals_end_commands():
            atomic_write_set([(manifest, b"new manifest"), (document, b"new document")])
    finally:
        signal.signal(signal.SIGHUP, before)
    assert (manifest.read_bytes(), document.read_bytes()) == (b"new manifest", b"new document")
