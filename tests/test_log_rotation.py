"""A session log rotated under a live run (logrotate) goes on at its path.

Bug: the CLI held ``session.log.jsonl`` open for the whole run. logrotate's default
``create`` mode renames the file and makes an empty one in its place: the run went on
writing into the renamed file, so the log at the path stayed empty for the rest of a
long run (and of every later rotation), and an operator's ``livesession kill`` of a run
already halted and flat, answered only in the session log, never saw the answer and
timed out (exit 9). The log now follows its path as logging's ``WatchedFileHandler``
does, and the operator commands read a log rotated since they looked (another file, or
one cut shorter by ``copytruncate``) from its start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession._artifacts import names
from livesession._artifacts.timings import StepTimer
from livesession._rundir.watch import RunWatch
from livesession._support.wholelines import LineLog
from livesession.cli import main


def _records(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert b"\x00" not in data  # no hole where a write went at a stale offset
    return [orjson.loads(line) for line in data.splitlines()]


def test_a_log_renamed_under_it_goes_on_in_the_file_made_at_its_path(tmp_path: Path) -> None:
    path = tmp_path / "session.log.jsonl"
    log = LineLog(path)
    print('{"n": 1}', file=log)
    path.rename(tmp_path / "session.log.jsonl.1")  # logrotate's create mode
    path.touch()
    print('{"n": 2}', file=log)
    log.close()
    assert _records(tmp_path / "session.log.jsonl.1") == [{"n": 1}]
    assert _records(path) == [{"n": 2}]


def test_a_log_renamed_away_is_made_again_at_its_path(tmp_path: Path) -> None:
    path = tmp_path / "session.log.jsonl"
    log = LineLog(path)
    print('{"n": 1}', file=log)
    path.rename(tmp_path / "session.log.jsonl.1")  # logrotate's nocreate mode
    print('{"n": 2}', file=log)
    print('{"n": 3}', file=log)
    log.close()
    assert _records(tmp_path / "session.log.jsonl.1") == [{"n": 1}]
    assert _records(path) == [{"n": 2}, {"n": 3}]


def test_a_log_cut_in_place_goes_on_at_its_new_end(tmp_path: Path) -> None:
    path = tmp_path / "session.log.jsonl"
    log = LineLog(path)
    print('{"n": 1}', file=log)
    os.truncate(path, 0)  # logrotate's copytruncate, after its copy
    print('{"n": 2}', file=log)
    log.close()
    assert _records(path) == [{"n": 2}]


def test_a_symlink_put_in_the_logs_place_is_never_written_through(tmp_path: Path) -> None:
    path = tmp_path / "session.log.jsonl"
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(b"")
    log = LineLog(path)
    print('{"n": 1}', file=log)
    path.rename(tmp_path / "session.log.jsonl.1")
    path.symlink_to(elsewhere)
    print('{"n": 2}', file=log)  # kept in the file it holds, never lost nor sent on
    log.close()
    assert elsewhere.read_bytes() == b""
    assert _records(tmp_path / "session.log.jsonl.1") == [{"n": 1}, {"n": 2}]


def test_a_dry_runs_log_rotated_mid_run_keeps_every_line_at_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "rot"
    log = run_dir / names.SESSION_LOG
    on_step = StepTimer.on_step

    def rotate_at_step_200(timer: StepTimer, done: int) -> None:
        if done == 200:
            log.rename(run_dir / "session.log.jsonl.1")
            log.touch()
        on_step(timer, done)

    monkeypatch.setattr(StepTimer, "on_step", rotate_at_step_200)
    argv = ["dryrun", "--steps", "400", "--durability", "none", "--out", str(tmp_path)]
    code = main([*argv, "--run-id", "rot", "--log-level", "debug", "-q"])
    assert code == 0
    before = _records(run_dir / "session.log.jsonl.1")
    after = _records(log)
    assert before[0]["event"] == "preflight_note"
    assert after[-1]["event"] == "session_stopped"  # was: an empty log for the rest of the run
    monkeypatch.undo()
    code = main([*argv, "--run-id", "straight", "--log-level", "debug", "-q"])
    assert code == 0
    straight = _records(tmp_path / "straight" / names.SESSION_LOG)
    assert [r["event"] for r in before + after] == [r["event"] for r in straight]


def _answer(sig: str) -> bytes:
    said = {"event": "operator_control", "signal": sig, "outcome": "nothing to do: flat"}
    return orjson.dumps(said) + b"\n"


@pytest.mark.parametrize("rotation", ["create", "copytruncate"])
def test_an_operator_command_reads_the_answer_in_a_log_rotated_since_it_looked(
    tmp_path: Path, rotation: str
) -> None:
    log = tmp_path / names.SESSION_LOG
    log.write_bytes(b'{"event": "progress", "step": 10000}\n' * 40)
    watch = RunWatch(tmp_path)
    watch.mark()
    if rotation == "create":
        log.rename(tmp_path / "session.log.jsonl.1")
        log.write_bytes(b"")
    else:
        os.truncate(log, 0)
    with log.open("ab") as holder:
        holder.write(_answer("SIGUSR1"))
    assert watch.answer("operator_control", "SIGUSR1") == "nothing to do: flat"
    with log.open("ab") as holder:  # what came after is read on from there, once
        holder.write(_answer("SIGUSR2"))
    assert watch.answer("operator_control", "SIGUSR2") == "nothing to do: flat"
    assert len(watch.new(names.SESSION_LOG)) == 2


def test_an_operator_command_reads_only_what_came_after_it_looked(tmp_path: Path) -> None:
    log = tmp_path / names.SESSION_LOG
    log.write_bytes(_answer("SIGUSR1"))  # an answer to an earlier kill
    watch = RunWatch(tmp_path)
    watch.mark()
    assert watch.answer("operator_control", "SIGUSR1") is None
    with log.open("ab") as holder:
        holder.write(_answer("SIGUSR2"))
    assert watch.answer("operator_control", "SIGUSR1") is None
    assert watch.answer("operator_control", "SIGUSR2") == "nothing to do: flat"


def test_the_events_are_read_from_the_mark_only_as_the_record_is_never_rotated(
    tmp_path: Path,
) -> None:
    events = tmp_path / names.EVENTS
    kill = orjson.dumps({"event_type": "KILL_SWITCH", "payload": {}}) + b"\n"
    events.write_bytes(kill * 3)  # kills before the operator's signal
    watch = RunWatch(tmp_path)
    watch.mark()
    os.truncate(events, len(kill))  # a torn tail set aside: shorter than the mark
    assert watch.events("KILL_SWITCH") == []  # an old kill is never taken for the answer


def test_the_answer_to_this_signal_is_the_last_the_holder_wrote(tmp_path: Path) -> None:
    """A second `ack` timed out (exit 9, "no effect seen") on a loaded CI machine: the first
    `ack` returns once a checkpoint holds TRADING_REENABLED, before the holder logs its
    answer ("done"), so that answer could land after the second command's mark. The watch
    took the first answer it read, the stale "done", and never read the holder's "nothing
    to acknowledge" after it. The holder answers one signal at a time, in order: the last
    answer for the signal is the one to this command."""
    log = tmp_path / names.SESSION_LOG
    log.write_bytes(b"")
    watch = RunWatch(tmp_path)
    watch.mark()
    said = {"event": "operator_control", "signal": "SIGNAL_SIGUSR2", "pid": 7}
    stale = orjson.dumps({**said, "action": "reenable_trading", "outcome": "done"})
    assert watch.answer("operator_control", "SIGNAL_SIGUSR2") is None
    with log.open("ab") as out:
        out.write(stale + b"\n")
    assert watch.answer("operator_control", "SIGNAL_SIGUSR2") == "done"  # not yet ours
    nothing = "nothing to acknowledge: the session is DRYRUN_ACTIVE, trading ACTIVE"
    with log.open("ab") as out:
        out.write(orjson.dumps({**said, "action": "ack", "outcome": nothing}) + b"\n")
    assert watch.answer("operator_control", "SIGNAL_SIGUSR2") == nothing
