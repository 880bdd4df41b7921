"""`livesession stop` while the holder has sealed its run but not let it go yet.

After its seal a `dryrun` still hands its alerts to the webhook (bounded by `[alerts]`
`timeout_ms` and a second) and prints its summary, holding the run's writer lock. A slow
webhook outlasted `stop --timeout`, and `stop` said `no effect seen in DIR within 10 s (a
long step or wind-down?)` of a run sealed `COMPLETED (SIGNAL_SIGTERM)`. The outcome stays
a timeout (exit 9: the process has not let the run go), and the line now says what the
files show: the seal, and what the process is still doing.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from livesession import control
from livesession.cli import EXIT_OK, main

from _helpers import held_by_a_child


def test_stop_names_the_seal_of_a_holder_still_delivering_its_alerts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "sealed"
    args = ["dryrun", "-q", "--out", str(tmp_path), "--run-id", "sealed", "--steps", "5"]
    assert main(args) == EXIT_OK
    assert main(["verify", str(run_dir)]) == EXIT_OK
    capsys.readouterr()
    sent: list[tuple[int, int]] = []
    with held_by_a_child(run_dir, "livesession dryrun") as child, monkeypatch.context() as m:
        # The holder: a process with the run's lock that, as a sealed dryrun, ignores SIGTERM.
        m.setattr(control, "not_a_cli_writer", lambda *_: "")
        m.setattr(os, "kill", lambda pid, signum: sent.append((pid, signum)))
        outcome = control.send_control("stop", run_dir, timeout_s=0)
    # Signal 0 asks whether the holder it names lives (``holder_of``): nothing is sent.
    assert [signalled for signalled in sent if signalled[1]] == [(child.pid, signal.SIGTERM)]
    assert outcome.kind == "timeout"  # exit 9
    assert "no effect seen" not in outcome.line
    assert outcome.line == (
        f"sent SIGTERM to pid {child.pid}; within 0 s it sealed the run COMPLETED, but has not "
        "let it go yet (it hands its alerts to the webhook, for at most [alerts] timeout_ms "
        f"and a second, and prints its summary): check again with `livesession status "
        f"{run_dir}` or wait"
    )
