"""The CLI's own streams as automation leaves them: closed, refusing every write, or read
by a reader that leaves.

A supervisor, cron or a daemon may start ``livesession`` with stdout, stderr or stdin closed
(``>&-``), or point them at a file on a full disk (``>/dev/full``); a pipe's reader may stop
reading (``| head -1``). The command's exit code is its verdict all the same, and no
traceback is printed in its place.
"""

from __future__ import annotations

import os
import select
import shlex
import stat
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from _callplug import strategy_at_calls
from livesession.cli import main

fcntl = pytest.importorskip("fcntl")  # POSIX

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or not Path("/dev/full").exists(), reason="bash and /dev/full"
)


_FULL_STDOUT = (
    "livesession: cannot write to stdout (ENOSPC: No space left on device): the "
    "rest of the command's output is lost; its exit code is its own"
)


def _shell(tmp_path: Path, arguments: str, redirect: str) -> subprocess.CompletedProcess[str]:
    """``livesession ARGUMENTS REDIRECT`` run by bash in ``tmp_path``; stderr captured when
    the redirection leaves it open."""
    python = shlex.quote(sys.executable)  # a checkout under a directory with a space
    script = f"{python} -m livesession.cli {arguments} {redirect}"
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=False, cwd=tmp_path,
        timeout=300,
    )  # fmt: skip


@pytest.fixture
def sealed(tmp_path: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "dryrun", "--out", str(tmp_path / "runs"),
         "--run-id", "a", "--steps", "40", "-q"],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return tmp_path / "runs" / "a"


@pytest.mark.parametrize("closed", [">&-", "2>&-", ">&- 2>&- <&-"])
def test_a_closed_standard_stream_keeps_the_exit_code(tmp_path, sealed, closed):
    """`livesession verify DIR >&-` ended in an AttributeError traceback and exit 1 (the
    code for violations), `stop DIR 2>&-` exited 1 instead of 8, and a dryrun's first file
    took the closed descriptor. Each command now exits with its own code."""
    expected = {
        "verify runs/a": 0,
        "verify --json runs/a": 0,
        "verify runs/nope": 2,
        "status runs/a": 0,
        "list --json runs": 0,
        "stop runs/a": 0,  # stopped already (it said so on stdout)
        "kill runs/a": 8,  # nothing holds it: said on stderr
        "resume runs/a": 2,
        "dryrun --out runs --run-id b -q": 0,
        "dryrun --out runs --run-id c --json": 0,
    }
    for arguments, code in expected.items():
        done = _shell(tmp_path, arguments, closed)
        assert "Traceback" not in done.stderr, (arguments, done.stderr)
        assert done.returncode == code, (arguments, done.returncode, done.stderr)
    for run in ("b", "c"):
        log = (tmp_path / "runs" / run / "session.log.jsonl").read_bytes()
        assert all(orjson.loads(line) for line in log.splitlines()), run


def test_a_full_stdout_keeps_the_exit_code_and_says_so(tmp_path, sealed):
    """`livesession dryrun >/dev/full` sealed its run COMPLETED, then exited 2 with
    `No space left on device: free space` (naming no file; exit 2 says nothing was
    written), and --json's error object went to stderr. The run's code stands now, and one
    stderr line says that stdout refused the output."""
    for arguments, code in {
        "verify runs/a": 0,
        "verify --json runs/a": 0,
        "status runs/a": 0,
        "dryrun --out runs --run-id b --steps 5": 0,
        "dryrun --out runs --run-id c --json --steps 5": 0,
    }.items():
        done = _shell(tmp_path, arguments, ">/dev/full")
        assert done.returncode == code, (arguments, done.returncode, done.stderr)
        said = done.stderr.splitlines()
        assert said == [_FULL_STDOUT], arguments


def test_a_full_stderr_keeps_the_exit_code(tmp_path, sealed):
    """With stderr on a full device the error line could not be written, and the traceback
    of that failure turned every exit code into 1: `verify` of no run, `stop` of a sealed
    run (8 then; a `kill` of one now), a `resume` with nothing to resume (2)."""
    for arguments, code in {
        "verify runs/nope": 2,
        "kill runs/a": 8,
        "resume runs/a": 2,
        "verify --json runs/nope": 2,
    }.items():
        done = _shell(tmp_path, arguments, "2>/dev/full")
        assert done.returncode == code, (arguments, done.returncode, done.stdout)
    done = _shell(tmp_path, "verify --json runs/nope", "2>/dev/full")
    assert orjson.loads(done.stdout)["exit_code"] == 2


def _reader_gone(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``livesession ARGUMENTS | head -c 0`` without the race: stdout is a pipe whose reader
    has left before the command starts, so its every write to stdout meets ``EPIPE``."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "livesession.cli", *arguments],
            stdout=write, stderr=subprocess.PIPE, text=True, check=False, cwd=tmp_path,
        )  # fmt: skip
    finally:
        os.close(write)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="/proc/self/fd")
def test_a_reader_that_leaves_is_no_error_of_any_command(tmp_path, sealed):
    """One rule for every command: a reader that stops reading is not an error of ours.

    `report RUN --output /dev/stdout | head -1` (and `prom`'s) ended with exit 2 and
    `cannot write /dev/stdout (Broken pipe)`, where a command printing to stdout kept its
    own code. No test names /dev/stdout: a link to /proc/self/fd/1 stands for it."""
    stdout = tmp_path / "stdout"
    stdout.symlink_to("/proc/self/fd/1")  # the child's own stdout, as /dev/stdout is
    for arguments, code in {
        ("report", "runs/a", "--output", str(stdout)): 0,
        ("prom", "runs/a", "--output", str(stdout)): 0,
        ("verify", "runs/a"): 0,
        ("verify", "--json", "runs/a"): 0,
        ("status", "runs/a"): 0,
        ("status", "--json", "runs/a"): 0,
        ("list", "runs"): 0,
        ("list", "--json", "runs"): 0,
        ("evidence", "runs/a", "--out", "bundle"): 0,
        ("evidence", "runs/a", "--out", "bundle", "--json"): 0,
        ("stop", "runs/a"): 0,
        ("kill", "runs/a"): 8,
        ("resume", "--json", "runs/a"): 2,
        ("dryrun", "--out", "runs", "--run-id", "b", "--steps", "40"): 0,
        ("dryrun", "--out", "runs", "--run-id", "c", "--steps", "40", "--json"): 0,
    }.items():
        done = _reader_gone(tmp_path, *arguments)
        assert done.returncode == code, (arguments, done.returncode, done.stderr)
        assert "Traceback" not in done.stderr, (arguments, done.stderr)
        assert "Broken pipe" not in done.stderr, (arguments, done.stderr)
    for command, label in (("report", "report"), ("prom", "textfile")):
        done = _reader_gone(tmp_path, command, "runs/a", "--output", str(stdout))
        assert done.stderr == f"{label:<10}{stdout}\n"  # said as when the reader stays
    assert stdout.is_symlink()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="/proc/self/fd")
@pytest.mark.parametrize(("command", "label"), [("report", "report"), ("prom", "textfile")])
def test_output_dash_is_stdout(tmp_path, sealed, command, label):
    """`prom RUN --output - | promtool check metrics`, as `curl -o -` and `tar -f -` read
    `-`: it wrote a file named `-` in the working directory, exit 0, and stdout was empty."""
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", command, "runs/a", "--output", "-"],
        capture_output=True, check=False, cwd=tmp_path, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "-").exists()
    said = done.stderr.decode()
    assert said in (f"{label:<10}/dev/stdout\n", f"{label:<10}/proc/self/fd/1\n"), said
    assert main([command, str(sealed), "--output", str(tmp_path / "file")]) == 0
    assert done.stdout == (tmp_path / "file").read_bytes()  # the file, alone on stdout


@pytest.mark.parametrize(
    "arguments",
    [
        ["evidence", "runs/a", "--out", "-"],
        ["burnin", "runs/a", "--out", "-"],
        ["dryrun", "--out", "-", "--steps", "20", "-q"],
    ],
)
def test_out_dash_is_refused_not_made_a_folder(tmp_path, sealed, monkeypatch, capsys, arguments):
    """`evidence RUN --out -` made a folder named `-` in the working directory and wrote the
    bundle there, exit 0 (`burnin`'s reports and `dryrun`'s run alike): stdout, which `-` is
    to `--output`, holds no folder."""
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())

    assert main(arguments) == 2

    said = capsys.readouterr()
    assert said.out == ""
    assert said.err == (
        "livesession: error: argument --out: '-' is stdout, which holds no folder: "
        "give a directory (./- for one named -)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    "arguments",
    [["status", "--json", "runs/a"], ["verify", "--json", "runs/a"], ["list", "--json", "runs"]],
)
def test_json_leaves_no_warning_at_exit_in_development_mode(tmp_path, sealed, arguments):
    """Under `python -X dev` (or `PYTHONDEVMODE=1` in a CI job's environment) every `--json`
    command ended its stderr with `sys:1: ResourceWarning: unclosed file <_io.TextIOWrapper
    name=3 ...>`: the stdout kept aside for the JSON object was never closed. A log or a
    supervisor reading stderr took a line no command said."""
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-m", "livesession", *arguments],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert isinstance(orjson.loads(done.stdout), dict)  # the one JSON object, whole


@pytest.mark.skipif(not hasattr(fcntl, "F_SETPIPE_SZ"), reason="Linux pipe sizes")
def test_a_fifo_whose_reader_leaves_is_no_error(tmp_path, sealed):
    """`report RUN --output FIFO` whose reader closes after the first bytes: exit 0 (it was
    exit 2, `cannot write FIFO (Broken pipe)`), as for stdout. The FIFO holds a page, so the
    report (tens of kB) is still being written when the reader leaves."""
    fifo = tmp_path / "collector"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(reader, fcntl.F_SETPIPE_SZ, 4096)

    def read_one_then_leave() -> None:
        select.select([reader], [], [])  # the first bytes (the pipe had no writer yet)
        os.read(reader, 1)
        os.close(reader)

    leaver = threading.Thread(target=read_one_then_leave)
    leaver.start()
    try:
        assert main(["report", str(sealed), "--output", str(fifo)]) == 0
    finally:
        leaver.join()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


_TAKES_THE_STREAMS = '''
import io, os, sys


class Logs:
    """Keeps its prints in a file of its own, and silences stderr, as some desks do."""

    def __init__(self, strategy_id):
        self.strategy_id, self.bars = strategy_id, 0
        sys.stdout = open(os.environ["STRATEGY_LOG"], "w", encoding="utf-8")  # noqa: SIM115
        sys.stderr = io.StringIO()

    def on_bar(self, bar, view):
        self.bars += 1
        print("bar", self.bars)
        if self.bars == int(os.environ["FAIL_AT"]):
            raise RuntimeError("alpha blew up")
        return ()

    def get_state(self):
        return {"bars": self.bars}

    def set_state(self, state):
        self.bars = state["bars"]


def make(*, strategy_id="logs"):
    return Logs(strategy_id)
'''


@pytest.mark.parametrize(("fail_at", "code"), [(0, 0), (3, 4)], ids=["completes", "fails"])
def test_a_plug_in_that_replaces_the_streams_keeps_them_for_its_own_output(
    tmp_path: Path, fail_at: int, code: int
) -> None:
    """Bug: a strategy that set ``sys.stdout = open("strategy.log", "w")`` (and silenced
    ``sys.stderr``) took the command's output with them: ``dryrun``'s summary went into the
    strategy's log and its ``failed: STRATEGY_ERROR`` line nowhere, the terminal blank. The
    command's own streams are put back once the plug-ins ran."""
    (tmp_path / "logsplug.py").write_text(_TAKES_THE_STREAMS)
    (tmp_path / "logs.toml").write_text(
        'strategy_id = "logs"\nstrategy_factory = "logsplug:make"\n'
    )
    log = tmp_path / "strategy.log"
    env = {**os.environ, "STRATEGY_LOG": str(log), "FAIL_AT": str(fail_at)}
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "dryrun", "-c", str(tmp_path / "logs.toml"),
         "--out", str(tmp_path / "runs"), "--run-id", "r", "--steps", "10"],
        capture_output=True, text=True, check=False, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    if code == 0:
        assert "status      COMPLETED" in done.stdout
        assert done.stderr == ""
    else:
        said = "livesession: failed: STRATEGY_ERROR (RuntimeError: alpha blew up; raised at "
        assert said + f"{tmp_path / 'logsplug.py'}:" in done.stderr
    assert "status" not in log.read_text()  # the plug-in's file holds its own prints only
    assert log.read_text().startswith("bar 1\n")


@pytest.mark.parametrize(
    "closes",
    ["sys.stdout.close()", "sys.stderr.close()", "with sys.stdout as out: out.write('')"],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_a_plug_in_closing_the_commands_stream_keeps_its_output_and_exit_code(
    tmp_path: Path, closes: str, as_json: bool
) -> None:
    """A strategy's ``sys.stdout.close()`` (a library's ``with sys.stdout:``) closed the
    terminal's stream under ``dryrun``: its summary raised ``ValueError: I/O operation on
    closed file`` in a traceback, exit 1, for a run it had sealed COMPLETED
    (``sys.stderr.close()``: ``lost sys.stderr``, exit 1). The command's streams are not a
    plug-in's to close: its summary, or its JSON object, comes out, exit 0."""
    strategy_at_calls(tmp_path, "closer", {3: closes}, steps=20)
    flags = "--json" if as_json else ""
    done = _shell(tmp_path, f"dryrun --config desk.toml --out runs --run-id c {flags}", "")
    assert (done.returncode, "Traceback" in done.stderr) == (0, False), done.stderr
    if as_json:
        assert orjson.loads(done.stdout)["status"] == "COMPLETED"
    else:
        assert "artifacts   runs/c" in done.stdout
