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


@pytest.mark.parametrize(
    "reason", ["STRATEGY_ERROR", "FEED_ERROR", "UNEXPECTED_ERROR", "BROKER_CALL_FAILED"]
)
def test_a_halt_that_a_fault_follows_does_not_say_ack_re_enables_trading(reason):
    """A strategy that raised halted trading (``TRADING_HALTED``) and faulted the session at
    once (``OPERATOR_REQUIRED``). The halt's alert said ```livesession ack` re-enables
    trading``, where an ack of that session cancels, flattens and stops it: the person
    paged by the first alert was told the opposite of what the command would do."""
    alert = alert_for(
        "C2_TRADING_STATE", {"from": "ACTIVE", "to": "HALTED", "reason": reason}, run_id="r",
        state="DRYRUN_ACTIVE", status="RUNNING", ts="t", audit_seq=3,
    )  # fmt: skip
    assert alert is not None
    assert alert.code == "TRADING_HALTED"
    assert "re-enables trading" not in alert.text
    assert "OPERATOR_REQUIRED alert follows" in alert.text
    assert "`livesession ack` then cancels, flattens and stops the run" in alert.text


def test_a_halt_an_operator_lifts_still_says_ack_re_enables_trading():
    for reason in ("BROKER_UNHEALTHY", "EXECUTION_THROTTLE"):
        alert = alert_for(
            "C2_TRADING_STATE", {"from": "ACTIVE", "to": "HALTED", "reason": reason},
            run_id="r", state="DRYRUN_ACTIVE", status="RUNNING", ts="t", audit_seq=3,
        )  # fmt: skip
        assert alert is not None
        assert "`livesession ack` re-enables trading" in alert.text


def test_every_reason_the_step_halts_and_faults_with_is_a_halt_to_fault():
    """The alert's words rest on ``HALTED_TO_FAULT`` naming every reason the step halts
    trading and faults with at once: a new call of ``halt_and_fault`` or ``input_failed``
    with a reason not in it would page "ack re-enables trading" again."""
    import re
    from pathlib import Path

    from livesession._domain import reasons

    package = Path(reasons.__file__).resolve().parent.parent
    code = "\n".join(p.read_text(encoding="utf-8") for p in (package / "_session").glob("*.py"))
    named = re.findall(r"\b(?:halt_and_fault|input_failed)\(\s*\w+,\s*([A-Za-z_.]+)", code)
    assert named, "no call found: the pattern no longer fits the code"
    for name in named:
        if name in ("reason", "exc.reason"):  # a PluginStateError's: FEED_ or STRATEGY_ERROR
            continue
        assert getattr(reasons, name) in reasons.HALTED_TO_FAULT, name
