"""How many steps an evidence re-run takes (``replay_steps``): the plan, or what the run took."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._artifacts import names
from .._artifacts.runread import json_object, payload
from .._domain.reasons import FEED_EXHAUSTED
from .._rundir.seal import last_stop

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["replay_steps"]


def replay_steps(run_dir: Path, planned: int) -> int:
    """How many steps the re-run may take: the plan, or more when the run took more.

    An application may step past the config's ``steps`` (``run_to_end(250)`` on a plan of
    200, a loop of ``run_n_steps(13)``), and a run stopped by ``max_steps`` ran to that
    bound: a re-run held to the plan would stop where the run did not. The run's last
    state snapshot counts the steps it took; the re-run stops by itself where the run's own
    stops (the feed, ``max_steps``, a fault) stopped it, and takes the recorded actions.
    A run whose feed ran out after it took them asked for one step more, which found no bar
    and counts none (``FEED_EXHAUSTED``): so may the re-run.
    """
    try:
        snapshots = (run_dir / names.SNAPSHOTS).read_bytes().splitlines()
    except OSError:  # verify says what is missing; the plan stands
        return planned
    last = json_object(snapshots[-1]) if snapshots else None
    took = last.get("step") if last is not None else None
    if not isinstance(took, int):
        return planned
    if took >= planned and _ran_out(run_dir):
        return took + 1
    return max(planned, took)


def _ran_out(run_dir: Path) -> bool:
    """Whether the run is sealed with its feed run out (``FEED_EXHAUSTED``)."""
    stop = last_stop(run_dir)
    return stop is not None and payload(stop).get("reason") == FEED_EXHAUSTED
