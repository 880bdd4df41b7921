"""Operator commands racing the process that holds the run, in the racy order, by hand.

The holder is another process that may be descheduled for seconds anywhere: each test here
drives the holder's side (a resume, a verb) in this process, between the command's mark and
its reading of the run's files, in the order a loaded machine can give. Nothing sleeps.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import orjson
import pytest

from livesession import DryrunConfig, _control_effects, control, create_run, resume_run
from livesession._artifacts import names
from livesession._cli_runs import _session_log
from livesession._rundir import holderread, lock
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


@pytest.mark.parametrize(
    ("action", "effects"),
    [("kill", ("KILL_SWITCH", "KILL_SWITCH_FLAT")), ("ack", ("TRADING_REENABLED",))],
)
def test_a_holder_that_checkpoints_and_ends_as_the_command_looks_is_not_said_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, action: str, effects: tuple[str, ...]
) -> None:
    """`kill` read the events (the kill switch tripped and flat) and whether the checkpoint
    held them (not yet), and only then asked whether the holder still held the run. The
    holder, meanwhile, wrote the checkpoint that holds them, ran to its end, sealed and let
    the run go: `kill` said "pid N ended before a checkpoint held the kill switch, so the run
    resumes without it: resume, then kill again", exit 8, of a run sealed with the kill in
    it (`ack` alike). Whether the holder ended is asked first now: what the files hold
    after it is final."""
    events = tmp_path / names.EVENTS
    events.write_bytes(b"")
    _checkpoint_holding(tmp_path, 0)
    watch = RunWatch(tmp_path)
    watch.mark()
    with events.open("ab") as holder:  # the holder acts on the signal; no checkpoint yet
        for effect in effects:
            holder.write(orjson.dumps({"event_type": effect, "payload": {}}) + b"\n")

    def ends_meanwhile(_watch: RunWatch, _holder: object) -> bool:
        # Between the command's reads, the holder checkpoints, seals and lets the run go.
        _checkpoint_holding(tmp_path, events.stat().st_size)
        return True

    monkeypatch.setattr(_control_effects, "holder_ended", ends_meanwhile)
    check = {"kill": control._killed, "ack": control._acked}[action]
    outcome = check(watch, types.SimpleNamespace(pid=4242), "pid 4242")  # type: ignore[arg-type]
    assert outcome is not None
    assert outcome.kind == "done", outcome.line


def _checkpoint_holding(run_dir: Path, events_bytes: int) -> None:
    """A checkpoint that holds ``events_bytes`` of ``events.jsonl`` (all a command reads)."""
    checkpoint = {"recorder": {"offsets": {"events": events_bytes}}}
    (run_dir / names.CHECKPOINT).write_bytes(orjson.dumps(checkpoint))


def test_a_command_as_a_resume_takes_the_lock_finds_the_resume_not_the_dead_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `resume` takes the lock of a crashed run, then writes its name over the dead
    writer's in `writer.lock`. `livesession stop` in between (a resume descheduled there)
    read the dead writer's name, whose process the lock no longer proved: it signalled that
    pid, found it gone, and said `pid N ended: ... unfinished: resume it` (exit 8), while
    the resume went on and traded, the stop never sent to it. A name of a dead process on
    this host is read again for a moment, as one that does not parse is."""
    with subprocess.Popen([sys.executable, "-c", "pass"]) as crashed:
        crashed.wait()
    path = tmp_path / names.WRITER_LOCK

    def name(pid: int, verb: str) -> None:
        said = {"pid": pid, "host": socket.gethostname(), "since": "?", "command": verb}
        path.write_bytes(orjson.dumps(said))

    name(crashed.pid, "livesession dryrun")  # the crashed writer's name, left behind
    fd = os.open(path, os.O_RDWR)
    try:
        assert lock._try_lock(fd)  # the resume takes the lock; its name comes a moment later
        monkeypatch.setattr(  # the name read again a moment later (holderread's pause)
            holderread, "time", types.SimpleNamespace(sleep=lambda _: name(os.getpid(), "resume"))
        )
        holder = holder_of(tmp_path)
    finally:
        os.close(fd)
    assert holder is not None
    assert (holder.pid, holder.command) == (os.getpid(), "resume")


def test_an_answer_to_an_earlier_signal_is_not_taken_for_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first `ack` timed out (the holder descheduled with its signal taken, its answer
    not logged yet); a second `ack` marked the session log and signalled, and the holder
    then logged its answer to the first (`nothing to acknowledge`, trading ACTIVE). The
    second command printed that answer as its own (exit 0, "nothing to acknowledge"), and
    the holder, acting on the second signal after a kill, re-enabled trading. Each answer
    says when the holder took the signal now; an answer to one taken before this command
    sent its own is another command's."""
    session = create_run(DryrunConfig(run_id="a", steps=20, checkpoint_every=5), tmp_path)
    run = tmp_path / "a"
    session.preflight()
    session.activate()
    controls = control.SignalControls()
    real_answer, late = control._answer, []
    monkeypatch.setattr(control, "_answer", lambda *said, **when: late.append((said, when)))
    controls._ack = True  # the first ack's signal
    assert controls.at_step_boundary(session)  # taken, answered "nothing to acknowledge" ...
    monkeypatch.setattr(control, "_answer", real_answer)

    def signal_then_the_late_answer(pid: int, signum: int) -> None:
        if signum == 0:  # asked whether it lives (holder_of)
            return
        assert (pid, signum) == (os.getpid(), control.ACK_SIGNAL)
        controls._ack = True  # the second ack's signal: pending till the next boundary
        said, when = late.pop()
        real_answer(*said, **when)  # ... and only now logged

    monkeypatch.setattr(control, "not_a_cli_writer", lambda *_: "")
    monkeypatch.setattr(os, "kill", signal_then_the_late_answer)
    with _session_log(run, "info", session.config.run_id):
        outcome = control.send_control("ack", run, timeout_s=0)  # one look, then gives up
        assert outcome.kind == "timeout", outcome.line  # not the first ack's answer
        assert session.kill("SIGNAL_SIGUSR1")  # halted meanwhile: the second ack re-enables
        assert controls.at_step_boundary(session)
    assert session.trading_state.value == "ACTIVE"
    assert session.run_to_end(20).status.value == "COMPLETED"
    session.close()


@pytest.mark.parametrize("killed_before", [False, True])
def test_a_kill_and_an_ack_taken_at_one_boundary_leave_trading_halted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, killed_before: bool
) -> None:
    """Two operators at once: one ran `kill`, the other `ack`, and the holder took both
    signals at one step boundary. It acted on the kill, then on the ack, which found the
    book flat (nothing open) and re-enabled trading at once: `kill` said "kill switch
    tripped ... HALTED ... flat" (exit 0), or "nothing to do: trading is HALTED" of a run
    killed before, and the run traded on, ACTIVE. The kill stands now; the ack is refused
    (exit 3) and says why."""
    session = create_run(DryrunConfig(run_id="ka", steps=20, checkpoint_every=5), tmp_path)
    run = tmp_path / "ka"
    session.preflight()
    session.activate()
    if killed_before:
        assert session.kill("SIGNAL_SIGUSR1")  # an earlier kill, flat: ack would re-enable
    controls = control.SignalControls()

    def both_signals(pid: int, signum: int) -> None:
        if signum == 0:  # asked whether it lives (holder_of)
            return
        assert (pid, signum) == (os.getpid(), control.ACK_SIGNAL)
        controls._kill = True  # the other terminal's kill lands with the ack's signal
        controls._ack = True
        assert controls.at_step_boundary(session)  # the holder takes both at one boundary

    monkeypatch.setattr(control, "not_a_cli_writer", lambda *_: "")
    monkeypatch.setattr(os, "kill", both_signals)
    with _session_log(run, "info", session.config.run_id):
        outcome = control.send_control("ack", run, timeout_s=0)
    assert session.trading_state.value == "HALTED"
    assert outcome.kind == "refused", outcome.line
    assert "a kill came at the same step boundary, and it stands" in outcome.line
    assert session.run_to_end(20).status.value == "COMPLETED"
    assert session.trading_state.value == "HALTED"
    session.close()


def test_an_ack_that_lands_while_the_holder_acts_on_a_kill_is_the_next_boundary_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found on a loaded machine: `ack`, sent once `kill` had confirmed its kill (flat, a
    checkpoint holding it), reached the holder while it still wrote the kill's answer; taken
    at that same boundary, it was refused as if the two had come together (`a kill came at
    the same step boundary, and it stands`, exit 3). A boundary acts on the flags raised
    before it: the ack waits for the next one, and re-enables trading."""
    session = create_run(DryrunConfig(run_id="ak", steps=20, checkpoint_every=5), tmp_path)
    run = tmp_path / "ak"
    session.preflight()
    session.activate()
    controls = control.SignalControls()
    answered = control._answer

    def ack_lands(session_: object, sig: str, action: str, outcome: str, **kw: object) -> None:
        answered(session_, sig, action, outcome, **kw)  # type: ignore[arg-type]
        if action == "kill":  # the second operator's ack, as its handler takes it
            controls._on_ack(control.ACK_SIGNAL, None)

    monkeypatch.setattr(control, "_answer", ack_lands)
    controls._on_kill(control.KILL_SIGNAL, None)
    with _session_log(run, "info", session.config.run_id):
        assert controls.at_step_boundary(session)
        assert session.trading_state.value == "HALTED", "the kill, alone at its boundary"
        assert controls.at_step_boundary(session)
    assert session.trading_state.value == "ACTIVE", "the ack, at the next"
    assert session.run_to_end(20).status.value == "COMPLETED"
    session.close()
