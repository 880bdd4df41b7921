"""The suite's own Ctrl-C tests hold when the suite was started with SIGINT ignored.

Bug: started as a background job of a shell without job control (`( pytest & )`), the
suite inherited SIGINT ignored; Python then installs no Ctrl-C handler, and the tests that
send their own process SIGINT failed (`DID NOT RAISE KeyboardInterrupt`) or killed an xdist
worker. ``conftest.py`` gives the process Python's Ctrl-C handler back.
"""

from __future__ import annotations

import signal
from pathlib import Path

from _helpers import child_pytest

TESTS = Path(__file__).parent


def test_the_ctrl_c_tests_pass_when_the_suite_starts_with_sigint_ignored() -> None:
    done = child_pytest(
        str(TESTS / "test_interrupts.py"),
        "-k",
        "TestCtrlC",
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
    assert "failed" not in done.stdout
