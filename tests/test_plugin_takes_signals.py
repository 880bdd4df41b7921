"""A plug-in that installs its own handler of one of the CLI's signals.

A strategy (or a library it imports, for its own clean-up) that calls
``signal.signal(signal.SIGTERM, ...)`` inside ``on_bar`` took the run's stop signal: a
``docker stop`` reached its handler, and the run went on to its end (or was killed at the
end of the grace period, unsealed). The CLI now puts its own handler back at the step's end
and says so once on stderr.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import orjson
import pytest

from _callplug import strategy_at_calls

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_plug_ins_own_handler_of_a_cli_signal_is_put_back(tmp_path: Path, name: str) -> None:
    """The SIGTERM (or Ctrl-C) of the 6th step stopped nothing: the run went on to its 40th
    step, sealed COMPLETED as if no one had asked it to stop. Now it stops there
    (``SIGNAL_SIGTERM``), and stderr says whose handler was put back."""
    at = {
        3: f"signal.signal(signal.{name}, lambda signum, frame: None)",  # a library's clean-up
        6: f"os.kill(os.getpid(), signal.{name})",  # the operator's stop, a later step
    }
    strategy_at_calls(tmp_path, "takes", at, steps=40)
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "dryrun", "--config", "desk.toml",
         "--out", "runs", "--run-id", "t", "--json"],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outcome = orjson.loads(done.stdout)
    assert (outcome["status"], outcome["reason"], outcome["steps"]) == (
        "COMPLETED",
        f"SIGNAL_{name}",
        6,
    )
    said = (
        f"livesession: a plug-in replaced the command's {name} handler: put back at the "
        f"step's end, so that {name} still reaches the run (a plug-in leaves SIGINT, SIGTERM, "
        "SIGHUP, SIGXCPU, SIGUSR1 and SIGUSR2 to the command: docs/plugins.md)\n"
    )
    assert said in done.stderr
