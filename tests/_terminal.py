"""Run the CLI with stderr on a pseudo-terminal, as an operator's shell would."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys


def cli_on_terminal(
    *args: str, timeout: float = 300
) -> tuple[subprocess.CompletedProcess[bytes], bytes]:
    """``livesession ARGS`` with stdout piped and stderr a terminal: (the process, drawn).

    ``drawn`` is everything the command wrote to the terminal.
    """
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    env.pop("JPY_PARENT_PID", None)  # a suite run from a notebook: no bar there (_cli_bar)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "livesession.cli", *args],
            stdout=subprocess.PIPE, stderr=terminal, env=env, check=False, timeout=timeout,
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
    return done, drawn
