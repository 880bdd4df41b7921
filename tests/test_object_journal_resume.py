"""A run on a broker object that keeps its own venue journal resumes from that journal.

Bug: a desk's ``MockBroker`` subclass handed to ``create_run(..., broker=obj)`` with a
journal of its own (``MockBroker(journal=path)``, a path outside the run directory: the
object is built before the run directory exists) crashed; ``resume_run(run_dir,
broker=obj2)``, ``obj2`` on the same journal, was refused with "broker_journal.jsonl is
missing, where the checkpoint recorded 652: the record of what reached the venue lost its
end (a power cut, ...)", and ``livesession status`` said the run could not be resumed. The
journal was never in the run directory: an object's journal is where the object keeps it,
and the object replays it. The run directory's journal is checked only for a venue that
keeps it there (the config's ``mock`` or ``realish``, a ``broker_factory``'s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from _ownvenue import killed_after
from livesession import DryrunConfig, MockBroker, create_run, resume_run
from livesession._rundir.resumable import resume_problem

if TYPE_CHECKING:
    from pathlib import Path

_CFG = {
    "run_id": "desk",
    "steps": 30,
    "checkpoint_every": 1,
    "durability": "none",
    "strategy": {"fast": 2, "slow": 5},
}


class Venue(MockBroker):
    """A desk's simulated venue."""

    simulated = True


def test_a_broker_object_with_its_own_journal_resumes_from_it(tmp_path: Path):
    cfg = DryrunConfig.from_mapping(_CFG)
    journal = tmp_path / "desk_venue.jsonl"
    run_dir = killed_after(tmp_path / "runs", cfg, at_step=8, broker=Venue(journal=journal))
    assert journal.stat().st_size > 0
    assert not (run_dir / "broker_journal.jsonl").exists()
    assert resume_problem(run_dir) is None  # status: resumable
    with resume_run(run_dir, broker=Venue(journal=journal)) as session:
        resumed = session.run_to_end(cfg.steps)
    with create_run(cfg, tmp_path / "whole", broker=Venue(journal=tmp_path / "w.jsonl")) as s:
        whole = s.run_to_end(cfg.steps)
    assert resumed.status.value == "COMPLETED", resumed
    assert (resumed.orders_submitted, resumed.fills, resumed.pnl, resumed.positions) == (
        whole.orders_submitted,
        whole.fills,
        whole.pnl,
        whole.positions,
    )
