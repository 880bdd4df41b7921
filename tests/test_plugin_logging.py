"""A plug-in's own stdlib ``logging`` in the CLI: on stderr, and never with a secret's value.

livesession logs through structlog into ``session.log.jsonl``; a strategy that logs with
``logging`` (``log.warning("using key %s", os.environ["MYDESK_API_SECRET"])``) reaches
Python's own handlers instead: the last-resort one, or the one ``logging.error()`` makes,
both on the command's stderr. They printed the secret's value as it was, where every
message livesession writes itself is redacted (RUNBOOK, "Secrets").
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest

from livesession import verify_run

from _helpers import cli_child, desk_config

if TYPE_CHECKING:
    from pathlib import Path

KEY = "Zq8vX1-hunter2-plugin-log"

_LOGS = textwrap.dedent("""
    import logging
    import os
    import warnings

    log = logging.getLogger("desk.strategy")


    class Logs:
        \"\"\"Logs its key as it is built and on every bar; never trades.\"\"\"

        def __init__(self, *, strategy_id):
            self.strategy_id = strategy_id
            log.warning("built with key %s", os.environ["MYDESK_API_SECRET"])

        def on_bar(self, bar, view):
            key = os.environ["MYDESK_API_SECRET"]
            log.warning("using key %s", key)
            logging.error("root: key=" + key)  # makes the root logger's handler
            log.warning("a misfit %d", key)  # logging's error report quoted its arguments
            warnings.warn(f"key {key} is deprecated", stacklevel=1)
            try:
                raise ValueError(f"bad key {key}")
            except ValueError:
                log.exception("refused")
            return []

        get_state = dict  # nothing to remember

        def set_state(self, state):
            del state


    make = Logs
""")


@pytest.mark.parametrize("json_flag", [(), ("--json",)], ids=["plain", "json"])
def test_a_plug_ins_logging_shows_on_stderr_without_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, json_flag: tuple[str, ...]
) -> None:
    """Bug: each line printed ``MYDESK_API_SECRET``'s value on stderr (and logging's report
    of the misfit record, ``Arguments: ('...',)``, and the warning's line). Each record is
    redacted as it is made now, and each warning as it is shown: the lines still show, with
    ``***``; no run file holds the value either."""
    desk_config(
        tmp_path,
        "desk",
        {"logs.py": _LOGS},
        'run_id = "logs"\nsteps = 4\nstrategy_factory = "desk.logs:make"\n',
    )
    monkeypatch.setenv("MYDESK_API_SECRET", KEY)  # the child's environment
    proc = cli_child(tmp_path, "dryrun", "--config", "desk.toml", "--out", "runs", *json_flag)
    assert proc.returncode == 0, proc.stderr
    assert KEY not in proc.stdout + proc.stderr
    for said in (
        "built with key ***",
        "using key ***",
        "ERROR:root:root: key=***",
        "ERROR:desk.strategy:refused",
        "ValueError: bad key ***",
        "whose arguments did not fit its message: TypeError",
        "UserWarning: key *** is deprecated",
    ):
        assert said in proc.stderr, proc.stderr
    run_dir = tmp_path / "runs" / "logs"
    for path in run_dir.iterdir():
        assert KEY.encode() not in path.read_bytes(), path.name
    assert verify_run(run_dir).ok
