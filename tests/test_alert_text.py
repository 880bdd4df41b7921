"""An alert's ``text`` says what happened and what a person does about it.

Before, it said only what happened (``livesession run demo-001: kill switch fired:
DAILY_LOSS [KILL_SWITCH; state DRYRUN_ACTIVE, status RUNNING; ...]``): the person paged at
night had to find the RUNBOOK to learn what to do next.
"""

from __future__ import annotations

import pytest

from livesession._domain.alerts import ALERT_CODES, alert_for, unsealed_alert

_RECORD = {
    "OPERATOR_REQUIRED": ("C2_OPERATOR_REQUIRED", {"reason": "STRATEGY_ERROR"}),
    "KILL_SWITCH": ("C2_KILL_SWITCH", {"reason": "DAILY_LOSS"}),
    "TRADING_HALTED": ("C2_TRADING_STATE", {"to": "HALTED", "reason": "THROTTLE"}),
    "TRADING_REDUCING": ("C2_TRADING_STATE", {"to": "REDUCING", "reason": "HEAT"}),
    "LEASE_LOST": ("C2_LEASE_LOST", {}),
    "SINK_FAILED": ("C2_SINK_WRITE_FAILED", {}),
    "RUN_FAILED": ("C2_DRYRUN_STOP", {"status": "FAILED", "reason": "STRATEGY_ERROR"}),
    "RUN_SEALED": ("C2_DRYRUN_STOP", {"status": "COMPLETED"}),
}


def _text(code: str) -> str:
    if code == "RUN_UNSEALED":
        alert = unsealed_alert(
            run_id="r", state="DRYRUN_ACTIVE", status="RUNNING", why="events sink failed",
            ts="t", audit_seq=3, audit_code="C2_KILL_SWITCH", detail={},
        )  # fmt: skip
        return alert.text
    audit_code, payload = _RECORD[code]
    alert = alert_for(
        audit_code, payload, run_id="r", state="DRYRUN_ACTIVE", status="RUNNING", ts="t",
        audit_seq=2,
    )  # fmt: skip
    assert alert is not None
    assert alert.code == code
    return alert.text


@pytest.mark.parametrize("code", ALERT_CODES)
def test_every_alert_says_what_to_do_next(code):
    happened, _, todo = _text(code).partition("]; next: ")
    assert happened.startswith("livesession run r: ")
    assert len(todo) > 20, todo


def test_the_next_step_fits_the_alert():
    assert "`livesession ack` re-enables trading" in _text("KILL_SWITCH")
    assert "RUNBOOK: When a session is in ERROR_REQUIRES_OPERATOR" in _text("OPERATOR_REQUIRED")
    assert "before any resume" in _text("LEASE_LOST")
    assert "`livesession resume`" in _text("RUN_UNSEALED")
    sealed = _text("RUN_SEALED")
    assert sealed.endswith(
        "next: `livesession verify`, then `livesession evidence` of its run directory"
    )
    rejected = alert_for(
        "C2_DRYRUN_STOP", {"status": "REJECTED", "reason": "CONFIG_INVALID"}, run_id="r",
        state="PREFLIGHT_FAILED", status="REJECTED", ts="t", audit_seq=3,
    )  # fmt: skip
    assert rejected is not None
    assert rejected.text.endswith(
        "next: fix what the reason names and start a new run (this one stays as evidence)"
    )
