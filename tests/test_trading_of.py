"""``trading_of``: whether the kill switch halted a run no process holds, from its checkpoint.

The kill switch halted it only if its trading is HALTED at the end (a run killed, then
re-enabled by an operator, trades ACTIVE: not halted by anything), and a lost lease halts
with no kill (its halt is told by the reason ``LEASE_LOST``). A checkpoint written before
``kill_halted`` says the kill by ``kill_started_ns`` (as the governor reads it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from livesession._rundir.standing import trading_of


@pytest.mark.parametrize(
    ("checkpoint", "killed"),
    [
        ({"kill_halted": True, "trading": "HALTED"}, True),
        ({"kill_started_ns": 5, "trading": "HALTED"}, True),  # an older release's
        ({"kill_halted": True, "trading": "ACTIVE"}, False),  # re-enabled since
        ({"kill_started_ns": 5, "trading": "REDUCING"}, False),
        ({"kill_halted": True, "trading": "HALTED", "reason": "LEASE_LOST"}, False),
        ({"kill_halted": False, "trading": "HALTED"}, False),
    ],
)
def test_the_kill_switch_halted_it_only_if_halted_at_the_end_and_no_lease_was_lost(
    tmp_path: Path, checkpoint: dict[str, Any], killed: bool
) -> None:
    found = trading_of(tmp_path, checkpoint, live=False)
    assert (found["trading"], found["kill_halted"]) == (checkpoint["trading"], killed)
