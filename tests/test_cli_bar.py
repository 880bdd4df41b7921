"""Where the CLI draws progress: on stderr, only when it is the foreground job's terminal.

RUNBOOK's drills start a dry run in the background (``livesession dryrun ... &``) and then
run ``status``: the run's bar was redrawn several times a second over ``status``'s output
and the shell's prompt.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from _terminal import cli_on_terminal
from livesession._cli_bar import on_terminal, phase_lines, terminal_bar
from livesession.cli import main

from _helpers import COUNTING_STRATEGY, plug_config

_ON_A_TERMINAL = textwrap.dedent(
    """
    import os, pty
    pid, fd = pty.fork()  # the child: a session of its own, the pty its terminal
    if pid == 0:
        child = os.fork()
        if child == 0:
            from livesession._cli_bar import on_terminal
            foreground = on_terminal()
            os.setpgid(0, 0)  # a process group of its own: a background job of the pty
            os.write(2, f"foreground={foreground} background={on_terminal()}\\n".encode())
            os._exit(0)
        os.waitpid(child, 0)
        os._exit(0)
    said = b""
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the pty's other end closed
            break
        if not chunk:
            break
        said += chunk
    os.waitpid(pid, 0)
    print(said.decode().strip())
    """
)


def test_a_background_job_of_the_terminal_draws_nothing() -> None:
    """Bug: a dry run started with ``&`` drew its bar over the terminal's other output.
    The same process on the same terminal draws while it is the foreground job only."""
    done = subprocess.run(
        [sys.executable, "-c", _ON_A_TERMINAL],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "foreground=True background=False"


def test_off_a_terminal_nothing_is_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert not on_terminal()
    assert phase_lines("evidence") is None
    with terminal_bar("verify") as progress:
        assert progress is None


def test_a_terminal_not_the_process_s_own_is_drawn_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal whose foreground the system will not tell (not this process's controlling
    terminal) is drawn on, as every terminal was before."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)

    def refused(_fd: int) -> int:
        raise OSError(25, "Inappropriate ioctl for device")

    monkeypatch.setattr("os.tcgetpgrp", refused)
    assert on_terminal()


def test_a_jupyter_kernels_command_draws_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug: `!livesession dryrun` in a notebook cell runs on the kernel's pty, a terminal
    whose foreground job the command is, so it drew its bar: the cell kept each redraw as
    a line of its own (some 400 for a 20,000-step run). A Jupyter kernel's child
    (`JPY_PARENT_PID` set) draws nothing, on a terminal or not."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr("os.tcgetpgrp", lambda _fd: os.getpgrp())
    monkeypatch.delenv("JPY_PARENT_PID", raising=False)
    assert on_terminal()
    monkeypatch.setenv("JPY_PARENT_PID", "4242")
    assert not on_terminal()
    assert phase_lines("evidence") is None
    with terminal_bar("verify") as progress:
        assert progress is None


@pytest.fixture(name="small_run", scope="module")
def _small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bar")
    assert main(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "60", "-q"]) == 0
    return out / "r"


def test_a_dumb_terminal_gets_no_bar(small_run: Path) -> None:
    """``TERM=dumb`` (an editor's shell, a terminal ``script`` records) cannot redraw a line
    in place: each bar left an empty line (``\\r\\n``) before the command's output there."""
    done, drawn = cli_on_terminal("verify", str(small_run), env={"TERM": "dumb"})
    assert done.returncode == 0
    assert done.stdout.startswith(b"OK ")
    assert drawn == b""


def test_no_color_leaves_no_escape_codes_in_the_phase_lines(
    small_run: Path, tmp_path: Path
) -> None:
    """``NO_COLOR=1``: evidence's phase lines still carried rich's dim (``ESC[2m``)."""
    out = tmp_path / "evidence"
    done, drawn = cli_on_terminal(
        "evidence", str(small_run), "--out", str(out), env={"NO_COLOR": "1"}
    )
    assert done.returncode == 0
    assert b"determinism re-run" in drawn  # the phase lines are drawn
    assert b"\x1b[" not in drawn


_SLOW_MODULE = f"""
import time
{COUNTING_STRATEGY}

class Slow(Counting):  # each bar held for 50 ms of the process's time at least
    def act(self, bar):
        until = time.perf_counter() + 0.05
        while time.perf_counter() < until:  # busy, as an indicator's arithmetic is
            pass
        return []

def make(*, strategy_id):
    return Slow(strategy_id)
"""
"""A strategy slow per bar, in a module of a package of the desk's own."""


def _slow_config(tmp_path: Path, steps: int) -> Path:
    toml = (
        f'run_id = "slow"\nsteps = {steps}\nstrategy_id = "slow"\n'
        'durability = "none"\nstrategy_factory = "slowpkg.s:make"\n'
    )
    return plug_config(tmp_path, "slowpkg", {"s.py": _SLOW_MODULE}, toml)


def test_a_slow_strategy_s_short_run_draws_its_bar(tmp_path: Path) -> None:
    """Bug: the dry run drew its bar only for 20,000 steps or more, so a strategy that takes
    5 ms a bar ran 10,000 steps for a minute with nothing on the terminal. A run still
    stepping after a second draws it, with the steps done and the time left."""
    config = _slow_config(tmp_path, 40)  # 2 s at least: 50 ms of each bar is the strategy's
    done, drawn = cli_on_terminal("dryrun", "-c", str(config), "--out", str(tmp_path / "runs"))
    assert done.returncode == 0, drawn
    assert done.stdout.startswith(b"status      COMPLETED\n")
    assert b"dry run" in drawn
    assert b"/40" in drawn  # the steps done of the run's 40


def test_a_run_over_within_a_second_draws_no_bar(tmp_path: Path) -> None:
    """A short run on the terminal is its summary alone, as before."""
    out = tmp_path / "runs"
    args = ("dryrun", "--out", str(out), "--steps", "10", "--durability", "none")
    done, drawn = cli_on_terminal(*args)
    assert done.returncode == 0, drawn
    assert done.stdout.startswith(b"status      COMPLETED\n")
    assert drawn == b""
