"""A dead events or state sink: the run is not sealed, and says so where it still can.

Bug: an events sink that failed for good (a full disk at its 100th line) left a run sealed
anyway (``C2_DRYRUN_STOP`` over an events.jsonl that had lost lines), ``metrics.json``
counting events never written (103 for 99 lines), the result's ``detail`` empty, and
``livesession verify`` listing violations that hid the cause ("transitions differ from the
STATE_CHANGED events", "events_emitted is 103, the run says 99"). Such a run now ends as
one whose audit sink died: not sealed, ``metrics.json`` saying which file ends where
(``events_sink_failed_at``, ``events_sink_error``), the result's ``detail`` naming it, and
verify saying it in one line, with the one violation of the lines never written.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import (
    DryrunConfig,
    FileLineSink,
    FileMetricsSink,
    ListAlertSink,
    LiveSessionOrchestrator,
    SessionState,
    SessionStatus,
    create_run,
    resume_run,
)
from livesession._artifacts import sinks
from livesession._support.logging import configure_logging, disable_logging
from livesession.cli import main
from livesession.evidence import write_evidence
from livesession.verify import verify_contents, verify_run

from _helpers import DiesAfter, FlakySink, Sinks

_DEAD_SINK = pytest.mark.broken_run("a sink dies on purpose; the run is not sealed")
_NO_SPACE = "OSError: [Errno 28] No space left on device"
_FIELD = {"events": "event_sink", "states": "state_sink", "audit": "audit_sink"}
_FILE = {"events": "events.jsonl", "states": "state_snapshots.jsonl", "audit": "audit.jsonl"}


def _run_on_files(run_dir: Path, error: Exception, log: io.StringIO) -> Any:
    run_dir.mkdir()
    session = LiveSessionOrchestrator(
        DryrunConfig(run_id="evfail", steps=300),
        event_sink=FlakySink(FileLineSink(run_dir / "events.jsonl"), 100, error),
        state_sink=FileLineSink(run_dir / "state_snapshots.jsonl"),
        audit_sink=FileLineSink(run_dir / "audit.jsonl"),
        metrics_sink=FileMetricsSink(run_dir / "metrics.json"),
    )
    configure_logging(log)
    try:
        result = session.run_to_end(300)
        session.close()
    finally:
        disable_logging()
    return result


def _stopped_then_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    """A 300-step CLI run the patched disk stopped (exit 2), then room again: its folder."""
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "300", "-q"]) == 2
    monkeypatch.undo()  # room again
    capsys.readouterr()
    return out / "r"


def _next_of(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """``status --json``'s ``next`` of the crashed (exit 6) run in ``run_dir``."""
    assert main(["status", str(run_dir), "--json"]) == 6
    return str(orjson.loads(capsys.readouterr().out)["next"])


def _resumed(run_dir: Path) -> None:
    """Resumed to its end (the disk has room again), the run verifies."""
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert verify_run(run_dir).ok


def _full_disk_then_resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The evidence of a run whose events sink a full disk refused at line 250, resumed."""
    cfg = DryrunConfig(run_id="r", steps=300, checkpoint_every=50)
    session = create_run(cfg, tmp_path, alerts=False)
    events = session.recorder.sinks["events"]
    flaky = FlakySink(events, 250, OSError(28, "No space left on device"))
    monkeypatch.setitem(session.recorder._sinks, "events", flaky)  # the disk fills up
    session.run_to_end(300)
    run_dir = tmp_path / "r"
    resume_run(run_dir, alerts=False).run_to_end(300)
    result = write_evidence(run_dir)
    assert result.ok, result.problems
    return result


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@_DEAD_SINK
def test_a_dead_events_sink_leaves_the_run_unsealed_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "evfail"
    log = io.StringIO()
    result = _run_on_files(run_dir, OSError(28, "No space left on device"), log)
    said = f"events sink failed at line 100 ({_NO_SPACE})"
    assert (result.status, result.reason, result.detail) == (
        SessionStatus.FAILED,
        "SINK_WRITE_FAILED",
        said,
    )
    codes = [record["code"] for record in _lines(run_dir / "audit.jsonl")]
    assert "C2_SINK_WRITE_FAILED" in codes
    assert "C2_DRYRUN_STOP" not in codes  # not sealed over a file that lost lines
    events = _lines(run_dir / "events.jsonl")
    assert len(events) == 99
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    assert (metrics["events_sink_failed_at"], metrics["events_sink_error"]) == (100, _NO_SPACE)
    # metrics.json claims no more than events.jsonl holds, and the run's own status.
    assert metrics["events_emitted"] == 99
    assert metrics["steps"] == sum(e["event_type"] == "BAR" for e in events)
    assert metrics["state_snapshots"] == len(_lines(run_dir / "state_snapshots.jsonl"))
    assert metrics["status"] == "FAILED"
    logged = [orjson.loads(line) for line in log.getvalue().splitlines()]
    (failed,) = [entry for entry in logged if entry["event"] == "sink_failed"]
    assert (failed["sink"], failed["line"], failed["error"]) == ("events", 100, _NO_SPACE)

    verified = verify_run(run_dir)
    assert verified.summary == f"{said}: the run is not sealed"
    assert verified.violations == (
        f"events.jsonl:100: never written: the {said}, so the run has no C2_DRYRUN_STOP",
    )
    assert main(["verify", str(run_dir)]) == 1
    assert capsys.readouterr().out.splitlines()[0] == f"{said}: the run is not sealed"


@_DEAD_SINK
def test_a_secret_in_the_events_sink_error_is_redacted(tmp_path: Path) -> None:
    run_dir = tmp_path / "evfail"
    log = io.StringIO()
    error = ConnectionError("could not reach postgresql://events:Hunter2Secret@db/events")
    result = _run_on_files(run_dir, error, log)
    said = "ConnectionError: could not reach postgresql://events:***@db/events"
    assert result.detail == f"events sink failed at line 100 ({said})"
    assert orjson.loads((run_dir / "metrics.json").read_bytes())["events_sink_error"] == said
    texts = [log.getvalue(), repr(result), verify_run(run_dir).summary]
    texts += [path.read_text() for path in run_dir.iterdir()]
    assert not [text for text in texts if "Hunter2Secret" in text]


def _memory_run(sink: str, limit: int, *, steps: int = 300) -> tuple[Any, dict[str, bytes]]:
    """A session on memory sinks whose ``sink`` dies once it holds ``limit`` lines."""
    sinks = Sinks()
    dying = DiesAfter(limit)
    kwargs = sinks.kwargs()
    kwargs[_FIELD[sink]] = dying
    session = LiveSessionOrchestrator(DryrunConfig(run_id="dead", seed=33, steps=steps), **kwargs)
    result = session.run_to_end(steps)
    session.close()
    held = {name: getattr(sinks, name).getvalue() for name in _FILE}
    held[sink] = dying.getvalue()
    contents = {_FILE[name]: data for name, data in held.items()}
    contents["metrics.json"] = sinks.metrics.content
    return result, contents


def _full_run_lines() -> tuple[int, int]:
    """How many events and snapshots the same run writes when no sink fails."""
    _result, contents = _memory_run("events", 10**9)
    return (
        contents["events.jsonl"].count(b"\n"),
        contents["state_snapshots.jsonl"].count(b"\n"),
    )


@_DEAD_SINK
def test_wherever_a_sink_dies_verify_reports_only_the_lines_lost() -> None:
    """Every line of events.jsonl and of state_snapshots.jsonl as the one that fails: a
    transition whose event was lost, SESSION_STOPPED, the final snapshot..."""
    events, snapshots = _full_run_lines()
    for sink, count in (("events", events), ("states", snapshots)):
        for limit in range(1, count):
            result, contents = _memory_run(sink, limit)
            said = f"{sink} sink failed at line {limit + 1} (OSError: disk gone)"
            where = f"{sink} dying after {limit} lines"
            assert result.status is SessionStatus.FAILED, where
            assert result.detail == said, where  # at preflight too
            assert b"C2_DRYRUN_STOP" not in contents["audit.jsonl"], where
            verified = verify_contents(contents)
            assert verified.summary == f"{said}: the run is not sealed", where
            lost = f"{_FILE[sink]}:{limit + 1}: never written: the {said}"
            assert verified.violations == (f"{lost}, so the run has no C2_DRYRUN_STOP",), where


@_DEAD_SINK
@pytest.mark.parametrize("claimed", [99, 101])
def test_a_claim_the_file_does_not_bear_out_is_flagged(tmp_path: Path, claimed: int) -> None:
    run_dir = tmp_path / "evfail"
    _run_on_files(run_dir, OSError(28, "No space left on device"), io.StringIO())
    path = run_dir / "metrics.json"
    metrics = orjson.loads(path.read_bytes())
    metrics["events_sink_failed_at"] = claimed
    path.write_bytes(orjson.dumps(metrics, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    verified = verify_run(run_dir)
    assert verified.summary.startswith("incomplete run")
    assert any(
        f"events_sink_failed_at is {claimed}, but events.jsonl holds 99 line(s)" in line
        for line in verified.violations
    )


@_DEAD_SINK
def test_an_audit_record_naming_a_dead_sink_needs_the_claim(tmp_path: Path) -> None:
    run_dir = tmp_path / "evfail"
    _run_on_files(run_dir, OSError(28, "No space left on device"), io.StringIO())
    path = run_dir / "metrics.json"
    metrics = orjson.loads(path.read_bytes())
    del metrics["events_sink_failed_at"], metrics["events_sink_error"]
    path.write_bytes(orjson.dumps(metrics, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    verified = verify_run(run_dir)
    assert (
        "metrics.json:1: events_sink_failed_at is missing, but the audit log says it failed"
        in verified.violations
    )


@_DEAD_SINK
def test_a_run_directory_whose_events_sink_died_resumes_to_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its last checkpoint is from before the failure: resume continues from there."""
    cfg = DryrunConfig(run_id="r", steps=300, checkpoint_every=50)
    create_run(cfg, tmp_path / "whole", alerts=False).run_to_end(300)
    session = create_run(cfg, tmp_path / "cut", alerts=False)
    events = session.recorder.sinks["events"]
    flaky = FlakySink(events, 250, OSError(28, "No space left on device"))
    monkeypatch.setitem(session.recorder._sinks, "events", flaky)  # the disk fills up
    result = session.run_to_end(300)
    run_dir = tmp_path / "cut" / "r"
    assert result.detail == f"events sink failed at line 250 ({_NO_SPACE})"
    assert verify_run(run_dir).summary == (
        f"events sink failed at line 250 ({_NO_SPACE}): the run is not sealed; "
        f"`livesession status {run_dir}` says whether `livesession resume {run_dir}` can "
        "continue it"
    )
    assert main(["status", str(run_dir)]) == 6  # crashed: resumable
    resume_run(run_dir, alerts=False).run_to_end(300)
    assert verify_run(run_dir).ok
    whole = tmp_path / "whole" / "r" / "events.jsonl"
    assert (run_dir / "events.jsonl").read_bytes() == whole.read_bytes()


class _FullAfter:
    """A metrics sink on the disk ``events`` fills: it refuses every write once that has."""

    def __init__(self, inner: Any, events: FlakySink) -> None:
        self.inner, self.events = inner, events

    def replace(self, content: bytes) -> None:
        if self.events.writes >= self.events.fail_at:
            raise OSError(28, "No space left on device")
        self.inner.replace(content)


@_DEAD_SINK
def test_a_full_disk_that_refused_metrics_json_too_is_said_as_the_dead_sink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk refuses every file, not only the one that met it first: metrics.json,
    rewritten whole, is refused as the dying events sink is recorded, and the run keeps
    its last checkpoint's, which says nothing of the failure. verify said `incomplete run`,
    then `metrics.json:1: events_sink_failed_at is missing, but the audit log says it
    failed` and the checks of the lines the sink never wrote (`transitions differ from the
    STATE_CHANGED events`, `final position 0.010 of 'BTC/USDT' but the fills add up to
    0.000`), as of a run changed by hand. The audit log's record of the failure, newer than
    metrics.json, says it."""
    cfg = DryrunConfig(run_id="r", steps=300, checkpoint_every=50)
    session = create_run(cfg, tmp_path, alerts=False)
    flaky = FlakySink(session.recorder.sinks["events"], 250, forever=True)
    monkeypatch.setitem(session.recorder._sinks, "events", flaky)  # the disk fills up
    monkeypatch.setattr(
        session.recorder, "_metrics_sink", _FullAfter(session.recorder._metrics_sink, flaky)
    )
    session.run_to_end(300)
    run_dir = tmp_path / "r"
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    assert "events_sink_failed_at" not in metrics  # the checkpoint's, written before
    said = (
        "events sink failed at line 250 (cause not recorded: metrics.json predates it (audit "
        f"record {metrics['audit_events'] + 1}), as a full disk leaves it)"
    )
    verified = verify_run(run_dir)
    assert verified.summary == (
        f"{said}: the run is not sealed; `livesession status {run_dir}` says whether "
        f"`livesession resume {run_dir}` can continue it"
    )
    assert verified.violations == (
        f"events.jsonl:250: never written: the {said}, so the run has no C2_DRYRUN_STOP",
    )
    resume_run(run_dir, alerts=False).run_to_end(300)
    assert verify_run(run_dir).ok


@_DEAD_SINK
def test_status_names_the_dead_sink_of_a_full_disk_that_refused_metrics_json_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As above, through the CLI: `status` read the refused file from metrics.json alone,
    and of this run said only `next  continue it: livesession resume DIR`, into the same
    full disk. It now names the sink the audit log says died, where and why as the session
    log's `sink_failed` line says (or, without that line, the audit record), and what must
    be so first, as for a metrics.json that recorded it."""
    written = {"events": 0}
    line_write, metrics_write = sinks.FileLineSink.write_line, sinks.FileMetricsSink.replace

    def write_line(self: sinks.FileLineSink, line: bytes) -> None:
        if self.path.name == "events.jsonl":
            written["events"] += 1
            if written["events"] >= 250:  # the disk is full from here on
                raise OSError(28, "No space left on device")
        line_write(self, line)

    def replace(self: sinks.FileMetricsSink, content: bytes) -> None:
        if written["events"] >= 250:
            raise OSError(28, "No space left on device")
        metrics_write(self, content)

    monkeypatch.setattr(sinks.FileLineSink, "write_line", write_line)
    monkeypatch.setattr(sinks.FileMetricsSink, "replace", replace)
    run_dir = _stopped_then_room(tmp_path, monkeypatch, capsys)
    resume = f"continue it: livesession resume {run_dir}"
    lost = len(_lines(run_dir / "events.jsonl")) + 1
    assert _next_of(run_dir, capsys) == (
        f"the events sink failed at line {lost} of {run_dir}/events.jsonl ({_NO_SPACE}): the run "
        f"is not sealed; once the file system has room again: {resume}"
    )
    (run_dir / "session.log.jsonl").write_bytes(b"")  # a log cut off, or of another level
    assert _next_of(run_dir, capsys) == (
        f"the events sink failed writing {run_dir}/events.jsonl (audit record 2): the run is "
        f"not sealed; once the file system has room again: {resume}"
    )
    _resumed(run_dir)


@_DEAD_SINK
def test_status_names_metrics_json_refused_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A metrics.json refused at a checkpoint (a full disk, no room for the file that
    replaces it) cannot say so itself: `status` said `next  continue it: ...` alone."""
    replaced = {"times": 0}
    metrics_write = sinks.FileMetricsSink.replace

    def replace(self: sinks.FileMetricsSink, content: bytes) -> None:
        replaced["times"] += 1
        if replaced["times"] > 2:  # the disk is full from the second checkpoint on
            raise OSError(28, "No space left on device")
        metrics_write(self, content)

    monkeypatch.setattr(sinks.FileMetricsSink, "replace", replace)
    run_dir = _stopped_then_room(tmp_path, monkeypatch, capsys)
    assert _next_of(run_dir, capsys) == (
        f"the metrics sink failed writing {run_dir}/metrics.json ({_NO_SPACE}): the run is not "
        f"sealed; once the file system has room again: continue it: livesession resume {run_dir}"
    )
    _resumed(run_dir)


class _Refusing:
    """A line sink that refuses every write with ``error`` (a full disk from the start)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def write_line(self, line: bytes) -> None:
        raise self.error

    def flush(self) -> None:
        """Nothing buffered."""

    def sync(self) -> None:
        """Nothing to sync."""


@_DEAD_SINK
@pytest.mark.parametrize(
    ("sink", "error", "said"),
    [
        ("events", OSError(28, "No space left on device"), f"line 1 ({_NO_SPACE})"),
        ("states", OSError(28, "No space left on device"), f"line 1 ({_NO_SPACE})"),
        ("audit", OSError(28, "No space left on device"), f"record 1 ({_NO_SPACE})"),
        (
            "events",
            ConnectionError("could not reach postgresql://events:Hunter2Secret@db/events"),
            "line 1 (ConnectionError: could not reach postgresql://events:***@db/events)",
        ),
    ],
    ids=["events", "states", "audit", "redacted"],
)
def test_a_sink_that_fails_at_preflight_says_where_and_why(
    sink: str, error: Exception, said: str
) -> None:
    """Bug: a sink that failed at preflight gave the detail ``events sink failed after 0
    retries (OSError); the session stopped trading``: no line, no error text, and a stop
    for a session that never traded. It says what a sink lost later says: which sink, the
    first line (audit record) it lost, and its error, redacted."""
    sinks = Sinks()
    kwargs = sinks.kwargs()
    kwargs[_FIELD[sink]] = _Refusing(error)
    session = LiveSessionOrchestrator(DryrunConfig(run_id="full", steps=50), **kwargs)
    result = session.run_to_end(50)
    assert (result.state, result.status, result.reason) == (
        SessionState.PREFLIGHT_FAILED,
        SessionStatus.FAILED,
        "SINK_WRITE_FAILED",
    )
    assert result.detail == f"{sink} sink failed at {said}"
    assert "Hunter2Secret" not in repr(result)


@_DEAD_SINK
@pytest.mark.parametrize(
    ("sink", "lines"),
    [("events", 1), ("events", 3), ("events", 5), ("states", 0)],
    ids=["events-after-start", "events-mid-checks", "events-last-check", "states-first"],
)
def test_a_sink_lost_at_preflight_is_in_the_audit_log(sink: str, lines: int) -> None:
    """Bug: an events sink that died on a PREFLIGHT_CHECK line (or a state sink on the first
    snapshot) left audit.jsonl with C2_DRYRUN_START alone: the run was FAILED at
    PREFLIGHT_FAILED with nothing in the chain saying why, and no SINK_FAILED alert, though
    the same sink lost one line later (events.jsonl:7 on) wrote C2_SINK_WRITE_FAILED, as
    docs/artifacts.md says a session does. A sink lost at preflight now writes it too."""
    sinks, alerts = Sinks(), ListAlertSink()
    dying = DiesAfter(lines)
    kwargs = sinks.kwargs() | {_FIELD[sink]: dying}
    session = LiveSessionOrchestrator(DryrunConfig(run_id="x", steps=30), alerts=alerts, **kwargs)
    result = session.run_to_end(30)
    session.close()
    assert (result.state, result.status) == (SessionState.PREFLIGHT_FAILED, SessionStatus.FAILED)
    assert [alert.code for alert in alerts.alerts] == ["SINK_FAILED", "RUN_UNSEALED"]
    contents = {_FILE[name]: getattr(sinks, name).getvalue() for name in _FILE}
    contents[_FILE[sink]] = dying.getvalue()
    contents["metrics.json"] = sinks.metrics.content
    records = [orjson.loads(line) for line in contents["audit.jsonl"].splitlines()]
    assert [record["code"] for record in records] == ["C2_DRYRUN_START", "C2_SINK_WRITE_FAILED"]
    assert records[1]["payload"]["sinks"] == [sink]
    said = f"{sink} sink failed at line {lines + 1} (OSError: disk gone)"
    assert result.detail == said
    assert verify_contents(contents).summary.startswith(f"{said}: the run is not sealed")


class _FailsTwice(FlakySink):
    """Its ``fail_at``-th line is refused twice (the write and its first retry), then taken."""

    def refuses(self) -> bool:
        return self.writes in (self.fail_at, self.fail_at + 1)


def test_a_line_refused_twice_is_retried_up_to_max_sink_retries(tmp_path: Path) -> None:
    """max_sink_retries is the number of retries, each one tried in turn: a line refused by
    the write and its first retry is written by the second, and the run ends sealed."""
    run_dir = tmp_path / "retried"
    run_dir.mkdir()
    session = LiveSessionOrchestrator(
        DryrunConfig(run_id="retried", steps=60, max_sink_retries=3),
        event_sink=_FailsTwice(FileLineSink(run_dir / "events.jsonl"), 40, OSError(5, "EIO")),
        state_sink=FileLineSink(run_dir / "state_snapshots.jsonl"),
        audit_sink=FileLineSink(run_dir / "audit.jsonl"),
        metrics_sink=FileMetricsSink(run_dir / "metrics.json"),
    )
    result = session.run_to_end(60)
    session.close()
    assert (result.status, result.steps) == (SessionStatus.COMPLETED, 60)
    retried = [
        e for e in _lines(run_dir / "events.jsonl") if e["event_type"] == "SINK_WRITE_RETRIED"
    ]
    assert [e["payload"] for e in retried] == [
        {"attempts": 2, "error": "OSError", "sink": "events"}
    ]
    assert verify_run(run_dir).ok


def test_a_snapshot_write_retried_is_followed_at_once_by_the_retry_event(tmp_path: Path) -> None:
    """SINK_WRITE_RETRIED comes right after what was retried: a snapshot's retry is the
    event after the STATE_CHANGED the snapshot records, before the session's next event."""
    run_dir = tmp_path / "snap"
    run_dir.mkdir()
    session = LiveSessionOrchestrator(
        DryrunConfig(run_id="snap", steps=30, max_sink_retries=1),
        event_sink=FileLineSink(run_dir / "events.jsonl"),
        state_sink=FlakySink(FileLineSink(run_dir / "state_snapshots.jsonl"), 2, OSError(5, "EIO")),
        audit_sink=FileLineSink(run_dir / "audit.jsonl"),
        metrics_sink=FileMetricsSink(run_dir / "metrics.json"),
    )
    result = session.run_to_end(30)
    session.close()
    assert (result.status, result.steps) == (SessionStatus.COMPLETED, 30)
    kinds = [e["event_type"] for e in _lines(run_dir / "events.jsonl")]
    # the second snapshot (its line refused once) records the first transition
    assert kinds.index("SINK_WRITE_RETRIED") == kinds.index("STATE_CHANGED") + 1
    assert verify_run(run_dir).ok


@_DEAD_SINK
def test_a_sink_error_that_is_no_oserror_is_said_without_an_errno(tmp_path: Path) -> None:
    """A caller's sink may fail with any exception (a RuntimeError of its client): the run
    ends FAILED naming it, as for an OSError, with no errno to record."""
    run_dir = tmp_path / "evfail"
    result = _run_on_files(run_dir, RuntimeError("the store went away"), io.StringIO())
    said = "events sink failed at line 100 (RuntimeError: the store went away)"
    assert (result.status, result.reason, result.detail) == (
        SessionStatus.FAILED,
        "SINK_WRITE_FAILED",
        said,
    )
    assert verify_run(run_dir).summary == f"{said}: the run is not sealed"


@_DEAD_SINK
def test_the_evidence_of_a_run_a_full_disk_stopped_says_so_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: the evidence said "Resumed after a crash once" of a run whose events sink the
    disk refused: its process stopped itself (SINK_WRITE_FAILED), and the audit records
    saying so were in audit.jsonl.torn, which the document lists but did not read."""
    result = _full_disk_then_resumed(tmp_path, monkeypatch)
    text = result.document.read_text()
    ended = text[text.index("## How the run ended") : text.index("## Verification")]
    assert "after a crash" not in ended
    assert "- **Resumed** once: from step " in ended
    assert (
        "- Before a resume, the process stopped itself unsealed, not by a crash: "
        "`SINK_WRITE_FAILED` (events sink failed after 0 retries (OSError); the session "
        "stopped trading), as the audit records the resume set aside say "
        "(`audit.jsonl.torn`).\n"
    ) in ended
    # and the report's header says why it was resumed in the same terms
    from livesession.report import render_report

    page = render_report(tmp_path / "r")
    assert (
        '<p class="sub">Why: its process stopped itself, unsealed (a write the system refused: '
        "see audit.jsonl.torn), and livesession resume went on from the last checkpoint, "
        "doing the steps after it again</p>"
    ) in page[: page.index("</header>")]


@_DEAD_SINK
def test_the_run_line_of_a_run_a_full_disk_stopped_says_so_as_its_document_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: the bundle's run line (``evidence``'s ``run``, the manifest's ``run_ended``, the
    document's "Run ended") said "resumed after a crash once" of the run whose document
    said its process stopped itself on a full disk, not by a crash."""
    result = _full_disk_then_resumed(tmp_path, monkeypatch)
    said = result.run_ended["said"]
    assert "after a crash" not in said
    assert said.startswith("COMPLETED: ran its steps; sealed COMPLETED after 300 of 300 steps")
    assert said.endswith(
        "; resumed once, from step 150, after the process stopped itself unsealed "
        "(SINK_WRITE_FAILED), not a crash"
    ), said
    manifest = orjson.loads(result.manifest.read_bytes())
    assert manifest["run_ended"]["said"] == said
    assert manifest["outcome"]["stopped_itself"] == [
        {
            "reason": "SINK_WRITE_FAILED",
            "error": "events sink failed after 0 retries (OSError); the session stopped trading",
            "resume": 1,
        }
    ]
    assert f"- Run ended: **COMPLETED**: {said[len('COMPLETED: ') :]}" in (
        result.document.read_text()
    )


@_DEAD_SINK
def test_burnin_says_a_resume_after_a_full_disk_as_the_evidence_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: ``burnin``'s failure path row said "1 resume(s) after a crash" of the run whose
    evidence said its process stopped itself on a full disk, not by a crash."""
    result = _full_disk_then_resumed(tmp_path, monkeypatch)
    run_dir = tmp_path / "r"
    lenient = ("--min-signals", "0", "--min-decisions", "0", "--min-oco", "0")
    main(["burnin", str(run_dir), *lenient])
    capsys.readouterr()
    paths = orjson.loads((run_dir / "burnin.json").read_bytes())["failure_paths"]
    row = next(path for path in paths if path["path"] == "crash_resume")
    assert (row["exercised"], row["count"]) == (True, 1)
    assert "after a crash" not in row["detail"]
    assert "after a crash" not in result.run_ended["said"]
    assert row["detail"] == (
        "1 resume(s) after the process stopped itself unsealed (SINK_WRITE_FAILED), not a "
        "crash (C2_RESUME in the audit)"
    )
