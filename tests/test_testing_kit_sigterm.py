"""A SIGTERM to the failure matrix's process alone ends its child processes and scratch too.

A CI job's timeout or ``kill PID`` signals the matrix's process, not its group: the SIGTERM
ended it at once, its ``finally`` never ran, and the two children running the reference
(``_crossprocess``) went on running, their ``livesession-matrix-*`` directory left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from livesession import SmaCrossover
from livesession.testing import run_failure_matrix

from _helpers import as_pid_1, until

# The strategy blocks in the child process only (the one with the parent's sys.path handed
# to it), after saying its pid, so the parent waits on it once its search is done.
STRATEGY = """
import os
import threading
from decimal import Decimal
from pathlib import Path

from livesession import SmaCrossover


class Stuck(SmaCrossover):
    def on_bar(self, *args, **kwargs):
        if "LIVESESSION_PARENT_SYS_PATH" in os.environ:
            Path(os.environ["STUCK_MARK"]).write_text(str(os.getpid()))
            threading.Event().wait()
        return super().on_bar(*args, **kwargs)


def make():
    return Stuck(strategy_id="sma", fast=3, slow=8, order_qty=Decimal("0.01"))
"""

MATRIX = """
import sys
sys.path.insert(0, {where!r})
from stuck import make
from livesession.testing import run_failure_matrix
run_failure_matrix(make, examples=2, steps=20, seed=0)
"""


def _children_of(scratch: str) -> list[int]:
    """The pids of processes whose command line names ``scratch`` (Linux's /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if scratch.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue  # ended meanwhile
    return pids


def _matrix_scratch(scratch_root: Path) -> list[str]:
    """The matrix's ``livesession-matrix-*`` directories under ``scratch_root``.

    Not every entry: while its search still runs, hypothesis's storage is a scratch
    directory there too (``livesession-hypothesis-*``, ``_storage``), and on a loaded
    machine the child reaches its first bar before the search is done.
    """
    return [str(path) for path in scratch_root.glob("livesession-matrix-*")]


def _matrix_at_its_first_bar(
    tmp_path: Path, *, head: Sequence[str] = ()
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """The matrix over the stuck strategy, started (behind ``head``) and waited for until
    its child reaches its first bar, or it ended first (the caller says so, with what it
    wrote): the process, the scratch root its ``TMPDIR`` names, the child's pid file."""
    (tmp_path / "stuck.py").write_text(textwrap.dedent(STRATEGY))
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    mark = tmp_path / "child.pid"
    env = {**os.environ, "TMPDIR": str(scratch_root), "STUCK_MARK": str(mark)}
    script = MATRIX.format(where=str(tmp_path))
    started = subprocess.Popen(
        [*head, sys.executable, "-c", script], env=env, stderr=subprocess.PIPE
    )
    try:
        until(
            "the child to reach its first bar",
            lambda: started.poll() is not None or (mark.exists() and bool(mark.read_text())),
            deadline_s=120,
        )
    except BaseException:
        _end(started)
        raise
    return started, scratch_root, mark


def _end(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process`` if it still runs, wait for it and close its pipe: a test that
    failed part-way leaves no open pipe for the collector to warn of in another test."""
    if process.poll() is None:
        process.kill()
        process.wait()
    if process.stderr is not None:
        process.stderr.close()


def test_a_sigterm_to_the_matrix_alone_ends_its_children_and_removes_its_scratch(
    tmp_path: Path,
) -> None:
    parent, scratch_root, mark = _matrix_at_its_first_bar(tmp_path)
    try:
        assert parent.poll() is None, parent.communicate()[1].decode()
        (scratch,) = _matrix_scratch(scratch_root)
        assert "livesession-matrix-" in scratch
        children = _children_of(scratch)
        assert int(mark.read_text()) in children
        assert len(children) == 2  # the reference's child and the one resuming its crash

        parent.send_signal(signal.SIGTERM)  # to the matrix's process alone
        _, stderr = parent.communicate(timeout=60)
    finally:
        _end(parent)
    left = _children_of(scratch)
    for pid in left:  # a child left running blocks for ever: not past this test
        os.kill(pid, signal.SIGKILL)
    assert parent.returncode == -signal.SIGTERM, stderr.decode()  # ended as SIGTERM ends it
    assert left == []
    assert list(scratch_root.iterdir()) == []


def test_a_sigterm_to_the_matrix_as_pid_1_ends_it_too(tmp_path: Path) -> None:
    """Bug: a suite run as a container's first process (no init) got the SIGTERM, closed
    the children and their scratch, then raised the signal again at its default action,
    which the kernel drops for PID 1: the process went on, and the matrix failed on its
    children's missing scratch (``FileNotFoundError: .../stderr.txt``) as if the strategy
    had. It now exits there, with the status 143 a shell and the runtime show for a SIGTERM."""
    outer, scratch_root, _ = _matrix_at_its_first_bar(tmp_path, head=as_pid_1())
    try:
        assert outer.poll() is None, outer.communicate()[1].decode()
        (scratch,) = _matrix_scratch(scratch_root)
        # The matrix's process, PID 1 of its namespace (not unshare(1), whose command line
        # holds the same script): the one naming this test's own directory, not another
        # test's matrix running beside it.
        (matrix,) = [
            pid
            for pid in _children_of(f"sys.path.insert(0, {str(tmp_path)!r})")
            if Path(f"/proc/{pid}/exe").resolve() == Path(sys.executable).resolve()
        ]
        os.kill(matrix, signal.SIGTERM)  # to the matrix's process alone
        _, stderr = outer.communicate(timeout=60)
    finally:
        _end(outer)
    left = _children_of(scratch)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert outer.returncode == 128 + signal.SIGTERM, stderr.decode()
    assert left == []
    assert list(scratch_root.iterdir()) == []


def test_the_matrix_puts_the_default_sigterm_handler_back() -> None:
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    report = run_failure_matrix(_sma, examples=1, steps=12, seed=0)
    assert report.cross_process
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def _sma() -> SmaCrossover:
    return SmaCrossover(strategy_id="sma", fast=3, slow=8, order_qty=Decimal("0.01"))


def test_a_programs_own_sigterm_handler_is_left_to_it() -> None:
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("not called here")

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        report = run_failure_matrix(_sma, examples=1, steps=12, seed=0)
        assert report.cross_process
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)
