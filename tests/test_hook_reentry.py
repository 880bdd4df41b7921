"""A step hook or a sink of the application that re-enters the session from inside a step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest

from livesession import (
    Alert,
    DryrunConfig,
    ListAlertSink,
    LiveSessionOrchestrator,
    SessionState,
    SessionStatus,
    TradingState,
    VerbOutcome,
    VerbResult,
    create_run,
    verify_run,
)

if TYPE_CHECKING:
    from pathlib import Path

CALLS = {
    "step": lambda s: s.step(),
    "run_n_steps": lambda s: s.run_n_steps(3),
    "run_to_end": lambda s: s.run_to_end(30),
    "preflight": lambda s: s.preflight(),
    "activate": lambda s: s.activate(),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_step_hook_running_the_session_forward_is_the_hook_s_error(
    tmp_path: Path, call: str
) -> None:
    """Bug: the refusal (``run_n_steps called from inside a step ...``) escaped the step as
    the library's own error and tore the session: ``run_to_end`` raised, ``close()`` sealed
    nothing, and the run was left unsealed. It is the hook's error now, as anything else a
    step hook raises: ``UNEXPECTED_ERROR`` naming the call, and the run is sealed."""

    def hook(session: LiveSessionOrchestrator) -> None:
        if session.steps_done == 5:
            CALLS[call](session)

    session = create_run(DryrunConfig(run_id="hooked", steps=30), tmp_path)
    session.step_hooks.append(hook)
    with session:
        result = session.run_to_end(30)
    assert (result.status, result.reason, result.steps) == (
        SessionStatus.FAILED,
        "UNEXPECTED_ERROR",
        5,
    )
    assert result.detail.startswith(
        f"LiveSessionError: {call} called from inside a step of session hooked"
    )
    assert session.trading_state is TradingState.HALTED
    assert verify_run(tmp_path / "hooked").ok


class _StopsOnKill(ListAlertSink):
    """An alert sink that stops the session when the kill switch's alert arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.session: LiveSessionOrchestrator | None = None
        self.stopped: list[VerbResult] = []

    def post(self, alert: Alert) -> None:
        super().post(alert)
        if self.session is not None and alert.code == "KILL_SWITCH":
            self.stopped.append(self.session.request_stop("paged"))


def test_a_verb_an_alert_sink_calls_inside_a_hook_s_verb_waits_for_the_step_end(
    tmp_path: Path,
) -> None:
    """Bug: a step hook's ``kill`` posts its alert; the alert sink's ``request_stop`` ran at
    once, inside the kill (a step hook is a point where a verb acts at once, and that
    held for the kill's own work too): the stop's flatten and records cut into the kill's,
    and the sealed run failed verify (``C2_DRYRUN_STOP is not the last record``). A verb
    called from inside another verb's work is deferred to the end of the step now."""
    alerts = _StopsOnKill()

    def hook(session: LiveSessionOrchestrator) -> None:
        if session.steps_done == 5:
            alerts.session = session
            killed = session.kill("drill")
            assert killed.outcome is VerbOutcome.APPLIED

    session = create_run(DryrunConfig(run_id="paged", steps=30), tmp_path, alerts=alerts)
    session.step_hooks.append(hook)
    with session:
        result = session.run_to_end(30)
    assert [r.outcome for r in alerts.stopped] == [VerbOutcome.DEFERRED]
    # Before: "(a signal handler, say)", of the alert sink's own call.
    assert "from inside a step (from within an alert sink's post): " in alerts.stopped[0].message
    assert (result.status, result.steps, session.state) == (
        SessionStatus.COMPLETED,
        5,
        SessionState.STOPPED,
    )
    run_dir = tmp_path / "paged"
    assert verify_run(run_dir).ok
    codes = [orjson.loads(line)["code"] for line in (run_dir / "audit.jsonl").read_bytes().split()]
    assert codes.index("C2_KILL_SWITCH") < codes.index("C2_KILL_SWITCH_FLAT")
    assert codes[-1] == "C2_DRYRUN_STOP"


def test_a_hook_s_own_library_error_is_the_hook_s_error(tmp_path: Path) -> None:
    """A ``LiveSessionError`` of the hook's own (a config it fails to read) faults the session
    as any other exception of a hook does; the run is sealed."""
    from livesession import ConfigError

    def hook(session: LiveSessionOrchestrator) -> Any:
        if session.steps_done == 2:
            raise ConfigError("desk.toml: no such file")

    session = create_run(DryrunConfig(run_id="own", steps=10), tmp_path)
    session.step_hooks.append(hook)
    with session:
        result = session.run_to_end(10)
    assert (result.reason, result.detail) == (
        "UNEXPECTED_ERROR",
        "ConfigError: desk.toml: no such file",
    )
    assert verify_run(tmp_path / "own").ok
