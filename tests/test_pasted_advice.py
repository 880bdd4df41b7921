"""Advice that names a command names the run too, so it works pasted as printed.

Bug: some advice said only the verb (`check again with livesession verify`, `livesession
status says where it is`): pasted, the command stopped at its missing RUN_DIR.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from livesession import DryrunConfig, RunHeld, create_run
from livesession._rundir.lock import Holder
from livesession._rundir.watch import RunWatch
from livesession.control import _no_effect
from livesession.evidence import write_evidence


def test_a_signal_without_effect_says_which_run_to_verify() -> None:
    holder = Holder(pid=0, host="?", since="?", command="?")  # pid 0: not looked at
    line = _no_effect(RunWatch(run_dir=Path("my runs/r1")), holder, "sent SIGTERM", 10)
    assert line.endswith("(a long step or wind-down?): check again with `livesession verify "
                         "'my runs/r1'` or wait"), line  # fmt: skip


def test_evidence_of_a_held_run_says_which_run_status_reads(tmp_path: Path) -> None:
    session = create_run(DryrunConfig(run_id="held", steps=20), tmp_path)
    run_dir = tmp_path / "held"
    try:
        with pytest.raises(RunHeld) as refused:
            write_evidence(run_dir)
        assert str(refused.value).endswith(
            f"(wait for it to end; `livesession status {run_dir}` says where it is)"
        ), refused.value
    finally:
        session.run_to_end(20)
        session.close()
