"""A file the system refuses in a wind-down: the run is left unsealed, and every tool says why.

Bug: a sink that died as the run wound down (a full disk at its stop's snapshot, say) left
the run unsealed, as it must, and only the dying process's own stderr named the file:
``livesession status DIR`` said ``crashed ... next  continue it: livesession resume DIR``,
and ``livesession stop DIR`` (the operator's, or a supervisor's) ``pid N ended without
sealing DIR: continue it with ...`` or ``... ended before a checkpoint held the stop ...,
so the run resumes without it``: a resume run at once meets the same full disk. Both now
name the file, where it was refused and what must be so first, from ``metrics.json``'s
``<sink>_sink_failed_at`` / ``<sink>_sink_error`` (what ``verify`` reads); once there is
room, the resume finishes the wind-down and seals.
"""

from __future__ import annotations

import json
import shlex
import types
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import control, resume_run
from livesession._artifacts import names, sinks
from livesession._rundir.watch import RunWatch
from livesession.cli import main
from livesession.status import Verdict, run_status
from livesession.verify import verify_run

_REFUSED = pytest.mark.broken_run("the file system refuses writes on purpose: resumed after")
_NO_SPACE = "OSError: [Errno 28] No space left on device"
_FILE = {"events": names.EVENTS, "states": names.SNAPSHOTS, "audit": names.AUDIT}


def _refuse(
    monkeypatch: pytest.MonkeyPatch,
    file: str,
    *,
    once: bytes,
    after: int = 0,
    error: tuple[int, str] = (28, "No space left on device"),
) -> None:
    """``file`` refuses every write from its ``after``-th on, counted once events.jsonl took
    the line holding ``once`` (``error``: a full disk, ENOSPC, unless told)."""
    real = sinks.FileLineSink.write_line
    seen = {"on": False, "writes": 0}

    def write_line(self: Any, line: bytes) -> None:
        if self.path.name == names.EVENTS and once in line:
            seen["on"] = True
        if seen["on"] and self.path.name == file:
            seen["writes"] += 1
            if seen["writes"] >= after:
                raise OSError(*error)
        real(self, line)

    monkeypatch.setattr(sinks.FileLineSink, "write_line", write_line)


def _refused_in_the_wind_down(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sink: str,
    after: int,
    error: tuple[int, str] = (28, "No space left on device"),
) -> Path:
    """A CLI dryrun holding a position at its end (45 steps), whose ``sink`` file refuses
    writes from the ``after``-th the wind-down makes (with ``error``): unsealed, exit 2."""
    config = tmp_path / "run.toml"
    config.write_text("[strategy]\nfast = 2\nslow = 5\n", encoding="utf-8")
    _refuse(monkeypatch, _FILE[sink], once=b'"to_state":"STOPPING"', after=after, error=error)
    args = ["dryrun", "--out", str(tmp_path), "--run-id", "r", "-c", str(config), "-q"]
    assert main([*args, "--steps", "45", "--idempotency-backend", "jsonl"]) == 2
    monkeypatch.undo()  # the disk has room again
    return tmp_path / "r"


def _said(run_dir: Path, sink: str) -> str:
    metrics = orjson.loads((run_dir / names.METRICS).read_bytes())
    at, error = metrics[f"{sink}_sink_failed_at"], metrics[f"{sink}_sink_error"]
    unit = "record" if sink == "audit" else "line"
    assert error == _NO_SPACE
    return (
        f"the {sink} sink failed at {unit} {at} of {run_dir / _FILE[sink]} ({error}): the run "
        "is not sealed; once the file system has room again: "
    )


@_REFUSED
@pytest.mark.parametrize(("sink", "after"), [("events", 3), ("states", 2), ("audit", 1)])
def test_status_and_stop_name_the_file_refused_and_resume_finishes_the_wind_down(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sink: str,
    after: int,
) -> None:
    run_dir = _refused_in_the_wind_down(tmp_path, monkeypatch, sink, after)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"livesession: error: the {sink} sink failed "), line
    said = _said(run_dir, sink)

    assert main(["status", str(run_dir), "--json"]) == Verdict.CRASHED.value
    found = json.loads(capsys.readouterr().out)
    assert (found["state"], found["verdict"]) == ("STOPPING", "crashed")
    assert found["next"] == f"{said}continue it: livesession resume {shlex.quote(str(run_dir))}"
    stopped = control._stopped(RunWatch(run_dir), types.SimpleNamespace(pid=4242), "pid 4242")  # type: ignore[arg-type]
    assert stopped is not None
    assert stopped.kind == "not_held"
    assert stopped.line == (
        f"pid 4242 ended without sealing {run_dir}: {said}a checkpoint holds the stop "
        f"(session closed): `livesession resume {run_dir}` finishes the stop (winds down and "
        "seals; it trades no more)"
    )
    lost = control._lost(RunWatch(run_dir), "pid 4242", "the stop (SIGNAL_SIGTERM)", "stop")
    assert lost.line == (  # the stop's checkpoint was the write refused: a resume trades on
        "pid 4242 ended before a checkpoint held the stop (SIGNAL_SIGTERM), so the run resumes "
        f"without it: {said}`livesession resume {run_dir}`, then `livesession stop {run_dir}` "
        "again"
    )

    assert main(["resume", str(run_dir), "-q"]) == 0  # room again: it winds down and seals
    assert verify_run(run_dir).ok
    done = run_status(run_dir)
    assert (done.verdict, done.state, done.positions) == (
        Verdict.COMPLETED,
        "STOPPED",
        {"BTC/USDT": "0.000"},  # the flatten the wind-down sent, once only
    )
    events = [orjson.loads(line) for line in (run_dir / names.EVENTS).read_bytes().splitlines()]
    flattens = [e for e in events if e["payload"].get("reason") == "flatten"]
    assert len(flattens) == 1, flattens


@_REFUSED
def test_the_refusal_said_is_its_own_errno_s_and_a_path_s_braces_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file too large (EFBIG, not a full disk) says what must be so for that errno, and an
    output directory whose name holds braces reads the same to status (whose words are
    formatted after, so the braces it is given are doubled) as to stop (whose are not)."""
    out = tmp_path / "out{x}"
    out.mkdir()
    run_dir = _refused_in_the_wind_down(out, monkeypatch, "events", 3, (27, "File too large"))
    capsys.readouterr()
    at = orjson.loads((run_dir / names.METRICS).read_bytes())["events_sink_failed_at"]
    said = (
        f"the events sink failed at line {at} of {run_dir / names.EVENTS} (OSError: [Errno 27] "
        "File too large): the run is not sealed; once files may grow again (file too large: "
        "raise the file size limit, `ulimit -f`): "
    )
    assert (
        run_status(run_dir).next_step()
        == f"{said}continue it: livesession resume {shlex.quote(str(run_dir))}"
    )
    stopped = control._stopped(RunWatch(run_dir), types.SimpleNamespace(pid=4242), "pid 4242")  # type: ignore[arg-type]
    assert stopped is not None
    assert stopped.line.startswith(f"pid 4242 ended without sealing {run_dir}: {said}")
    assert main(["resume", str(run_dir), "-q"]) == 0  # the limit raised: it seals


@_REFUSED
def test_a_refusal_a_resume_has_gone_past_is_not_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """metrics.json keeps the claim until the resume's first checkpoint: a resume that
    crashed before it (its C2_RESUME in the audit) is not said to have been refused."""
    config = tmp_path / "run.toml"
    config.write_text("[strategy]\nfast = 2\nslow = 5\n", encoding="utf-8")
    _refuse(monkeypatch, names.EVENTS, once=b'"event_type":"BAR"', after=60)
    args = ["dryrun", "--out", str(tmp_path), "--run-id", "r", "-c", str(config), "-q"]
    assert main([*args, "--steps", "300", "--idempotency-backend", "jsonl"]) == 2
    monkeypatch.undo()
    run_dir = tmp_path / "r"
    assert run_status(run_dir).next_step().startswith("the events sink failed at line ")
    session = resume_run(run_dir)
    calls: list[object] = []

    def crash(_: object) -> None:  # in its third step, before any checkpoint of its own
        calls.append(_)
        if len(calls) == 3:
            raise KeyboardInterrupt

    session.step_hooks.append(crash)
    with pytest.raises(KeyboardInterrupt):
        session.run_n_steps(300)
    session.close()  # seals nothing: a crash
    assert run_status(run_dir).next_step() == f"continue it: livesession resume {run_dir}"
