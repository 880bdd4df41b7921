"""An alert sink interrupted by the seal's own alert (posted once the run is sealed)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest

from livesession import (
    Alert,
    CheckResult,
    DryrunConfig,
    RunDirectoryError,
    VerbOutcome,
    create_run,
    resume_run,
)
from livesession.verify import verify_run

if TYPE_CHECKING:
    from pathlib import Path


class _RaisesOnSeal:
    """An alert sink whose ``post`` raises ``interrupt`` for the seal's alert only."""

    def __init__(self, interrupt: BaseException) -> None:
        self.interrupt = interrupt

    def post(self, alert: Alert) -> None:
        if alert.code == "RUN_SEALED":
            raise self.interrupt


@pytest.mark.parametrize(
    ("interrupt", "closer"),
    [(KeyboardInterrupt(), "owner"), (SystemExit(2), "owner"), (SystemExit(2), "thread")],
)
def test_an_interrupt_from_the_seals_alert_leaves_the_session_sealed_and_let_go(
    tmp_path: Path, interrupt: BaseException, closer: str
) -> None:
    """Bug: an alert sink raising ``KeyboardInterrupt`` or ``SystemExit`` as it took the
    ``RUN_SEALED`` alert of ``close()`` (posted once the seal is on disk) tore the session:
    its run sealed ``COMPLETED``, its calls said it ``was interrupted ... in the middle of its
    work``, to close it and resume the run from its last checkpoint (``run_n_steps``
    raised so, a verb answered so), and the run's writer lock and files were kept. The
    interrupt still goes on out of ``close()``, but only once the session has let go of
    the run; the session answers as a closed one does."""
    session = create_run(
        DryrunConfig(run_id="seal-alert", steps=30), tmp_path, alerts=_RaisesOnSeal(interrupt)
    )
    session.preflight()
    session.activate()
    assert session.run_n_steps(3) == 3
    raised: list[str] = []

    def close() -> None:
        try:
            session.close()
        except BaseException as exc:  # what came out is the subject
            raised.append(type(exc).__name__)

    if closer == "owner":
        close()
    else:
        thread = threading.Thread(target=close, daemon=True)
        thread.start()
        thread.join(30)
    assert raised == [type(interrupt).__name__]
    assert (session.state.value, session.status.value) == ("STOPPED", "COMPLETED")
    assert session.run_n_steps(3) == 0  # as a closed session's
    kill: Any = session.kill("late")
    assert kill.outcome is VerbOutcome.NOT_APPLICABLE
    assert "interrupted" not in kill.message, kill.message
    verified = verify_run(tmp_path / "seal-alert")
    assert verified.ok, verified.summary
    assert not verified.live, verified.live  # the writer lock let go: no live run


def _desk_closed(_ctx: object) -> CheckResult:
    return CheckResult(name="desk_open", passed=False, reason="DESK_CLOSED", detail="closed")


@pytest.mark.parametrize("call", ["preflight", "run_to_end"])
def test_an_interrupt_from_a_rejected_preflights_seal_alert_goes_on_once_closed(
    tmp_path: Path, call: str
) -> None:
    """Bug: Ctrl-C in the alert sink as it took a rejected preflight's ``RUN_SEALED`` alert
    (a slow webhook) came out of ``preflight()`` and ``run_to_end`` with the session still
    holding the run: ``run_to_end`` never closed it, so a second open of the run was
    refused (``RunHeld: ... which is this very process``) until the session was closed or
    collected. As from ``close()``, the interrupt now goes on once the session, sealed
    ``REJECTED``, has let go of the run; closing it again changes nothing."""
    session = create_run(
        DryrunConfig(run_id="rejected", steps=30),
        tmp_path,
        alerts=_RaisesOnSeal(KeyboardInterrupt()),
    )
    session.extra_checks.append(_desk_closed)
    with pytest.raises(KeyboardInterrupt):
        session.preflight() if call == "preflight" else session.run_to_end(30)
    assert (session.state.value, session.status.value) == ("PREFLIGHT_FAILED", "REJECTED")
    verified = verify_run(tmp_path / "rejected")
    assert verified.ok, verified.summary
    assert not verified.live, verified.live  # the writer lock let go
    with pytest.raises(RunDirectoryError, match="already ended with status REJECTED"):
        resume_run(tmp_path / "rejected")  # a second open: refused in one line, not RunHeld
    session.close()
    assert session.kill("late").outcome is VerbOutcome.NOT_APPLICABLE
