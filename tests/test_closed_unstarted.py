"""A session another thread closed before its preflight says so when its owner goes on."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from livesession import DryrunConfig, InvalidTransition, SessionStatus, create_run
from livesession.verify import verify_run

if TYPE_CHECKING:
    from pathlib import Path

CLOSED = (
    "it was closed before its preflight ran (sealed REJECTED, CLOSED_BEFORE_PREFLIGHT), "
    "so it never trades"
)


def test_the_owner_told_the_session_was_closed_not_that_its_preflight_failed(
    tmp_path: Path,
) -> None:
    """Bug: an operator's thread closed a session its owner had built and not preflighted
    yet (a shutdown while the service started); the owner's ``preflight()`` then said
    ``it runs once, from INIT`` and its ``step()`` or ``activate()`` ``its preflight
    failed, so it never trades (result().reason says why): close() it``: no preflight
    had run, and the session was closed already. Each says it was closed now."""
    session = create_run(DryrunConfig(run_id="closed-first", steps=20), tmp_path)
    operator = threading.Thread(target=session.close)
    operator.start()
    operator.join()
    for call in (session.preflight, session.activate, session.step):
        with pytest.raises(InvalidTransition) as info:
            call()
        assert str(info.value) == (
            f"{call.__name__}() is not allowed in state PREFLIGHT_FAILED: {CLOSED}"
        )
    assert session.run_n_steps(5) == 0
    assert session.run_to_end(20).status is SessionStatus.REJECTED
    assert verify_run(tmp_path / "closed-first").ok
