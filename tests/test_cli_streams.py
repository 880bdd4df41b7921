"""The CLI's own streams as automation leaves them: closed, or refusing every write.

A supervisor, cron or a daemon may start ``livesession`` with stdout, stderr or stdin closed
(``>&-``), or point them at a file on a full disk (``>/dev/full``). The command's exit code
is its verdict all the same, and no traceback is printed in its place.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

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
    script = f"{sys.executable} -m livesession.cli {arguments} {redirect}"
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=False, cwd=tmp_path
    )


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
        "stop runs/a": 8,
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
    run (8), a `resume` with nothing to resume (2)."""
    for arguments, code in {
        "verify runs/nope": 2,
        "stop runs/a": 8,
        "resume runs/a": 2,
        "verify --json runs/nope": 2,
    }.items():
        done = _shell(tmp_path, arguments, "2>/dev/full")
        assert done.returncode == code, (arguments, done.returncode, done.stdout)
    done = _shell(tmp_path, "verify --json runs/nope", "2>/dev/full")
    assert orjson.loads(done.stdout)["exit_code"] == 2
