"""A dead audit sink: the one run that cannot seal, and says so where it still can.

When the audit sink fails for good the session fails closed (FAILED, SINK_WRITE_FAILED);
``metrics.json`` records ``audit_sink_failed_at`` (the seq of the first audit record that
could not be written) and ``audit_sink_error``, the session log says it, and
``livesession verify`` leads with "audit sink failed at record N" (exit 1) instead of
reporting a corrupt chain. A claim the audit log does not bear out is itself flagged.
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
    LiveSessionOrchestrator,
    SessionStatus,
)
from livesession._support.logging import configure_logging, disable_logging
from livesession.cli import main
from livesession.verify import verify_run
from livesession.verify._result import summarize

from _helpers import DiesAfter, Sinks

_DEAD_AUDIT = pytest.mark.broken_run("the audit sink dies on purpose; the run cannot seal")


def _canonical(metrics: dict[str, Any]) -> bytes:
    return orjson.dumps(metrics, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def _write(run_dir: Path, sinks: Sinks, audit: DiesAfter | None = None) -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "events.jsonl").write_bytes(b"".join(sinks.events.lines))
    (run_dir / "state_snapshots.jsonl").write_bytes(b"".join(sinks.states.lines))
    (run_dir / "audit.jsonl").write_bytes(b"".join((audit or sinks.audit).lines))
    (run_dir / "metrics.json").write_bytes(sinks.metrics.content)
    return run_dir


def _dead_audit_run(run_dir: Path, *, limit: int, kill_at: int | None) -> tuple[Any, str]:
    """A session whose audit sink dies after ``limit`` records, written to ``run_dir``."""
    sinks = Sinks()
    dying = DiesAfter(limit)
    kwargs = sinks.kwargs()
    kwargs["audit_sink"] = dying
    orch = LiveSessionOrchestrator(
        DryrunConfig(run_id="dead-audit", seed=33, steps=60, max_sink_retries=1), **kwargs
    )
    log = io.StringIO()
    configure_logging(log)
    try:
        if kill_at is None:
            orch.run_to_end(60)
        else:
            orch.preflight()
            orch.activate()
            orch.run_n_steps(kill_at)
            orch.kill("ops")  # C2_KILL_SWITCH is the audit record that cannot be written
            orch.close()
    finally:
        disable_logging()
    _write(run_dir, sinks, dying)
    return orch.result(), log.getvalue()


@_DEAD_AUDIT
@pytest.mark.parametrize("kill_at", [10, None], ids=["mid-run", "at-the-seal"])
def test_a_dead_audit_sink_is_recorded_and_verify_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kill_at: int | None
) -> None:
    run_dir = tmp_path / "run"
    result, log = _dead_audit_run(run_dir, limit=1, kill_at=kill_at)
    assert result.status is SessionStatus.FAILED
    assert result.reason == "SINK_WRITE_FAILED"
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    assert metrics["audit_sink_failed_at"] == 2  # record 1 (C2_DRYRUN_START) was written
    assert metrics["audit_sink_error"] == "OSError: disk gone"
    assert metrics["audit_events"] == 1
    logged = [orjson.loads(line) for line in log.splitlines()]
    (failed,) = [entry for entry in logged if entry["event"] == "sink_failed"]
    assert (failed["sink"], failed["audit_record"], failed["level"]) == ("audit", 2, "error")
    events = [orjson.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()]
    if kill_at is not None:  # the events sink still works: it says it too
        (sink_failed,) = [e for e in events if e["event_type"] == "SINK_WRITE_FAILED"]
        assert sink_failed["payload"]["sinks"] == ["audit"]
        assert events[-1]["payload"]["reason"] == "SINK_WRITE_FAILED"
        assert metrics["status"] == "FAILED"
    else:  # the evidence had closed before the last audit record failed
        assert result.detail == "audit sink failed at record 2 (OSError: disk gone)"

    verified = verify_run(run_dir)
    assert not verified.ok
    assert verified.summary == (
        "audit sink failed at record 2 (OSError: disk gone): the run is not sealed"
    )
    assert verified.violations == (
        (
            "audit.jsonl:2: never written: the audit sink failed at record 2 (OSError: disk gone), "
            "so the run has no C2_DRYRUN_STOP"
        ),
    )
    assert main(["verify", str(run_dir)]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("audit sink failed at record 2")


@_DEAD_AUDIT
def test_other_violations_are_counted_beside_the_dead_audit(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _dead_audit_run(run_dir, limit=1, kill_at=5)
    metrics_path = run_dir / "metrics.json"
    metrics = orjson.loads(metrics_path.read_bytes())
    metrics["fills"] += 1
    metrics_path.write_bytes(_canonical(metrics))
    verified = verify_run(run_dir)
    assert verified.summary.startswith("audit sink failed at record 2")
    assert verified.summary.endswith("; 1 other violation(s)")


@_DEAD_AUDIT
@pytest.mark.parametrize("claimed", [1, 3])
def test_a_claim_the_audit_log_does_not_bear_out_is_flagged(tmp_path: Path, claimed: int) -> None:
    run_dir = tmp_path / "run"
    _dead_audit_run(run_dir, limit=1, kill_at=5)
    metrics_path = run_dir / "metrics.json"
    metrics = orjson.loads(metrics_path.read_bytes())
    metrics["audit_sink_failed_at"] = claimed
    metrics_path.write_bytes(_canonical(metrics))
    verified = verify_run(run_dir)
    assert verified.summary.startswith("incomplete run")
    assert any(
        f"audit_sink_failed_at is {claimed}, but audit.jsonl holds 1 record(s)" in line
        for line in verified.violations
    )


@pytest.mark.broken_run("tampered on purpose")
def test_a_sealed_run_claiming_a_dead_audit_sink_is_flagged(tmp_path: Path) -> None:
    sinks = Sinks()
    orch = LiveSessionOrchestrator(
        DryrunConfig(run_id="sealed", seed=33, steps=40), **sinks.kwargs()
    )
    assert orch.run_to_end(40).status is SessionStatus.COMPLETED
    run_dir = _write(tmp_path / "run", sinks)
    assert verify_run(run_dir).ok
    audit_lines = len(sinks.audit.lines)
    for claimed in (audit_lines, audit_lines + 1):
        metrics = orjson.loads(sinks.metrics.content)
        metrics.update(audit_sink_failed_at=claimed, audit_sink_error="OSError: disk gone")
        (run_dir / "metrics.json").write_bytes(_canonical(metrics))
        verified = verify_run(run_dir)
        assert verified.summary == "broken run: 1 violation(s) of the artifact contract"
        (line,) = verified.violations
        assert line.endswith(
            f"audit_sink_failed_at is {claimed}, but audit.jsonl holds {audit_lines} "
            "record(s) and is closed"
        )


@_DEAD_AUDIT
def test_events_naming_a_dead_audit_need_the_claim(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _dead_audit_run(run_dir, limit=1, kill_at=5)
    metrics_path = run_dir / "metrics.json"
    metrics = orjson.loads(metrics_path.read_bytes())
    del metrics["audit_sink_failed_at"], metrics["audit_sink_error"]
    metrics_path.write_bytes(_canonical(metrics))
    verified = verify_run(run_dir)
    assert verified.summary.startswith("incomplete run")
    assert "metrics.json:1: audit_sink_failed_at is missing, but the events say it failed" in (
        verified.violations
    )


@pytest.mark.broken_run("tampered on purpose")
def test_the_claim_needs_its_reason(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    sinks = Sinks()
    orch = LiveSessionOrchestrator(DryrunConfig(run_id="s", seed=1, steps=5), **sinks.kwargs())
    orch.run_to_end(5)
    _write(run_dir, sinks)
    metrics = orjson.loads(sinks.metrics.content)
    metrics["audit_sink_failed_at"] = 9
    (run_dir / "metrics.json").write_bytes(_canonical(metrics))
    assert any("audit_sink_error" in line for line in verify_run(run_dir).violations)


def test_summarize_a_dead_audit(tmp_path: Path) -> None:
    dead = (7, "OSError: disk gone")
    assert summarize(tmp_path, 1, incomplete=False, dead_audit=dead) == (
        "audit sink failed at record 7 (OSError: disk gone): the run is not sealed"
    )
    assert summarize(tmp_path, 3, incomplete=False, dead_audit=dead).endswith(
        "; 2 other violation(s)"
    )
    assert summarize(tmp_path, 2, incomplete=False).startswith("broken run")


_SECRET = "Hunter2Secret"


class _DatabaseAudit:
    """An audit sink of the host's own, backed by a database: its 2nd write fails, and the
    driver's error quotes the connection string, password and all."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written = 0

    def write_line(self, line: bytes) -> None:
        if self.written >= 1:
            raise ConnectionError(f"could not reach postgresql://audit:{_SECRET}@10.0.0.5/audit")
        self.written += 1
        with self.path.open("ab") as file:
            file.write(line)

    def flush(self) -> None:
        """Nothing buffered."""

    def sync(self) -> None:
        """Nothing to sync."""


@_DEAD_AUDIT
def test_a_sink_error_quoting_a_secret_is_redacted_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sink's error reaches the result, metrics.json, the session log and verify's
    output: each has it redacted (it used to carry the password in the clear)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    orch = LiveSessionOrchestrator(
        DryrunConfig(run_id="leak", seed=33, steps=50),
        event_sink=FileLineSink(run_dir / "events.jsonl"),
        state_sink=FileLineSink(run_dir / "state_snapshots.jsonl"),
        audit_sink=_DatabaseAudit(run_dir / "audit.jsonl"),
        metrics_sink=FileMetricsSink(run_dir / "metrics.json"),
    )
    log = io.StringIO()
    configure_logging(log)
    try:
        result = orch.run_to_end(50)
        orch.close()
    finally:
        disable_logging()
    said = "ConnectionError: could not reach postgresql://audit:***@10.0.0.5/audit"
    assert result.detail == f"audit sink failed at record 2 ({said})"
    assert orjson.loads((run_dir / "metrics.json").read_bytes())["audit_sink_error"] == said
    assert main(["verify", str(run_dir)]) == 1
    shown = capsys.readouterr().out
    assert shown.startswith(f"audit sink failed at record 2 ({said}): the run is not sealed")
    for where, text in [
        ("result", f"{result!r} {result.detail}"),
        ("session log", log.getvalue()),
        ("verify", shown),
        *((path.name, path.read_text()) for path in sorted(run_dir.iterdir())),
    ]:
        assert _SECRET not in text, where


@_DEAD_AUDIT
def test_verify_redacts_a_secret_an_older_run_recorded(tmp_path: Path) -> None:
    """A run written before sink errors were redacted may hold one in metrics.json."""
    run_dir = tmp_path / "run"
    _dead_audit_run(run_dir, limit=1, kill_at=5)
    metrics_path = run_dir / "metrics.json"
    metrics = orjson.loads(metrics_path.read_bytes())
    metrics["audit_sink_error"] = f"ConnectionError: postgresql://audit:{_SECRET}@db/audit"
    metrics_path.write_bytes(_canonical(metrics))
    verified = verify_run(run_dir)
    assert verified.summary.startswith(
        "audit sink failed at record 2 (ConnectionError: postgresql://audit:***@db/audit)"
    )
    assert _SECRET not in " ".join((verified.summary, *verified.violations))
