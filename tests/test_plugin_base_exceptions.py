"""A ``BaseException`` (not an interrupt) from a sink, an alert sink, a clock or a log stream.

Bug: the rule ``livesession._exceptions.INTERRUPTS`` states, that every exception a
plug-in raises but ``KeyboardInterrupt`` and ``SystemExit`` is that plug-in's failure
(an ``asyncio.CancelledError``, a ``GeneratorExit``, one of its own), held for the
strategy, the feed, a broker, a rail, a check and a step hook, but not for the edges
caught with ``except Exception``: an events sink whose write raised ``CancelledError``
(a sink that hands lines to an event loop being shut down) tore the session instead of
failing it closed (``SINK_WRITE_FAILED``), an alert sink's ``post`` that raised one
escaped the step (an ``OSError`` there is logged and the run goes on), a clock that
raised one at preflight escaped ``run_to_end`` (a ``ValueError`` there rejects the
session, ``CLOCK_INVALID``), and a log stream that raised one escaped whatever was
logging, where a line the stream refuses "by whatever it raises" is lost and the session
goes on. Found driving every edge of an embedded session into each failure it can. Each
now takes the path an ``Exception`` there takes; ``KeyboardInterrupt`` still passes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path

import pytest

from livesession import (
    Alert,
    DryrunConfig,
    LiveSessionOrchestrator,
    MemoryLineSink,
    MemoryMetricsSink,
    SessionState,
    SessionStatus,
    configure_logging,
    verify_run,
)
from livesession._support.logging import disable_logging

from _helpers import DiesAfter, Sinks


class _Own(BaseException):
    """A plug-in's own ``BaseException`` subclass."""


_DEAD_SINK = pytest.mark.broken_run("a sink dies on purpose; the run is not sealed")
_ERRORS = pytest.mark.parametrize(
    "error",
    [asyncio.CancelledError("loop closed"), GeneratorExit("gone"), _Own("odd")],
    ids=["CancelledError", "GeneratorExit", "own-BaseException"],
)


class _RaisesAfter(DiesAfter):
    """A line sink whose writes raise ``error`` once it holds ``limit`` lines."""

    def __init__(self, limit: int, error: BaseException) -> None:
        super().__init__(limit)
        self.error = error

    def write_line(self, line: bytes) -> None:
        if len(self.lines) >= self.limit:
            raise self.error
        self.lines.append(line)


def _config() -> DryrunConfig:
    return DryrunConfig(run_id="edges", steps=40, seed=5)


def _write(sinks: Sinks, events: bytes, tmp: Path) -> Path:
    tmp.mkdir()
    (tmp / "events.jsonl").write_bytes(events)
    (tmp / "state_snapshots.jsonl").write_bytes(sinks.states.getvalue())
    (tmp / "audit.jsonl").write_bytes(sinks.audit.getvalue())
    (tmp / "metrics.json").write_bytes(sinks.metrics.content)
    return tmp


@_DEAD_SINK
@_ERRORS
def test_an_events_sink_s_base_exception_fails_the_run_closed(tmp_path: Path, error):
    """As an ``OSError`` does: ``SINK_WRITE_FAILED``, naming the line and the error."""
    said = {}
    for name, raised in (("oserror", OSError("disk gone")), ("base", error)):
        sinks = Sinks()
        dying = _RaisesAfter(30, raised)
        orch = LiveSessionOrchestrator(_config(), **{**sinks.kwargs(), "event_sink": dying})
        result = orch.run_to_end(40)
        orch.close()
        assert (result.status, result.reason) == (SessionStatus.FAILED, "SINK_WRITE_FAILED")
        said[name] = result.detail
        if name == "base":
            verdict = verify_run(_write(sinks, dying.getvalue(), tmp_path / "run"))
            assert not verdict.ok  # not sealed over lost lines, and it says why first
            assert "events sink failed" in verdict.violations[0], verdict.violations[:3]
    assert said["oserror"] == "events sink failed at line 31 (OSError: disk gone)"
    assert said["base"] == f"events sink failed at line 31 ({type(error).__name__}: {error})"


@_DEAD_SINK
@_ERRORS
def test_a_metrics_sink_s_base_exception_fails_the_run_closed(error):
    class Refusing(MemoryMetricsSink):
        def replace(self, content: bytes) -> None:
            raise error

    sinks = Sinks()
    orch = LiveSessionOrchestrator(_config(), **{**sinks.kwargs(), "metrics_sink": Refusing()})
    result = orch.run_to_end(40)
    orch.close()
    assert (result.status, result.reason) == (SessionStatus.FAILED, "SINK_WRITE_FAILED")
    assert result.detail == f"metrics sink failed ({type(error).__name__}: {error})"


@_ERRORS
def test_an_alert_sink_s_base_exception_loses_the_alert_not_the_run(error):
    """An alert sink that raises loses that alert; the session goes on and seals."""

    class Refusing:
        def __init__(self) -> None:
            self.posted: list[str] = []
            self.closed = False

        def post(self, alert: Alert) -> None:
            self.posted.append(alert.code)
            raise error

        def close(self) -> None:
            self.closed = True
            raise error

    alerts = Refusing()
    sinks = Sinks()
    orch = LiveSessionOrchestrator(_config(), alerts=alerts, **sinks.kwargs())
    assert orch.preflight()
    orch.activate()
    orch.run_n_steps(3)
    assert orch.kill("drill").outcome.value == "APPLIED"
    result = orch.run_to_end(40)
    orch.close()
    assert (result.state, result.status) == (SessionState.STOPPED, SessionStatus.COMPLETED)
    assert alerts.posted == ["KILL_SWITCH", "RUN_SEALED"]
    assert alerts.closed


class _RaisingClock:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def now(self) -> dt.datetime:
        raise self.error

    def monotonic_ns(self) -> int:
        return 0


@_ERRORS
def test_a_clock_s_base_exception_at_preflight_rejects_the_session(tmp_path: Path, error):
    """As a ``ValueError`` does: ``REJECTED``, ``CLOCK_INVALID``, and the run verifies."""
    sinks = Sinks()
    orch = LiveSessionOrchestrator(_config(), clock=_RaisingClock(error), **sinks.kwargs())
    result = orch.run_to_end(40)
    orch.close()
    assert (result.status, result.reason) == (SessionStatus.REJECTED, "CLOCK_INVALID")
    assert result.detail == f"the clock's now() raised {type(error).__name__}: {error}"
    assert verify_run(_write(sinks, sinks.events.getvalue(), tmp_path / "run")).ok


@_ERRORS
def test_a_log_stream_s_base_exception_loses_the_line_not_the_session(error):
    class Refusing(io.StringIO):
        def write(self, text: str) -> int:
            raise error

        def flush(self) -> None:
            raise error

    configure_logging(Refusing())
    try:
        orch = LiveSessionOrchestrator(_config(), audit_sink=MemoryLineSink())
        result = orch.run_to_end(40)
        orch.close()
    finally:
        disable_logging()
    assert result.status is SessionStatus.COMPLETED


@pytest.mark.broken_run("the interrupt tears the session: a crash, no checkpoint store")
def test_an_interrupt_from_a_sink_still_passes():
    """``KeyboardInterrupt`` is the operator's: it goes on, as from any plug-in."""
    sinks = Sinks()
    orch = LiveSessionOrchestrator(
        _config(), **{**sinks.kwargs(), "event_sink": _RaisesAfter(30, KeyboardInterrupt())}
    )
    with pytest.raises(KeyboardInterrupt):
        orch.run_to_end(40)
    orch.close()
