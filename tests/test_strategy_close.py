"""A strategy holding a resource is closed by the session that made it, once, after the seal.

Bug: no session ever called a strategy's ``close()``, so a strategy made from the config's
reference (``strategy_factory``) that held a file, a socket or a model server's handle kept
it until the process ended. The session that made it (``create_run``, ``resume_run``,
``run_dryrun``, the CLI's ``dryrun`` and ``resume``) now closes it as it closes, on every
ending; a strategy object the caller passed in stays the caller's. A ``close()`` that
raises (a feed's or a broker's too) is said in one line and changes nothing of the run: it
raised out of ``close()`` and skipped letting go of the run's files and writer lock, and the CLI exited 2
for a run that had completed.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from livesession import (
    DryrunConfig,
    LiveSessionOrchestrator,
    PluginError,
    RunDirectoryError,
    SessionStatus,
    create_run,
    resume_run,
    verify_run,
)
from livesession._rundir.session import runs_held
from livesession._support.logging import configure_logging, disable_logging

STEPS = 40

_PLUGIN = '''
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

from livesession import MockBroker, RandomWalkFeed, SmaCrossover

HERE = Path(__file__).parent
ARMED = HERE / "armed"  # while it exists, the strategy misbehaves on its 10th bar


class Holding(SmaCrossover):
    """The demo strategy, holding a resource: each close() is written to ``closes``, with
    the last audit record then on disk (the seal's, once the run is sealed)."""

    def __init__(self, *, strategy_id, audit="", misdeed="", close_raises=False):
        super().__init__(strategy_id=strategy_id, fast=3, slow=8, order_qty=Decimal("0.010"))
        self.audit, self.misdeed, self.close_raises = audit, misdeed, close_raises
        self.bars = 0

    def on_bar(self, bar, view):
        self.bars += 1
        if self.bars == 10 and ARMED.exists():
            if self.misdeed == "raise":
                raise RuntimeError("the model server answered 500")
            if self.misdeed == "exit":
                sys.exit(3)  # tears the session: its run is a crash
            if self.misdeed == "ctrl-c":
                os.kill(os.getpid(), signal.SIGINT)  # the operator's, inside the step
        return super().on_bar(bar, view)

    def set_state(self, state):
        if (HERE / "unrestorable").exists():
            raise ValueError("the model it restores is gone")
        super().set_state(state)

    def close(self):
        last = "-"
        if self.audit:
            last = json.loads(Path(self.audit).read_bytes().splitlines()[-1])["code"]
        with open(HERE / "closes", "a", encoding="utf-8") as log:
            log.write(f"{last}\\n")
        if self.close_raises:
            raise OSError("the model server is gone")


def make(**params):
    return Holding(**params)


def broken_feed(symbol):
    raise RuntimeError("no data today")


class Feed(RandomWalkFeed):
    def close(self):
        raise OSError("the data file's share went away")


class Venue(MockBroker):
    simulated = True

    def close(self):
        super().close()
        raise OSError("the venue's socket was reset")


def raising_broker():
    return Venue(seed=1, price_tick=Decimal("0.01"), qty_lot=Decimal("0.001"))


def raising_feed(symbol):
    return Feed(
        symbol=symbol, seed=1, initial_price=Decimal(42000), tick=Decimal("0.01"),
        lot=Decimal("0.001"),
    )
'''


@pytest.fixture(name="package", scope="module")
def _package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the ``closepkg`` plug-in package: one per process, which imports a
    package from one place only."""
    desk = tmp_path_factory.mktemp("desk")
    (desk / "closepkg").mkdir(parents=True)
    (desk / "closepkg" / "__init__.py").write_text("")
    (desk / "closepkg" / "plug.py").write_text(_PLUGIN)
    return desk


@pytest.fixture(name="desk")
def _desk(package: Path) -> Path:
    """The package, with no ``closes`` written, not ``armed`` and restorable."""
    for name in ("closes", "armed", "unrestorable"):
        (package / "closepkg" / name).unlink(missing_ok=True)
    return package


def _closes(desk: Path) -> list[str]:
    """The last audit code each ``close()`` saw, in order ([]: never closed)."""
    log = desk / "closepkg" / "closes"
    return log.read_text().splitlines() if log.exists() else []


def _torn(desk: Path, out: Path) -> list[str]:
    """Run ``r`` under ``out`` until its strategy calls ``sys.exit()`` (armed for that run
    only), then close it: a crash, unsealed. Returns the one close the strategy recorded."""
    (desk / "closepkg" / "armed").touch()
    session = create_run(_cfg(desk, out, misdeed="exit"), out)
    with pytest.raises(SystemExit):
        session.run_to_end(STEPS)
    session.close()
    (desk / "closepkg" / "armed").unlink()
    torn = _closes(desk)
    assert len(torn) == 1
    return torn


def _cfg(desk: Path, out: Path | None, **params: Any) -> DryrunConfig:
    """Run ``r`` of the ``closepkg`` strategy; its close() reads ``out/r``'s audit log."""
    audit = {} if out is None else {"audit": str(out / "r" / "audit.jsonl")}
    return DryrunConfig(
        run_id="r",
        steps=STEPS,
        strategy_id="holding",
        strategy_factory="closepkg.plug:make",
        strategy_params={**audit, **params},
        base_dir=str(desk),
    )


_MAIN = threading.current_thread() is threading.main_thread()


class TestTheSessionThatMadeItClosesIt:
    @pytest.mark.parametrize(
        ("ending", "status"),
        [
            ("completed", SessionStatus.COMPLETED),
            ("stopped", SessionStatus.COMPLETED),
            ("killed", SessionStatus.COMPLETED),
            ("strategy error", SessionStatus.FAILED),
            pytest.param(
                "ctrl-c",
                SessionStatus.COMPLETED,
                marks=pytest.mark.skipif(not _MAIN, reason="signals: main thread"),
            ),
        ],
    )
    def test_once_after_the_seal_on_every_ending(
        self, desk: Path, tmp_path: Path, ending: str, status: SessionStatus
    ) -> None:
        out = tmp_path / "runs"
        misdeed = {"strategy error": "raise", "ctrl-c": "ctrl-c"}.get(ending, "")
        (desk / "closepkg" / "armed").touch()
        session = create_run(_cfg(desk, out, misdeed=misdeed), out)
        if ending in ("stopped", "killed"):
            session.preflight()
            session.activate()
            session.run_n_steps(10)
            if ending == "stopped":
                session.request_stop("desk")
            else:
                session.kill("desk")
            assert _closes(desk) == []  # stopping is not the end: the session is open
            session.close()
        elif ending == "ctrl-c":
            with pytest.raises(KeyboardInterrupt):
                session.run_to_end(STEPS)
        else:
            session.run_to_end(STEPS)
        assert session.status is status
        assert _closes(desk) == ["C2_DRYRUN_STOP"]  # once, the run sealed by then
        session.close()  # a second close closes nothing again
        assert _closes(desk) == ["C2_DRYRUN_STOP"]
        assert session.inspect().plugin_close_failed == ""
        assert verify_run(out / "r").ok

    def test_a_torn_session_and_its_resume_each_close_their_own(
        self, desk: Path, tmp_path: Path
    ) -> None:
        """The step loop torn (the strategy's sys.exit()): the run is a crash, unsealed; its
        strategy is closed as the session closes all the same. The resume made its own."""
        out = tmp_path / "runs"
        torn = _torn(desk, out)
        assert torn != ["C2_DRYRUN_STOP"]  # not sealed
        with resume_run(out / "r") as resumed:
            resumed.run_to_end(STEPS)
        assert _closes(desk) == [*torn, "C2_DRYRUN_STOP"]
        assert verify_run(out / "r").ok

    def test_run_dryrun_closes_the_strategy_its_config_names(self, desk: Path, tmp_path: Path):
        out = tmp_path / "four"
        out.mkdir()
        names = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")
        files = [(out / name).open("w", encoding="utf-8") for name in names]
        try:
            result = LiveSessionOrchestrator().run_dryrun(
                _cfg(desk, None),
                event_sink=files[0],
                state_sink=files[1],
                metrics_sink=files[2],
                audit_sink=files[3],
            )
        finally:
            for f in files:
                f.close()
        assert result.status is SessionStatus.COMPLETED
        assert _closes(desk) == ["-"]
        assert verify_run(out).ok

    def test_a_strategy_the_caller_passed_in_stays_open(self, desk: Path, tmp_path: Path):
        """The caller's object is the caller's: create_run, resume_run, an orchestrator."""
        sys.path.insert(0, str(desk))
        try:
            from closepkg.plug import make  # type: ignore[import-not-found]
        finally:
            sys.path.remove(str(desk))
        out = tmp_path / "runs"
        cfg = DryrunConfig(run_id="r", steps=STEPS, strategy_id="holding")
        with create_run(cfg, out, strategy=make(strategy_id="holding")) as session:
            session.run_to_end(STEPS)
        cfg = DryrunConfig(run_id="m", steps=STEPS, strategy_id="holding")
        with LiveSessionOrchestrator(cfg, strategy=make(strategy_id="holding")) as session:
            session.run_to_end(STEPS)
        assert _closes(desk) == []
        assert verify_run(out / "r").ok

    def test_one_made_for_a_run_that_is_never_built_is_closed(self, desk: Path, tmp_path: Path):
        """Its feed's reference failed after the strategy was made: nothing is written."""
        out = tmp_path / "runs"
        cfg = attrs.evolve(_cfg(desk, None), feed="closepkg.plug:broken_feed")
        with pytest.raises(PluginError, match="no data today"):
            create_run(cfg, out)
        assert _closes(desk) == ["-"]  # no run: no audit to read
        assert not out.exists()


class TestACloseThatRaises:
    """Bug: it raised out of ``close()``, before the run's files and its writer lock were
    let go of (a resume in this process was refused the held run until exit), and hid the
    run's own outcome: the CLI exited 2 for a run that had completed."""

    @pytest.mark.parametrize("plugin", ["strategy", "feed", "broker"])
    def test_it_is_said_and_the_run_ends_as_it_would(
        self, desk: Path, tmp_path: Path, plugin: str
    ) -> None:
        out = tmp_path / "runs"
        params = {"close_raises": True} if plugin == "strategy" else {}
        cfg = _cfg(desk, out, **params)
        if plugin != "strategy":
            cfg = attrs.evolve(cfg, **{plugin: f"closepkg.plug:raising_{plugin}"})
        log = io.StringIO()
        configure_logging(log, level=logging.WARNING)
        try:
            session = create_run(cfg, out)
            result = session.run_to_end(STEPS)
            session.close()
        finally:
            disable_logging()
        assert result.status is SessionStatus.COMPLETED
        said = {
            "strategy": "the strategy's close() raised OSError: the model server is gone",
            "feed": "the feed's close() raised OSError: the data file's share went away",
            "broker": "the broker's close() raised OSError: the venue's socket was reset",
        }[plugin]
        assert session.inspect().plugin_close_failed == said
        assert _closes(desk) == ["C2_DRYRUN_STOP"]  # the strategy: closed once all the same
        assert runs_held() == []  # the writer lock let go of
        records = [orjson.loads(line) for line in log.getvalue().splitlines()]
        failed = [r for r in records if r["event"] == "plugin_close_failed"]
        assert [(r["plugin"], r["error"], r["run_id"]) for r in failed] == [
            (plugin, "OSError", "r")
        ]
        assert verify_run(out / "r").ok

    def test_the_cli_says_it_in_one_line_and_keeps_the_exit_code(
        self, desk: Path, tmp_path: Path
    ) -> None:
        config = desk / "desk.toml"  # its references resolve from its folder
        out = tmp_path / "runs"
        audit = out / "r" / "audit.jsonl"
        config.write_text(
            f'run_id = "r"\nsteps = {STEPS}\nstrategy_id = "holding"\n'
            'strategy_factory = "closepkg.plug:make"\n'
            f"[strategy_params]\naudit = {orjson.dumps(str(audit)).decode()}\n"
            "close_raises = true\n"
        )
        command = [sys.executable, "-m", "livesession.cli", "dryrun", "-c", str(config)]
        done = subprocess.run(
            [*command, "--out", str(out), "-q"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={k: v for k, v in os.environ.items() if k != "LIVESESSION_CRASH_AT"},
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr == (
            "livesession: as the session ended, the strategy's close() raised OSError: the "
            "model server is gone: the run's outcome stands, its record whole; what that "
            f"plug-in held may still be open: {out / 'r'}\n"
        )
        assert _closes(desk) == ["C2_DRYRUN_STOP"]
        log = (out / "r" / "session.log.jsonl").read_bytes().splitlines()
        assert [orjson.loads(line)["plugin"] for line in log if b"plugin_close_failed" in line] == [
            "strategy"
        ]
        assert verify_run(out / "r").ok


class TestARefusedResumeClosesWhatItMade:
    """A resume makes the run's plug-ins before it is done checking (the strategy's
    ``set_state`` is part of the check); one refused after that closes what it made, as a
    ``create_run`` refused does, and leaves the run as it was: the next resume goes on."""

    def test_refused_before_the_session_is_built_and_after_it(
        self, desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        out = tmp_path / "runs"
        _torn(desk, out)

        # Before the session is built: the strategy refuses the state the checkpoint holds.
        (desk / "closepkg" / "unrestorable").touch()
        with pytest.raises(PluginError, match="the model it restores is gone"):
            resume_run(out / "r")
        (desk / "closepkg" / "unrestorable").unlink()
        assert len(_closes(desk)) == 2  # the strategy the refused resume made: closed
        assert runs_held() == []

        # After it: the file system refuses the tail the resume sets aside as it cuts back.
        real_write = os.write

        def refusing(fd: int, data: Any) -> int:
            if Path(f"/proc/self/fd/{fd}").readlink().name.endswith(".torn"):
                raise OSError(28, "No space left on device")
            return real_write(fd, data)

        with (out / "r" / "events.jsonl").open("ab") as events:
            events.write(b'{"event_type":"BA')  # a torn last line: a tail to set aside
        with monkeypatch.context() as patched:
            patched.setattr(os, "write", refusing)
            with pytest.raises(RunDirectoryError, match="No space left on device"):
                resume_run(out / "r")
        assert len(_closes(desk)) == 3
        assert runs_held() == []

        with resume_run(out / "r") as resumed:  # the run is as it was: it resumes
            resumed.run_to_end(STEPS)
        assert _closes(desk)[3:] == ["C2_DRYRUN_STOP"]
        assert verify_run(out / "r").ok
