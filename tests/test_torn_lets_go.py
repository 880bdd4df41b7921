"""A torn session lets go of its run at once, and never writes to it again.

A session is torn when an interrupt (two Ctrl-Cs within one step, a ``KeyboardInterrupt``
a plug-in raised) or an error it cannot handle (a store that refused a write) leaves a step
half done. It takes no step after that, and its run is a crash to resume. But an
application or a notebook that kept the torn object (``s`` after ``s.run_n_steps(...)``
was interrupted) kept the run's writer lock with it, until ``close()`` or the garbage
collection: ``livesession status`` said ``running (exit 7)``, "poll again later", for as
long as the process lived, ``livesession resume`` and ``resume_run`` were refused as held,
and ``result().status`` said ``RUNNING``. Now the torn session closes its files as it is
torn, without the lines its sinks held (lost, as in a crash), and lets go of the lock:
``status`` says ``crashed``, ``resume`` goes on at once, and whatever the torn object is
asked later (``close``, ``step``, a verb, ``result``, its garbage collection) writes
nothing. The run resumed meanwhile ends with the bytes of a run killed (SIGKILL) at the
same point and resumed.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import pytest

from livesession import (
    DryrunConfig,
    LiveSessionError,
    LiveSessionOrchestrator,
    SessionStatus,
    VerbOutcome,
    create_run,
    load_config,
    resume_run,
    verify_run,
)
from livesession._artifacts import names
from test_interrupts import _SignalsItself

from _helpers import until
from crash_harness import KILLED, cli

if TYPE_CHECKING:
    from pathlib import Path

STEPS = 250
CONFIG = 'run_id = "r"\nsteps = 250\n'
LET_GO = "it let go of its run, unsealed, and writes nothing more"


def _files(run_dir: Path) -> dict[str, bytes]:
    """Every file of the run and its bytes (the session log, timings and locks too)."""
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}


def _status(run_dir: Path) -> subprocess.CompletedProcess[str]:
    """``livesession status RUN_DIR`` from another process, as an operator's terminal."""
    return subprocess.run(
        [sys.executable, "-m", "livesession.cli", "status", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _interrupt_at_event(session: LiveSessionOrchestrator, n: int) -> None:
    """``KeyboardInterrupt`` as the session is about to write its ``n``-th event (in a step)."""
    recorder = session.recorder
    emit = recorder.emit
    count = 0

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        if count == n:
            recorder.emit = emit  # type: ignore[method-assign]
            raise KeyboardInterrupt
        return emit(*args, **kwargs)

    recorder.emit = interrupted  # type: ignore[method-assign]


def _said_torn(session: LiveSessionOrchestrator) -> None:
    """Every call on the torn session says it is torn, and refuses or does nothing."""
    assert LET_GO in session.result().torn
    assert session.result().status is SessionStatus.RUNNING  # its last; ``torn`` says why
    assert "torn by KeyboardInterrupt" in repr(session)
    with pytest.raises(LiveSessionError, match=LET_GO):
        session.step()
    for verb in (session.kill, session.request_stop, session.reduce_only):
        result = verb()
        assert result.outcome is VerbOutcome.NOT_APPLICABLE
        assert LET_GO in result.message


def _crashed_while_it_lives(run_dir: Path) -> None:
    status = _status(run_dir)
    assert status.returncode == 6, status.stdout + status.stderr
    assert "crashed (exit 6)" in status.stdout
    assert "resumable   yes" in status.stdout
    assert "writer      none" in status.stdout


_KILLED_AT = """
import sys
from livesession import create_run, load_config
session = create_run(load_config(sys.argv[1]), sys.argv[2])
session.preflight()
session.activate()
session.run_n_steps(250)
"""
"""The application's run, in a child killed by the crash hook (``LIVESESSION_CRASH_AT``)."""


def _killed_and_resumed(tmp_path: Path, n: int) -> Path:
    """The run killed (SIGKILL) as it was about to write its ``n``-th event, then resumed."""
    config = tmp_path / "killed.toml"
    config.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "killed"
    env = os.environ | {"LIVESESSION_CRASH_AT": f"write_events:{n}"}
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_AT, str(config), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == KILLED, killed.stderr
    resumed = cli("resume", out / "r", "-q")
    assert resumed.returncode == 0, resumed.stderr
    return out / "r"


# The first checkpoint is at step 100; events 162 to 167 hold an order after it.
@pytest.mark.parametrize("n", [9, 40, 163])
def test_a_torn_session_lets_go_at_once_and_another_process_resumes_it(
    tmp_path: Path, n: int
) -> None:
    config = tmp_path / "torn.toml"
    config.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "torn"
    # As `livesession dryrun -c torn.toml` would build it, in an application that keeps it.
    session = create_run(load_config(config), out)
    run_dir = out / "r"
    session.preflight()
    session.activate()
    _interrupt_at_event(session, n)
    with pytest.raises(KeyboardInterrupt):
        session.run_n_steps(STEPS)
    _crashed_while_it_lives(run_dir)
    resumed = cli("resume", run_dir, "-q")  # another process, while the torn object lives
    assert resumed.returncode == 0, resumed.stderr
    after_resume = _files(run_dir)
    _said_torn(session)
    if n != 40:  # with 40 the garbage collection alone
        session.close()
    del session
    gc.collect()
    assert _files(run_dir) == after_resume, "the torn session wrote after it let go"
    assert verify_run(run_dir).ok
    killed = _killed_and_resumed(tmp_path, n)
    for name in (*names.ARTIFACTS.values(), *(f"{a}.torn" for a in names.ARTIFACTS.values())):
        torn_side, killed_side = run_dir / name, killed / name
        assert torn_side.exists() == killed_side.exists(), name
        if killed_side.exists():
            assert torn_side.read_bytes() == killed_side.read_bytes(), name


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread"
)
def test_two_ctrl_cs_in_one_step_then_resume_run_in_the_same_process(tmp_path: Path) -> None:
    """The notebook's case: ``s.run_n_steps(250)``, Ctrl-C twice, ``s`` still referred to.
    ``resume_run`` was refused (``... a session it opened still holds the run (still
    referred to as `s`: `s.close()` seals it)``), which it does not: it seals nothing."""
    session = create_run(
        DryrunConfig(run_id="r", steps=STEPS), tmp_path, strategy=_SignalsItself({12: 2})
    )
    run_dir = tmp_path / "r"
    session.preflight()
    session.activate()
    with pytest.raises(KeyboardInterrupt):
        session.run_n_steps(STEPS)
    _crashed_while_it_lives(run_dir)
    with resume_run(run_dir, strategy=_SignalsItself({})) as resumed:
        resumed.run_n_steps(50)
        before = _files(run_dir)
        session.close()  # the torn one, while the resumed one writes: nothing
        _said_torn(session)
        del session
        gc.collect()
        assert _files(run_dir) == before, "the torn session wrote into the resumed run"
        resumed.run_to_end(STEPS)
    assert verify_run(run_dir).ok
    never = _SignalsItself({})  # the same strategy, never interrupted
    with create_run(
        DryrunConfig(run_id="r", steps=STEPS), tmp_path / "whole", strategy=never
    ) as whole:
        whole.run_to_end(STEPS)
    for name in names.ARTIFACTS.values():
        if name != names.AUDIT:  # the resume's C2_RESUME is the difference
            assert (run_dir / name).read_bytes() == (tmp_path / "whole" / "r" / name).read_bytes()


# A feed whose close() blocks (a thread it joins, a data server that does not answer) until
# the test lets it return; it says when it is inside.
_BLOCKING_FEED = """
import threading
from decimal import Decimal

from livesession import RandomWalkFeed

CLOSING = threading.Event()
RELEASE = threading.Event()


class Blocking(RandomWalkFeed):
    def close(self):
        CLOSING.set()
        RELEASE.wait(300)


def make(*, symbol):
    return Blocking(
        symbol=symbol, seed=7, initial_price=Decimal("42000"), tick=Decimal("0.01"),
        lot=Decimal("0.001"),
    )
"""


def test_a_plug_in_whose_close_blocks_does_not_keep_the_torn_run(tmp_path: Path) -> None:
    """A torn session closed its feed (and its strategy) before it let go of its run: one
    whose ``close()`` blocked kept the writer lock as long as it blocked, so `status` said
    `running (exit 7)`, "poll again later", and the resume was refused as held, for as long
    as the application lived. The feed and the strategy are now closed once the run is let
    go of (its files, then its lock): the run is a crash to resume while the close blocks,
    and the torn session writes nothing into it when the close returns."""
    module = f"blocking_{tmp_path.name}"
    (tmp_path / f"{module}.py").write_text(_BLOCKING_FEED, encoding="utf-8")
    config = tmp_path / "torn.toml"
    config.write_text(f'{CONFIG}feed = "{module}:make"\n', encoding="utf-8")
    out = tmp_path / "torn"
    run_dir = out / "r"
    torn: list[BaseException] = []

    def application() -> None:  # builds and steps its session in its own thread
        session = create_run(load_config(config), out)
        session.preflight()
        session.activate()
        _interrupt_at_event(session, 163)
        try:
            session.run_n_steps(STEPS)
        except KeyboardInterrupt as exc:
            torn.append(exc)

    app = threading.Thread(target=application, daemon=True)
    app.start()

    def closing() -> bool:
        assert app.is_alive(), "the application ended: its feed's close() never blocked"
        # Read with getattr: the application's thread may be importing it still (a module
        # is in sys.modules from the start of its import, its names not yet all set).
        event = getattr(sys.modules.get(module), "CLOSING", None)
        return event is not None and event.is_set()

    try:
        until("the torn session's feed to block in close()", closing)
        _crashed_while_it_lives(run_dir)
        with resume_run(run_dir) as resumed:  # its own feed, made from the config
            resumed.run_n_steps(50)
            assert app.is_alive()  # the torn session's close() still blocks
            sys.modules[module].RELEASE.set()  # for the resumed session's close too
            resumed.run_to_end(STEPS)
        after_resume = _files(run_dir)
        app.join(timeout=300)
    finally:
        if (release := getattr(sys.modules.get(module), "RELEASE", None)) is not None:
            release.set()
    assert not app.is_alive()
    assert len(torn) == 1
    assert _files(run_dir) == after_resume, "the torn session wrote after it let go"
    assert verify_run(run_dir).ok


# The CLI's: a feed made from the config that, while the file `armed` is beside it, tears
# its step (a KeyboardInterrupt it raises on its 130th bar), then blocks in close() until
# its stdin closes.
_TEARING_FEED = """
import sys
from decimal import Decimal
from pathlib import Path

from livesession import RandomWalkFeed

ARMED = Path(__file__).parent / "armed"


class Tearing(RandomWalkFeed):
    bars = 0

    def next_bar(self, ts_ns):
        self.bars += 1
        if self.bars == 130 and ARMED.exists():
            raise KeyboardInterrupt
        return super().next_bar(ts_ns)

    def close(self):
        if ARMED.exists():
            print("close blocks", file=sys.stderr, flush=True)
            sys.stdin.read()


def make(*, symbol):
    return Tearing(
        symbol=symbol, seed=7, initial_price=Decimal("42000"), tick=Decimal("0.01"),
        lot=Decimal("0.001"),
    )
"""


def test_a_cli_run_whose_feed_close_blocks_lets_go_and_a_stop_signal_ends_it(
    tmp_path: Path,
) -> None:
    """`livesession dryrun` torn (its feed raised KeyboardInterrupt), its feed's close()
    then blocking: the process kept the run (`status`: `running`, exit 7; `stop`: no
    effect, exit 9), and a first SIGTERM only asked for a stop no step boundary would come
    to. Now the run is let go of first (`crashed`, exit 6: resume it), and a stop signal
    ends the process at once, by that signal (nothing is left to wind down)."""
    (tmp_path / "tearing.py").write_text(_TEARING_FEED, encoding="utf-8")
    (tmp_path / "armed").touch()
    config = tmp_path / "torn.toml"
    config.write_text(f'{CONFIG}feed = "tearing:make"\n', encoding="utf-8")
    run_dir = tmp_path / "runs" / "r"
    args = ["dryrun", "-c", str(config), "--out", str(tmp_path / "runs"), "-q"]
    with subprocess.Popen(
        [sys.executable, "-m", "livesession.cli", *args],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stderr is not None
            assert proc.stderr.readline() == "close blocks\n"
            _crashed_while_it_lives(run_dir)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == -signal.SIGTERM
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    (tmp_path / "armed").unlink()
    resumed = cli("resume", run_dir, "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert verify_run(run_dir).ok
