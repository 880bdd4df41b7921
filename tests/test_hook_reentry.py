"""A step hook or a sink of the application that re-enters the session from inside a step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from livesession import (
    DryrunConfig,
    LiveSessionOrchestrator,
    SessionStatus,
    TradingState,
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
