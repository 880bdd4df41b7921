"""``BrokerHealth`` on its own: when failed broker calls and silence halt trading, and what
its checkpoint keeps. The session-level cases (a dead venue, a silent one) are in
test_broker_faults.py."""

from __future__ import annotations

import io
import logging
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from livesession import Transient
from livesession._risk.governor import TradingState
from livesession._session.broker_health import BROKER_UNHEALTHY, BrokerHealth
from livesession._support.logging import configure_logging, disable_logging


class _Context:
    """What ``BrokerHealth`` reads of the session: its time, run id, recorder, governor."""

    def __init__(self) -> None:
        self.time = SimpleNamespace(ts_sim=0)
        self.config = SimpleNamespace(run_id="r")
        self.emitted: list[tuple[str, dict[str, Any]]] = []
        self.halts: list[tuple[TradingState, str]] = []
        self.recorder = SimpleNamespace(
            emit=lambda code, payload: self.emitted.append((code, payload))
        )
        self.governor = SimpleNamespace(set_trading=lambda *halt: self.halts.append(halt))


def _health(*, max_failures: int = 3, silence_ns: int = 100) -> tuple[BrokerHealth, _Context]:
    ctx = _Context()
    health = BrokerHealth(ctx, max_failures=max_failures, silence_ns=silence_ns, start_ns=0)  # type: ignore[arg-type]
    return health, ctx


def _unhealthy(reason: str, failures: int, operation: str, silent_ns: int) -> tuple[str, dict]:
    payload = {
        "reason": reason,
        "failures": failures,
        "operation": operation,
        "error": "Transient",
        "silent_ns": silent_ns,
    }
    return ("BROKER_UNHEALTHY", payload)


DOWN = Transient("down")


def _answer(health: BrokerHealth, answer: str) -> None:
    """``polled``: a poll's answer; else ``ok`` of that operation (a rejection, say)."""
    if answer == "polled":
        health.polled()
    else:
        health.ok(answer)


@pytest.mark.parametrize("answer", ["lookup", "polled"])
def test_the_max_th_failure_in_a_row_halts_trading_and_an_answer_ends_the_row(answer: str):
    """Failed calls of any kinds in a row: any answer ends that row."""
    health, ctx = _health()
    health.failed("submit", DOWN)
    health.failed("cancel", DOWN)
    ctx.time.ts_sim = 10
    _answer(health, answer)
    health.failed("lookup", DOWN)
    health.failed("submit", DOWN)
    assert (ctx.emitted, ctx.halts, health.tripped) == ([], [], False)
    ctx.time.ts_sim = 40
    health.failed("cancel", DOWN)
    silent = 30 if answer == "polled" else 40
    assert ctx.emitted == [_unhealthy("CONSECUTIVE_FAILURES", 3, "cancel", silent)]
    assert ctx.halts == [(TradingState.HALTED, BROKER_UNHEALTHY)]
    assert health.tripped
    assert health.failed_calls == {"submit": 2, "cancel": 2, "lookup": 1}


@pytest.mark.parametrize(
    ("failing", "answer"),
    [("submit", "reconcile"), ("submit", "polled"), ("reconcile", "polled"), ("poll", "submit")],
)
def test_one_kind_of_call_failing_while_the_others_answer_halts(failing: str, answer: str):
    """Bug: any answer ended the one row, so a venue whose every send failed (or whose
    open-orders query failed every step) while its other calls answered never halted."""
    health, ctx = _health()
    for _ in range(2):
        health.failed(failing, DOWN)
        _answer(health, answer)
    assert (ctx.emitted, health.failures, health.in_a_row) == ([], 0, {failing: 2})
    health.failed(failing, DOWN)
    assert ctx.emitted == [_unhealthy("CONSECUTIVE_FAILURES", 3, failing, 0)]
    assert ctx.halts == [(TradingState.HALTED, BROKER_UNHEALTHY)]


def test_an_answer_of_a_kind_ends_only_that_kind_s_row():
    health, ctx = _health()
    health.failed("submit", DOWN)
    health.failed("reconcile", DOWN)
    health.ok("submit")
    assert (health.failures, health.in_a_row) == (0, {"reconcile": 1})
    health.failed("reconcile", DOWN)
    health.polled()
    health.failed("submit", DOWN)
    health.ok("lookup")
    assert ctx.emitted == []
    health.failed("reconcile", DOWN)
    assert ctx.emitted == [_unhealthy("CONSECUTIVE_FAILURES", 3, "reconcile", 0)]


def test_the_feed_s_candles_end_their_own_row_and_no_other():
    """``answered`` (a bar arrived): the fetches' row ends, the row of any kind does not."""
    health, ctx = _health()
    for _ in range(4):
        health.failed("fetch_ohlcv", DOWN)
        health.ok("reconcile")
        health.answered("fetch_ohlcv")
    assert (ctx.emitted, health.in_a_row) == ([], {})
    health.failed("submit", DOWN)
    health.failed("fetch_ohlcv", DOWN)
    health.answered("fetch_ohlcv")
    health.failed("cancel", DOWN)
    assert ctx.emitted == [_unhealthy("CONSECUTIVE_FAILURES", 3, "cancel", 0)]


def test_a_step_that_did_not_poll_leaves_the_row_as_it_is():
    health, ctx = _health()
    health.failed("poll", DOWN)
    health.failed("poll", DOWN)
    ctx.time.ts_sim = 90
    health.nothing_owed()
    assert health.last_poll_ns == 90
    health.failed("submit", DOWN)
    assert ctx.emitted == [_unhealthy("CONSECUTIVE_FAILURES", 3, "submit", 0)]


def test_a_failed_poll_as_long_as_the_silence_after_the_last_one_answered_halts():
    health, ctx = _health(max_failures=10)
    ctx.time.ts_sim = 20
    health.polled()
    ctx.time.ts_sim = 119
    health.failed("poll", DOWN, poll=True)
    ctx.time.ts_sim = 120
    health.failed("submit", DOWN)  # no poll: silence is the polls' alone
    assert ctx.emitted == []
    health.failed("poll", DOWN, poll=True)
    assert ctx.emitted == [_unhealthy("SILENCE", 3, "poll", 100)]
    assert ctx.halts == [(TradingState.HALTED, BROKER_UNHEALTHY)]


def test_no_silence_is_too_long_when_it_is_zero():
    health, ctx = _health(max_failures=10, silence_ns=0)
    ctx.time.ts_sim = 10**12
    health.failed("poll", DOWN, poll=True)
    assert ctx.emitted == []


def test_failures_while_halted_are_counted_not_reported_until_an_operator_resets():
    health, ctx = _health(max_failures=1)
    health.failed("poll", DOWN)
    health.failed("poll", DOWN, poll=True)
    ctx.time.ts_sim = 500
    health.failed("poll", DOWN, poll=True)
    assert len(ctx.emitted) == 1
    assert (health.failures, health.failed_calls) == (3, {"poll": 3})
    ctx.time.ts_sim = 600
    health.reset()  # reenable_trading
    assert (health.failures, health.tripped, health.last_poll_ns) == (0, False, 600)
    assert health.in_a_row == {}
    ctx.time.ts_sim = 650
    health.failed("submit", DOWN)
    assert ctx.emitted[1:] == [_unhealthy("CONSECUTIVE_FAILURES", 1, "submit", 50)]


def test_the_checkpoint_keeps_the_row_the_last_poll_the_halt_and_the_counts():
    health, ctx = _health(max_failures=2)
    assert health.get_state() == {
        "broker_health": {"failures": 0, "last_poll_ns": 0, "tripped": False}
    }  # no failed_calls key: the checkpoint of a run without any is as it was
    ctx.time.ts_sim = 30
    health.failed("submit", DOWN)
    health.failed("poll", DOWN)
    health.failed("submit", DOWN)
    health.ok("poll")
    state = health.get_state()
    assert state == {
        "broker_health": {
            "failures": 0,
            "last_poll_ns": 0,
            "tripped": True,
            "in_a_row": {"submit": 2},
            "failed_calls": {"poll": 1, "submit": 2},
        }
    }
    assert list(state["broker_health"]["failed_calls"]) == ["poll", "submit"]
    resumed, _ = _health(max_failures=2)
    resumed.set_state(state)
    assert resumed.get_state() == state
    resumed.ok("submit")  # no row of any kind: the key goes, as in an older checkpoint
    assert "in_a_row" not in resumed.get_state()["broker_health"]


def test_a_checkpoint_from_before_broker_health_resumes_healthy():
    """Healthy, and with no failed calls: before, the object's own count was kept."""
    health, _ = _health()
    health.failed("poll", DOWN)
    health.set_state({"ts_sim": 70})
    assert (health.failures, health.last_poll_ns, health.tripped) == (0, 70, False)
    assert (health.failed_calls, health.in_a_row) == ({}, {})
    assert health.get_state() == {
        "broker_health": {"failures": 0, "last_poll_ns": 70, "tripped": False}
    }
    health.failed("submit", DOWN)
    health.set_state({"broker_health": {"failures": 1, "last_poll_ns": 5, "tripped": False}})
    assert (health.failures, health.last_poll_ns, health.failed_calls) == (1, 5, {})
    assert health.in_a_row == {}  # made before the rows of each kind: none begun


def _logged(level: int, failures: list[str]) -> list[tuple[str, str, int, int]]:
    """The ``broker_call_failed`` lines of ``failures`` (operations) at ``level``.

    An operation named ``ok:KIND`` is an answer of that kind, not a failure.
    """
    health, _ = _health(max_failures=1000)
    log = io.StringIO()
    configure_logging(log, level=level)
    try:
        for operation in failures:
            if operation.startswith("ok:"):
                health.ok(operation.removeprefix("ok:"))
            else:
                health.failed(operation, DOWN)
    finally:
        disable_logging()
    records = [orjson.loads(line) for line in log.getvalue().splitlines()]
    assert {(r["event"], r["run_id"], r["error"], r["message"]) for r in records} == {
        ("broker_call_failed", "r", "Transient", "down")
    }
    return [(r["level"], r["operation"], r["failed"], r["in_a_row"]) for r in records]


def test_the_first_failure_of_an_operation_and_each_tenfold_are_warned():
    assert _logged(logging.WARNING, ["poll"] * 100 + ["submit"]) == [
        ("warning", "poll", 1, 1),
        ("warning", "poll", 10, 10),
        ("warning", "poll", 100, 100),
        ("warning", "submit", 1, 101),
    ]


def test_every_failure_is_logged_at_debug():
    assert _logged(logging.DEBUG, ["poll", "poll", "submit"]) == [
        ("warning", "poll", 1, 1),
        ("debug", "poll", 2, 2),
        ("warning", "submit", 1, 3),
    ]


def test_the_log_says_the_row_a_halt_counts():
    """Bug: ``in_a_row`` said the row of any kind, which another kind's answer ends: polls
    failing between the reconciler's answers read 1, 1, 1 while their own row, the one
    that halts trading, stood at 1, 2, 3."""
    polls = ["poll", "ok:reconcile"] * 3
    assert _logged(logging.DEBUG, polls) == [
        ("warning", "poll", 1, 1),
        ("debug", "poll", 2, 2),
        ("debug", "poll", 3, 3),
    ]
