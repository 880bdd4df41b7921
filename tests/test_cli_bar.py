"""A long dry run draws its progress bar on stderr, the terminal; stdout stays plain.

The summary on stdout may be piped into a file or a script while the operator watches the
terminal: the bar must not end up in it.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path


def test_a_long_dry_run_draws_its_bar_on_stderr_only(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "livesession.cli", "dryrun", "--steps", "20000",
             "--durability", "none", "--out", str(tmp_path), "--run-id", "bar"],
            stdout=subprocess.PIPE, stderr=terminal, env=env, check=False, timeout=300,
        )  # fmt: skip
        os.close(terminal)
        drawn = b""
        while select.select([controller], [], [], 0.5)[0]:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0
    assert b"dry run" in drawn
    assert b"\x1b[" not in done.stdout  # no terminal control sequences in the summary
    assert b"dry run" not in done.stdout
    assert b"bar" in done.stdout  # the summary names the run
