"""``status`` of a run its caller stopped says the reason the caller gave.

A session stopped by ``request_stop("desk closing early")`` is sealed COMPLETED with no
reason of its own (the seal's reason is a fault's, a refusal's or a CLI signal's); the
caller's reason is in the events, which ``evidence`` and ``report`` showed, and ``status``
said nothing of why the run stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livesession import DryrunConfig, create_run
from livesession.cli import main
from livesession.status import run_status

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def _stopped(out: Path, run_id: str, *reason: str) -> Path:
    """A run of 50 steps stopped after 10 with ``reason`` (the default one when none)."""
    session = create_run(DryrunConfig(run_id=run_id, steps=50), out)
    session.preflight()
    session.activate()
    session.run_n_steps(10)
    session.request_stop(*reason)
    session.close()
    return out / run_id


def test_a_stop_the_caller_gave_a_reason_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: status printed no reason for it; now a ``stopped`` line gives the caller's."""
    run_dir = _stopped(tmp_path, "asked", "desk closing early")
    found = run_status(run_dir)
    assert (found.reason, found.stop_asked) == ("", "desk closing early")
    assert found.to_json()["stop_asked"] == "desk closing early"
    assert main(["status", str(run_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "stopped     as asked: 'desk closing early'" in lines
    assert lines.index("stopped     as asked: 'desk closing early'") == 3  # after the state


def test_the_default_reason_of_a_stop_is_said_too(tmp_path: Path) -> None:
    assert run_status(_stopped(tmp_path, "default")).stop_asked == "operator"


def test_a_run_that_ended_its_steps_or_was_sealed_with_a_reason_says_no_more(
    tmp_path: Path,
) -> None:
    """The session's own close at the end of its steps is no stop anyone asked for; a run
    sealed with a reason (a CLI signal's, here given as ``sealed_as``) says that one."""
    cfg = DryrunConfig(run_id="ended", steps=20)
    create_run(cfg, tmp_path).run_to_end(cfg.steps)
    assert run_status(tmp_path / "ended").stop_asked == ""

    session = create_run(DryrunConfig(run_id="signal", steps=50), tmp_path)
    session.preflight()
    session.activate()
    session.run_n_steps(5)
    session.request_stop("SIGNAL_SIGTERM", sealed_as=True)
    session.close()
    found = run_status(tmp_path / "signal")
    assert (found.reason, found.stop_asked) == ("SIGNAL_SIGTERM", "")
