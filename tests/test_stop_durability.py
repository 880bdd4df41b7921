"""A stop the session accepted survives a crash in its wind-down: resume finishes the stop.

An operator stopped a run (`livesession stop`, SIGTERM, `request_stop`) and the process
died in the wind-down (a crash point after the flatten, a sink write): the last checkpoint
was the periodic one before the stop, so `resume` went back to it and traded every step
left, sealing COMPLETED with reason "" instead of the stop's. Now the session checkpoints
once it is STOPPING, before the wind-down sends anything, and a resume of that checkpoint
winds down and seals with the stop's reason: the same bytes as the run the crash did not
interrupt.

Crashes are deterministic: the process stops itself (SIGSTOP) inside the checkpoint of step
100, is sent SIGTERM and continued, so the stop comes at step 100's boundary, and a crash
point counted from the uninterrupted run kills it inside the wind-down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from livesession import SessionState, SessionStatus, resume_run

from _helpers import DEEP
from crash_harness import KILLED, cli, comparable_audit, dryrun_stopped_at, read_jsonl

_STOP_AT = 100  # the step whose checkpoint (the 5th) the process pauses in


def _config(tmp_path: Path, broker: str) -> Path:
    config = tmp_path / "wd.toml"
    config.write_text(
        f'run_id = "wd"\nsteps = 400\ncheckpoint_every = 25\nbroker = "{broker}"\ndurability = "none"\n',
        encoding="utf-8",
    )
    return config


def _stopping_at(run_dir: Path) -> tuple[int, int]:
    """How many event and snapshot lines the run had once it was STOPPING."""
    events = read_jsonl(run_dir / "events.jsonl")
    (at,) = [
        n
        for n, e in enumerate(events, start=1)
        if e["event_type"] == "STATE_CHANGED" and e["payload"]["to_state"] == "STOPPING"
    ]
    states = read_jsonl(run_dir / "state_snapshots.jsonl")
    (snap,) = [n for n, s in enumerate(states, start=1) if s["fsm_state"] == "STOPPING"]
    return at, snap


def _checkpoint(run_dir: Path) -> dict[str, object]:
    checkpoint: dict[str, object] = orjson.loads((run_dir / "checkpoint.json").read_bytes())
    return checkpoint


@pytest.mark.parametrize(
    ("broker", "crash"),
    [
        (broker, crash)
        for broker in ("mock", "realish")
        for crash in (
            "after_flatten",
            "write_events+2",
            "torn_events+3",
            "write_states+1",
            "torn_audit",
        )
        # The realish venue's wind-down at every crash point is the deep campaign's.
        if DEEP or broker == "mock" or crash in ("after_flatten", "torn_audit")
    ],
)
def test_a_crash_in_a_stop_s_wind_down_resumes_the_stop_not_the_trading(
    tmp_path: Path, broker: str, crash: str
) -> None:
    """The resumed run winds down and seals at step 100 with SIGNAL_SIGTERM, as the
    uninterrupted stop does; it used to trade on to step 400 and seal with reason ""."""
    config = _config(tmp_path, broker)
    straight = tmp_path / "straight"
    assert dryrun_stopped_at(config, straight, pause_at="checkpoint:5", crash_at="") == 0
    events_at, states_at = _stopping_at(straight / "wd")
    label, _, more = crash.partition("+")
    sink = label.rpartition("_")[2]
    hits = {"events": events_at, "states": states_at}.get(sink, 0) + int(more or 0)
    if label == "torn_audit":  # the first audit line of the wind-down: its seal's
        hits = len(read_jsonl(straight / "wd" / "audit.jsonl"))
    crash_at = f"{label}:{hits}" if hits else label
    out = tmp_path / "runs"
    assert dryrun_stopped_at(config, out, pause_at="checkpoint:5", crash_at=crash_at) == KILLED
    run_dir = out / "wd"
    checkpoint = _checkpoint(run_dir)
    assert (checkpoint["steps"], checkpoint["fsm_state"]) == (_STOP_AT, "STOPPING")
    assert checkpoint["reason"] == "SIGNAL_SIGTERM"
    resumed = cli("resume", run_dir, "-q")
    assert resumed.returncode == 0, resumed.stderr
    [sealed] = [
        e for e in read_jsonl(run_dir / "events.jsonl") if e["event_type"] == "SESSION_STOPPED"
    ]
    assert sealed["payload"]["reason"] == "SIGNAL_SIGTERM"
    assert sealed["payload"]["steps"] == _STOP_AT
    for name in ("events.jsonl", "state_snapshots.jsonl"):
        assert (run_dir / name).read_bytes() == (straight / "wd" / name).read_bytes(), name
    assert comparable_audit(run_dir / "audit.jsonl") == comparable_audit(
        straight / "wd" / "audit.jsonl"
    )
    assert cli("verify", run_dir).returncode == 0


# -- from Python: request_stop ------------------------------------------------------------

_STOP_FROM_PYTHON = """
import sys
from pathlib import Path
from livesession import DryrunConfig, create_run

cfg = DryrunConfig(run_id="py", steps=400, checkpoint_every=25, durability="none")
session = create_run(cfg, Path(sys.argv[1]))
assert session.preflight()
session.activate()
session.run_n_steps(110)
result = session.request_stop("desk", sealed_as=sys.argv[2] == "sealed_as")
assert result.applied, result  # the crash point, armed, ends the process before this
session.close()
"""


@pytest.mark.parametrize("sealed_as", ["sealed_as", "plain"])
def test_a_request_stop_from_python_survives_a_crash_in_its_wind_down(
    tmp_path: Path, sealed_as: str
) -> None:
    """`resume_run` gives a session still STOPPING at step 110; closing it winds down and
    seals as the uninterrupted stop did (reason `desk` when it is the seal's, else "")."""

    def run(where: Path, crash_at: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", _STOP_FROM_PYTHON, str(where), sealed_as],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=os.environ | {"LIVESESSION_CRASH_AT": crash_at},
        )
        assert done.returncode in (0, -signal.SIGKILL), done.stderr
        return done.returncode

    assert run(tmp_path / "straight", "") == 0
    assert run(tmp_path / "crashed", "after_flatten") == -signal.SIGKILL
    run_dir = tmp_path / "crashed" / "py"
    with resume_run(run_dir) as session:
        assert (session.state, session.steps_done) == (SessionState.STOPPING, 110)
        assert session.run_n_steps(5) == 0  # it does not trade again
    result = session.result()
    assert (result.state, result.status, result.steps) == (
        SessionState.STOPPED,
        SessionStatus.COMPLETED,
        110,
    )
    assert result.reason == ("desk" if sealed_as == "sealed_as" else "")
    for name in ("events.jsonl", "state_snapshots.jsonl"):
        straight = tmp_path / "straight" / "py" / name
        assert (run_dir / name).read_bytes() == straight.read_bytes(), name
