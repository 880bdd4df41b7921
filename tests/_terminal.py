"""Run the CLI with stderr on a pseudo-terminal, as an operator's shell would."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading


def cli_on_terminal(
    *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[bytes], bytes]:
    """``livesession ARGS`` with stdout piped and stderr a terminal: (the process, drawn).

    ``drawn`` is everything the command wrote to the terminal, read as it is written: a
    terminal's buffer is small, and a bar redrawn for seconds would fill it and block the
    command on its next write if it were read only at the end.
    """
    controller, terminal = pty.openpty()
    given = env or {}  # a test's own TERM, NO_COLOR, ...
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100", **given}
    env.pop("JPY_PARENT_PID", None)  # a suite run from a notebook: no bar there (_cli_bar)
    drawn: list[bytes] = []

    def read_on() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end is closed: all read
                return
            if not chunk:
                return
            drawn.append(chunk)

    reader = threading.Thread(target=read_on, daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "livesession.cli", *args],
            stdout=subprocess.PIPE, stderr=terminal, env=env, check=False, timeout=timeout,
        )  # fmt: skip
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(controller)
    return done, b"".join(drawn)
