"""Operator commands racing the process that holds the run, in the racy order, by hand.

The holder is another process that may be descheduled for seconds anywhere: each test here
drives the holder's side (a resume, a verb) in this process, between the command's mark and
its reading of the run's files, in the order a loaded machine can give. Nothing sleeps.
"""

from __future__ import annotations

from pathlib import Path

from livesession import DryrunConfig, control, create_run, resume_run
from livesession._artifacts import names
from livesession._rundir.livecut import checkpointed_bytes
from livesession._rundir.lock import holder_of
from livesession._rundir.watch import RunWatch

from _helpers import crash_in_step


def test_a_kill_sent_as_a_resume_starts_sees_the_kill_written_below_its_mark(
    tmp_path: Path,
) -> None:
    """`livesession kill` of a run a `resume` had just taken (its lock, its name written)
    marked `events.jsonl` with the crashed run's torn tail still in it; the resume then cut
    the file back to its checkpoint and went on, and its KILL_SWITCH, checkpointed, landed
    below the mark. Read from the mark, it went unseen: `kill` waited its whole --timeout
    and exited 9, "no effect seen", of a run it had halted."""
    crash_in_step(
        create_run(DryrunConfig(run_id="r", steps=60, checkpoint_every=10), tmp_path), 45, 60
    )
    run = tmp_path / "r"
    events = run / names.EVENTS
    watch = RunWatch(run)
    watch.mark()  # the command looks while the resume holds the run, before its cut
    marked = watch.offsets[names.EVENTS]
    session = resume_run(run)  # cuts events.jsonl back to its checkpoint: below the mark
    assert events.stat().st_size == checkpointed_bytes(run, names.EVENTS) < marked
    assert session.kill("SIGNAL_SIGUSR1")  # the holder acts on the signal at its boundary
    assert checkpointed_bytes(run, names.EVENTS) == events.stat().st_size < marked
    holder = holder_of(run)
    assert holder is not None
    outcome = control._killed(watch, holder, "pid 4242")
    assert outcome is not None
    assert (outcome.kind, outcome.line.split(":")[0]) == ("done", "kill switch tripped in pid 4242")
    assert session.run_to_end(60).status.value == "COMPLETED"
    session.close()
