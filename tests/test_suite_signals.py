"""The suite's own Ctrl-C tests hold when the suite was started with SIGINT ignored.

Bug: started as a background job of a shell without job control (`( pytest & )`), the
suite inherited SIGINT ignored; Python then installs no Ctrl-C handler, and the tests that
send their own process SIGINT failed (`DID NOT RAISE KeyboardInterrupt`) or killed an xdist
worker. ``conftest.py`` gives the process Python's Ctrl-C handler back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def test_the_ctrl_c_tests_pass_when_the_suite_starts_with_sigint_ignored() -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-n", "0", str(TESTS / "test_interrupts.py"), "-k", "TestCtrlC",
        ],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        # a shell's PYTEST_ADDOPTS=-p no:xdist refused the -n 0: the child's options are these
        env={k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=TESTS.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
    assert "failed" not in done.stdout
