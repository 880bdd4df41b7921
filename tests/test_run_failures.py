"""Failures during the run: a strategy or feed that raises, or bad data found mid-run.

All of them take one path: caught at the step boundary, trading HALTED at once, open orders
cancelled, a ``STRATEGY_ERROR`` / ``FEED_ERROR`` event (audit ``C2_STRATEGY_ERROR`` /
``C2_FEED_ERROR``) with the exception's type and redacted message, and the session in
ERROR_REQUIRES_OPERATOR. An embedding app decides what comes next; the one-shot CLI
acknowledges, winds down and seals FAILED (exit 4). Every run made here is verified.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import (
    Bar,
    DataFileError,
    DryrunConfig,
    InvalidTransition,
    LiveSessionError,
    LiveSessionOrchestrator,
    OrderIntent,
    OrderType,
    PostgresError,
    SessionState,
    SessionStatus,
    TradingState,
    VerbOutcome,
    create_run,
)
from livesession._session.pipeline import error_message
from livesession.evidence import scan_secrets
from livesession.stores import MemoryIdempotencyStore
from livesession.verify import verify_run

from _helpers import Sinks

D = Decimal
EXIT_FAILED = 4
EXIT_BAD_INPUT = 2
SECRET = "hunter2-Zq8vX1"
MAX_INTENTS = 1_000  # the most intents the session takes from one on_bar (docs/plugins.md)
CONTRACT = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")


# -- helpers ----------------------------------------------------------------------------------


def _verify_memory(sinks: Sinks, tmp: Path) -> None:
    """Write the in-memory run to ``tmp`` and check it with the independent verifier."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "events.jsonl").write_bytes(sinks.events.getvalue())
    (tmp / "state_snapshots.jsonl").write_bytes(sinks.states.getvalue())
    (tmp / "audit.jsonl").write_bytes(sinks.audit.getvalue())
    (tmp / "metrics.json").write_bytes(sinks.metrics.content)
    result = verify_run(tmp)
    assert result.ok, "\n".join(result.violations[:20])


def _audit(sinks: Sinks, code: str) -> list[dict[str, Any]]:
    records = [orjson.loads(line) for line in sinks.audit.lines]
    return [r["payload"] for r in records if r["code"] == code]


def _types_after(sinks: Sinks, event_type: str) -> list[str]:
    """The event types emitted after the first ``event_type`` event."""
    types = [orjson.loads(line)["event_type"] for line in sinks.events.lines]
    return types[types.index(event_type) + 1 :]


class _Boom(Exception):
    """The strategy's own error."""


class _Weird(BaseException):
    """A strategy's own exception that is not an ``Exception``."""


class _RaisingStrategy(ScriptedStrategy):
    """A scripted strategy that raises ``error`` on bar ``at_bar``."""

    def __init__(self, at_bar: int, error: BaseException, script: Any = None) -> None:
        super().__init__(script or (lambda _n, _bar, _view: ()))
        self._at = at_bar
        self._error = error

    def on_bar(self, bar: Bar, view: Any) -> Sequence[OrderIntent]:
        if int(bar.volume) == self._at:
            raise self._error
        return super().on_bar(bar, view)


class _RaisingFeed(ScriptedFeed):
    """A scripted feed whose ``next_bar`` raises ``error`` for bar ``at_bar``."""

    def __init__(self, at_bar: int, error: BaseException) -> None:
        super().__init__(["40000.00"])
        self._at = at_bar
        self._error = error

    def next_bar(self, ts_ns: int) -> Bar:
        if self._n + 1 == self._at:
            raise self._error
        return super().next_bar(ts_ns)


# A market buy on bar 1 (a position) and a resting limit buy on bar 2 (an open order).
_TRADES = at(
    {
        1: [buy("0.010")],
        2: [buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39000.00"))],
    }
)


def _session(sinks: Sinks, **edges: Any) -> LiveSessionOrchestrator:
    config = DryrunConfig(run_id="fails", strategy_id="scripted", steps=50, seed=5)
    edges.setdefault("feed", ScriptedFeed(["40000.00"]))
    return LiveSessionOrchestrator(config, **edges, **sinks.kwargs())


def _started(sinks: Sinks, **edges: Any) -> LiveSessionOrchestrator:
    orch = _session(sinks, **edges)
    assert orch.preflight()
    orch.activate()
    return orch


# -- a strategy that raises (API) --------------------------------------------------------------


class TestStrategyError:
    def test_the_session_faults_halts_and_cancels(self, tmp_path: Path):
        """A strategy raising on bar 5: ERROR_REQUIRES_OPERATOR, HALTED, the open order cancelled."""
        sinks = Sinks()
        orch = _started(sinks, strategy=_RaisingStrategy(5, _Boom("no signal"), _TRADES))
        orch.run_n_steps(10)
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert orch.status is SessionStatus.FAILED
        assert orch.trading_state is TradingState.HALTED
        assert orch.steps_done == 5  # the bar was recorded: the step counts
        assert not orch.book.open_orders  # the resting limit order was cancelled
        assert orch.book.positions["BTC/USDT"] == D("0.010")  # the operator decides
        (event,) = sinks.events_of("STRATEGY_ERROR")
        assert event["payload"] == {"error": "_Boom", "message": "no signal", "step": 5}
        assert _audit(sinks, "C2_STRATEGY_ERROR") == [event["payload"]]
        (required,) = _audit(sinks, "C2_OPERATOR_REQUIRED")
        assert required["reason"] == "STRATEGY_ERROR"
        assert required["detail"] == {"error": "_Boom", "message": "no signal"}
        after = _types_after(sinks, "STRATEGY_ERROR")
        assert "ORDER_SUBMITTED" not in after
        assert "ORDER_CANCELED" in after
        assert orch.result().detail == "_Boom: no signal"
        with pytest.raises(InvalidTransition):
            orch.step()
        orch.acknowledge("ops-1")
        orch.close()
        assert (orch.state, orch.status) == (SessionState.STOPPED, SessionStatus.FAILED)
        assert not any(orch.book.positions.values())
        _verify_memory(sinks, tmp_path / "run")

    def test_close_after_a_strategy_error_never_completes(self, tmp_path: Path):
        """close() without an acknowledgement seals FAILED in ERROR_REQUIRES_OPERATOR."""
        sinks = Sinks()
        orch = _started(sinks, strategy=_RaisingStrategy(3, ValueError("bad bar"), _TRADES))
        orch.run_n_steps(10)
        orch.close()
        assert (orch.state, orch.status) == (
            SessionState.ERROR_REQUIRES_OPERATOR,
            SessionStatus.FAILED,
        )
        (stopped,) = sinks.events_of("SESSION_STOPPED")
        assert stopped["payload"]["status"] == "FAILED"
        assert stopped["payload"]["reason"] == "STRATEGY_ERROR"
        assert _audit(sinks, "C2_DRYRUN_STOP")[0]["status"] == "FAILED"
        _verify_memory(sinks, tmp_path / "run")

    def test_run_to_end_with_an_operator_winds_down(self, tmp_path: Path):
        """The one-shot path: acknowledged as the operator, flattened, STOPPED and FAILED."""
        sinks = Sinks()
        orch = _session(sinks, strategy=_RaisingStrategy(4, _Boom("x"), _TRADES))
        result = orch.run_to_end(50, operator="cli")
        assert (result.state, result.status, result.reason) == (
            SessionState.STOPPED,
            SessionStatus.FAILED,
            "STRATEGY_ERROR",
        )
        assert result.steps == 4
        assert sinks.events_of("OPERATOR_ACK")[0]["payload"] == {"operator": "cli"}
        flatten = [
            e for e in sinks.events_of("ORDER_SUBMITTED") if e["payload"]["reason"] == "flatten"
        ]
        assert len(flatten) == 1
        assert not any(orch.book.positions.values())
        _verify_memory(sinks, tmp_path / "run")

    def test_run_to_end_without_an_operator_leaves_it_to_the_app(self, tmp_path: Path):
        """Without ``operator`` the run is sealed as it stands: nothing flattened."""
        sinks = Sinks()
        orch = _session(sinks, strategy=_RaisingStrategy(4, _Boom("x"), _TRADES))
        result = orch.run_to_end(50)
        assert (result.state, result.status) == (
            SessionState.ERROR_REQUIRES_OPERATOR,
            SessionStatus.FAILED,
        )
        assert not sinks.events_of("OPERATOR_ACK")
        _verify_memory(sinks, tmp_path / "run")

    def test_acknowledging_a_sealed_fault_says_it_is_too_late(self, tmp_path: Path):
        """After ``run_to_end`` sealed the fault, ``acknowledge`` answered APPLIED ("acknowledged
        by late-op") and did nothing: the evidence was closed and the state stayed
        ERROR_REQUIRES_OPERATOR. It is NOT_APPLICABLE, and says why."""
        sinks = Sinks()
        orch = _session(sinks, strategy=_RaisingStrategy(4, _Boom("x"), _TRADES))
        orch.run_to_end(50)
        answer = orch.acknowledge("late-op")
        assert answer.outcome is VerbOutcome.NOT_APPLICABLE
        assert answer.message.startswith("the run is sealed FAILED in ERROR_REQUIRES_OPERATOR")
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert not sinks.events_of("OPERATOR_ACK")
        _verify_memory(sinks, tmp_path / "run")

    def test_a_secret_in_the_message_is_redacted(self, tmp_path: Path):
        """The exception's message is redacted in events, audit, the result and the log line."""
        sinks = Sinks()
        error = RuntimeError(f"venue login failed: password={SECRET}")
        orch = _session(sinks, strategy=_RaisingStrategy(2, error))
        result = orch.run_to_end(50, operator="cli")
        for artifact in (sinks.events, sinks.states, sinks.audit):
            assert SECRET.encode() not in artifact.getvalue()
        assert SECRET.encode() not in sinks.metrics.content
        (event,) = sinks.events_of("STRATEGY_ERROR")
        assert event["payload"]["message"] == "venue login failed: password=***"
        assert _audit(sinks, "C2_STRATEGY_ERROR")[0]["message"] == (
            "venue login failed: password=***"
        )
        assert SECRET not in result.detail
        _verify_memory(sinks, tmp_path / "run")

    def test_a_generator_failing_half_way_sends_nothing(self, tmp_path: Path):
        """Intents are taken whole: a strategy that fails after yielding one sends none."""

        class HalfWay(ScriptedStrategy):
            def on_bar(self, bar: Bar, view: Any) -> Iterator[OrderIntent]:  # type: ignore[override]
                yield buy("0.010")
                if int(bar.volume) == 3:
                    raise _Boom("second intent")

        sinks = Sinks()
        orch = _session(sinks, strategy=HalfWay(lambda *_: ()))
        orch.run_to_end(50)
        assert len(sinks.events_of("ORDER_SUBMITTED")) == 2  # bars 1 and 2 only
        assert sinks.events_of("STRATEGY_ERROR")[0]["payload"]["step"] == 3
        _verify_memory(sinks, tmp_path / "run")

    def test_an_endless_generator_is_taken_up_to_the_limit_then_fails_the_step(
        self, tmp_path: Path
    ):
        """Bug: on_bar returning an endless generator hung the step for ever, taking intents
        until memory ran out. At most MAX_INTENTS are taken: one more is the strategy's
        error, and none of that bar's intents is sent."""
        taken = []

        class Endless(ScriptedStrategy):
            def on_bar(self, bar: Bar, view: Any) -> Iterator[OrderIntent]:  # type: ignore[override]
                while int(bar.volume) == 3:
                    taken.append(1)
                    if len(taken) > MAX_INTENTS + 1:  # endless, but for a test that must end
                        raise _Boom("the session took more than it takes")
                    yield buy("0.010")
                yield from ()

        sinks = Sinks()
        orch = _session(sinks, strategy=Endless(lambda *_: ()))
        result = orch.run_to_end(50, operator="cli")
        said = (
            "on_bar returned more than 1000 intents (an endless iterator or generator?): "
            "the session takes at most 1000 from one on_bar, each recorded in the run's "
            "files (ask for the rest on the next bar)"
        )
        assert len(taken) == MAX_INTENTS + 1
        assert result.detail == f"ValueError: {said}"
        (event,) = sinks.events_of("STRATEGY_ERROR")
        assert event["payload"] == {"error": "ValueError", "message": said, "step": 3}
        assert not sinks.events_of("SIGNAL")
        _verify_memory(sinks, tmp_path / "run")

    @pytest.mark.parametrize("count", [MAX_INTENTS, MAX_INTENTS + 1])
    def test_a_list_of_more_intents_than_the_bound_fails_the_step(self, tmp_path: Path, count: int):
        """Bug: a strategy returning 100,000 intents for one bar was taken, each recorded
        (SIGNAL, RISK_REJECTED, their audit records and log lines): the run grew by about
        145 MB a bar. At most MAX_INTENTS (1,000) are taken now: a list of more is the
        strategy's error, saying how many it gave, and none of that bar's intents is
        recorded; a list of exactly as many is taken."""
        rested = buy("0.001", order_type=OrderType.LIMIT, limit_price=D("39000.00"))
        sinks = Sinks()
        strategy = ScriptedStrategy(at({2: [rested] * count}))
        result = _session(sinks, strategy=strategy).run_to_end(3)
        if count == MAX_INTENTS:
            assert result.status is SessionStatus.COMPLETED, result
            assert len(sinks.events_of("SIGNAL")) == MAX_INTENTS
        else:
            said = (
                "on_bar returned 1001 intents: the session takes at most 1000 from one "
                "on_bar, each recorded in the run's files (ask for the rest on the next bar)"
            )
            assert result.detail == f"ValueError: {said}"
            (event,) = sinks.events_of("STRATEGY_ERROR")
            assert event["payload"] == {"error": "ValueError", "message": said, "step": 2}
            assert not sinks.events_of("SIGNAL")
        _verify_memory(sinks, tmp_path / "run")

    @pytest.mark.broken_run(
        "an interrupt inside a step tears a session; this one has no checkpoint store, so "
        "nothing seals its run and nothing can resume it (tests/test_interrupts.py resumes)"
    )
    @pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(3)])
    def test_interrupts_are_not_swallowed(self, error: BaseException):
        """KeyboardInterrupt and SystemExit pass through the step untouched, and tear it."""
        sinks = Sinks()
        orch = _started(sinks, strategy=_RaisingStrategy(2, error))
        with pytest.raises(type(error)):
            orch.run_n_steps(5)
        assert orch.state is SessionState.DRYRUN_ACTIVE
        assert not sinks.events_of("STRATEGY_ERROR")
        with pytest.raises(LiveSessionError, match=f"interrupted by {type(error).__name__}"):
            orch.step()
        orch.close()
        assert not sinks.events_of("SESSION_STOPPED"), "a torn session seals nothing"

    @pytest.mark.broken_run(
        "an interrupt inside a step tears a session; this one has no checkpoint store, so "
        "nothing seals its run and nothing can resume it (tests/test_interrupts.py resumes)"
    )
    def test_an_interrupt_whose_str_raises_still_tears_and_passes_through(self):
        """Bug: tearing the session took str() of the interrupt; one whose __str__ raised
        had that second error leave the step in its place, the interrupt lost."""

        class Unprintable(KeyboardInterrupt):
            def __str__(self) -> str:
                raise ValueError("a format its arguments do not fit")

        sinks = Sinks()
        orch = _started(sinks, strategy=_RaisingStrategy(2, Unprintable()))
        with pytest.raises(Unprintable):
            orch.run_n_steps(5)
        with pytest.raises(LiveSessionError, match="interrupted by Unprintable"):
            orch.step()
        orch.close()

    @pytest.mark.broken_run(
        "a store that fails mid-step tears the session; with no checkpoint store nothing "
        "seals its run and nothing resumes it (test_full_disk.py resumes a file-backed one)"
    )
    def test_a_store_failing_mid_step_tears_and_a_second_close_seals_nothing(self):
        """A PostgreSQL server gone while reserving: the error escaped the step, ``with``'s
        close() ran the wind-down into the same error, and an application's second close()
        (a ``finally``) then sealed a run that stopped inside a step. The session is torn
        by the first error: no close seals it, no step runs."""
        sinks = Sinks()

        class _Gone(MemoryIdempotencyStore):
            def _insert(self, key: str, fingerprint: str) -> Any:
                raise PostgresError("PostgreSQL at db:5432/x failed while reserving: gone")

        orch = _started(
            sinks, strategy=ScriptedStrategy(_TRADES), idempotency=_Gone(clock=time.monotonic_ns)
        )
        with pytest.raises(PostgresError), orch:
            orch.run_n_steps(5)
        orch.close()
        assert not sinks.events_of("SESSION_STOPPED"), "a torn session seals nothing"
        with pytest.raises(LiveSessionError, match="interrupted by PostgresError"):
            orch.step()

    @pytest.mark.parametrize(
        "error",
        [asyncio.CancelledError("price task cancelled"), _Weird("odd"), GeneratorExit("gone")],
        ids=["CancelledError", "own-BaseException", "GeneratorExit"],
    )
    def test_a_base_exception_other_than_an_interrupt_is_the_strategy_s_error(
        self, tmp_path: Path, error: BaseException
    ):
        """Bug: an ``asyncio.CancelledError`` (or any ``BaseException`` subclass but
        ``KeyboardInterrupt`` and ``SystemExit``) from on_bar escaped the step as a
        traceback, the run unsealed with its position open. It is the strategy's error:
        wound down, flat, sealed FAILED, and the run verifies."""
        sinks = Sinks()
        orch = _session(sinks, strategy=_RaisingStrategy(4, error, _TRADES))
        result = orch.run_to_end(50, operator="cli")
        assert (result.state, result.status, result.reason) == (
            SessionState.STOPPED,
            SessionStatus.FAILED,
            "STRATEGY_ERROR",
        )
        name = type(error).__name__
        (event,) = sinks.events_of("STRATEGY_ERROR")
        assert event["payload"] == {"error": name, "message": str(error), "step": 4}
        assert result.detail == f"{name}: {error}"
        assert not any(orch.book.positions.values())
        assert not orch.book.open_orders
        _verify_memory(sinks, tmp_path / "run")

    @pytest.mark.parametrize(
        ("intent", "said"),
        [
            (
                {"quantity": D("1e999999")},
                (
                    "an OrderIntent's quantity must be below 1E+25 (28 digits from the lot "
                    "0.001: as many as the session computes with exactly), got 1E+999999"
                ),
            ),
            (
                {"order_type": OrderType.LIMIT, "limit_price": D("1e999999")},
                (
                    "an OrderIntent's limit_price must be below 1E+26 (28 digits from the tick "
                    "0.01: as many as the session computes with exactly), got 1E+999999"
                ),
            ),
            (
                {"quantity": D("1e-9999999999")},
                "an OrderIntent's quantity must be 0 or at least 1E-31 (28 digits from the lot",
            ),
            (
                {"take_profit_pct": D("1e-9999999999")},
                "an OrderIntent's take_profit_pct must be at least 1E-28 (28 digits: as many",
            ),
        ],
        ids=["huge-quantity", "huge-limit", "tiny-quantity", "tiny-percentage"],
    )
    def test_an_extreme_but_finite_decimal_is_the_strategy_s_error(
        self, tmp_path: Path, intent: dict[str, Any], said: str
    ):
        """Bug: ``Decimal("1e999999")`` is finite, and passed the intent's checks: dividing
        it by the lot raised ``decimal.Overflow`` half-way through the intent (a limit price,
        ``DivisionImpossible``), an UNEXPECTED_ERROR sealed without a wind-down, the bar-2
        position left open; ``1e-9999999999``, written out in full for the record, crashed
        the process. Each is the strategy's error now, naming the field and the value."""
        script = at({2: [buy("0.010")], 4: [attrs.evolve(buy("0.010"), **intent)]})
        sinks = Sinks()
        result = _session(sinks, strategy=ScriptedStrategy(script)).run_to_end(50, operator="cli")
        assert (result.state, result.status, result.reason) == (
            SessionState.STOPPED,
            SessionStatus.FAILED,
            "STRATEGY_ERROR",
        )
        (event,) = sinks.events_of("STRATEGY_ERROR")
        assert event["payload"]["error"] == "ValueError"
        assert event["payload"]["message"].startswith(said)
        assert len(sinks.events_of("SIGNAL")) == 1  # the bad intent was never recorded
        assert sinks.events_of("ORDER_SUBMITTED")[-1]["payload"]["reason"] == "flatten"
        _verify_memory(sinks, tmp_path / "run")

    @pytest.mark.parametrize("call", ["step", "run_n_steps", "run_to_end"])
    def test_a_strategy_calling_the_session_forward_is_refused(self, tmp_path: Path, call: str):
        """Bug: ``session.run_n_steps(3)`` (or ``step()``) from inside on_bar ran steps
        nested inside the step: the intent of bar 5 was recorded at bar 8's time and
        filled at its price, and the run verified. Whole steps only: the nested call is
        refused before anything happens, and from on_bar that is the strategy's error."""
        calls = {
            "step": lambda orch: orch.step(),
            "run_n_steps": lambda orch: orch.run_n_steps(3),
            "run_to_end": lambda orch: orch.run_to_end(20),
        }
        holder: list[LiveSessionOrchestrator] = []

        def script(n: int, _bar: Bar, _view: Any) -> Sequence[OrderIntent]:
            if n == 5:
                calls[call](holder[0])
            return [buy("0.010")] if n in (2, 5) else []

        sinks = Sinks()
        orch = _session(sinks, strategy=ScriptedStrategy(script))
        holder.append(orch)
        result = orch.run_to_end(50, operator="cli")
        assert (result.status, result.reason, result.steps) == (
            SessionStatus.FAILED,
            "STRATEGY_ERROR",
            5,
        )
        (event,) = sinks.events_of("STRATEGY_ERROR")
        assert event["payload"]["error"] == "LiveSessionError"
        assert event["payload"]["message"].startswith(
            f"{call} called from inside a step of session fails (the strategy's on_bar or a "
            "step hook): a session runs whole steps only"
        )
        assert len(sinks.events_of("BAR")) == 5  # no step ran inside bar 5's
        assert len(sinks.events_of("SIGNAL")) == 1  # bar 5's intent was never taken
        assert not any(orch.book.positions.values())
        _verify_memory(sinks, tmp_path / "run")

    def test_a_long_message_is_cut(self):
        """A message is cut to 500 characters after redaction."""
        message = error_message(ValueError("x" * 2000))
        assert len(message) == 500
        assert message.endswith("\u2026")
        assert error_message(ValueError(f"token={SECRET} " + "y" * 600)).startswith("token=***")


# -- a feed that raises (API) ------------------------------------------------------------------


class TestFeedError:
    def test_a_feed_raising_faults_before_the_bar(self, tmp_path: Path):
        """The feed raises for bar 6: no BAR for it, five steps, FEED_ERROR, then the wind-down."""
        sinks = Sinks()
        feed = _RaisingFeed(6, ConnectionError("stream closed by peer"))
        orch = _started(sinks, feed=feed, strategy=ScriptedStrategy(_TRADES))
        orch.run_n_steps(10)
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert orch.trading_state is TradingState.HALTED
        assert orch.steps_done == 5
        assert not orch.book.open_orders
        (event,) = sinks.events_of("FEED_ERROR")
        assert event["payload"] == {
            "error": "ConnectionError",
            "message": "stream closed by peer",
            "step": 6,
        }
        assert _audit(sinks, "C2_FEED_ERROR") == [event["payload"]]
        assert len(sinks.events_of("BAR")) == 5
        orch.acknowledge("ops-2")
        orch.close()
        assert (orch.state, orch.status) == (SessionState.STOPPED, SessionStatus.FAILED)
        assert not any(orch.book.positions.values())
        _verify_memory(sinks, tmp_path / "run")

    def test_a_feed_raising_a_cancelled_error_is_the_feed_s_error(self, tmp_path: Path):
        """An ``asyncio.CancelledError`` from next_bar (a feed reading a stream with asyncio)
        escaped the step and left the run unsealed: it is the feed's error now."""
        sinks = Sinks()
        feed = _RaisingFeed(6, asyncio.CancelledError("reader task cancelled"))
        orch = _session(sinks, feed=feed, strategy=ScriptedStrategy(_TRADES))
        result = orch.run_to_end(50, operator="cli")
        assert (result.status, result.reason) == (SessionStatus.FAILED, "FEED_ERROR")
        (event,) = sinks.events_of("FEED_ERROR")
        assert event["payload"]["error"] == "CancelledError"
        assert not any(orch.book.positions.values())
        _verify_memory(sinks, tmp_path / "run")

    @pytest.mark.parametrize("dated", [False, True])
    def test_a_bar_of_another_time_needs_a_dated_feed(self, tmp_path: Path, dated: bool):
        """A feed of one's own that gives bars at its own times (a day later here) without
        ``dated = True`` played on the session's grid: the strategy saw one time and the run
        recorded another, one the data never had. It is now the feed's error; a dated feed's
        bars set the step's time, as a data file's do."""

        class OwnTimes(ScriptedFeed):
            def next_bar(self, ts_ns: int) -> Bar:
                return attrs.evolve(super().next_bar(ts_ns), ts_ns=ts_ns + 86_400 * 10**9)

        feed = OwnTimes(["40000.00"])
        if dated:
            feed.dated = True  # type: ignore[attr-defined]
        sinks = Sinks()
        orch = _started(sinks, feed=feed, strategy=ScriptedStrategy(_TRADES))
        orch.run_n_steps(3)
        if dated:
            assert orch.steps_done == 3
            bar = sinks.events_of("BAR")[0]
            assert bar["ts_utc"].startswith("2026-01-02T")  # the bar's own time, a day on
        else:
            assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
            (event,) = sinks.events_of("FEED_ERROR")
            assert event["payload"]["message"] == (
                "next_bar was asked for the bar of 2026-01-01T00:01:00Z and returned one of "
                "2026-01-02T00:01:00Z: a feed whose bars carry their own times sets dated = "
                "True (see docs/plugins.md)"
            )
            assert not sinks.events_of("BAR")
            orch.acknowledge("ops")
        orch.close()
        _verify_memory(sinks, tmp_path / "run")

    @pytest.mark.parametrize(("minutes", "said"), [(1, "00:01:00Z"), (4, "00:04:00Z")])
    def test_a_dated_feed_going_back_in_time_is_the_feeds_error(
        self, tmp_path: Path, minutes: int, said: str
    ):
        """A dated feed's bar at or before the last one's time is refused, as a data file's is.

        Such a bar was taken at the session's time (which never goes back) and the run
        sealed COMPLETED, recording a time the data never had; after a resume whose feed
        forgot its place, a hundred bars were recorded at one time.
        """
        start = 1_767_225_600 * 10**9

        class GoesBack(ScriptedFeed):
            dated = True

            def next_bar(self, ts_ns: int) -> Bar:
                n = self._n
                bar = super().next_bar(ts_ns)
                offset = minutes if n == 5 else n  # the sixth bar goes back (or repeats)
                return attrs.evolve(bar, ts_ns=start + offset * 60 * 10**9)

        sinks = Sinks()
        orch = _started(sinks, feed=GoesBack(["40000.00"]), strategy=ScriptedStrategy(_TRADES))
        orch.run_n_steps(8)
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert orch.steps_done == 5
        (event,) = sinks.events_of("FEED_ERROR")
        assert event["payload"] == {
            "error": "ValueError",
            "message": f"next_bar returned the bar of 2026-01-01T{said} after the bar of "
            "2026-01-01T00:04:00Z: a dated feed's bars must come in increasing time",
            "step": 6,
        }
        orch.acknowledge("ops")
        orch.close()
        _verify_memory(sinks, tmp_path / "run")

    def test_a_csv_row_with_an_empty_value_is_refused_before_anything_runs(self, tmp_path: Path):
        """A bad CSV row never reaches the run: the data file is checked whole up front.

        The mid-run path above (a feed that raises) is what remains for feeds that cannot
        be checked before the run.
        """
        csv = tmp_path / "btc.csv"
        _bad_csv(csv, rows=60, bad_row=30)
        sinks = Sinks()
        config = DryrunConfig(run_id="csv", feed=f"csv:{csv}", steps=100)
        with pytest.raises(DataFileError, match="line 31, column close"):
            LiveSessionOrchestrator(config, **sinks.kwargs())
        assert sinks.events.lines == []
        assert sinks.audit.lines == []


# -- the one-shot CLI --------------------------------------------------------------------------


def _bad_csv(path: Path, *, rows: int, bad_row: int) -> None:
    """Dated one-minute bars that trade; data row ``bad_row`` has no close."""
    lines = ["timestamp,open,high,low,close,volume"]
    cents = 4_200_000
    moves = (150, -90, 220, -310, 60, -40, 275, -180)
    for n in range(1, rows + 1):
        before = cents
        cents += moves[n % 8] * (1 + (n // 8) % 3)
        high, low = max(before, cents) + 25, min(before, cents) - 25
        cells = [f"{c // 100}.{c % 100:02d}" for c in (before, high, low, cents)]
        if n == bad_row:
            cells[3] = ""
        lines.append(f"2026-03-02T{n // 60:02d}:{n % 60:02d}:00Z,{','.join(cells)},1.{n % 10}00")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class TestCliRefusesBadDataUpFront:
    def test_a_csv_row_without_a_value_is_refused_before_the_run(self, tmp_path: Path):
        """The data file is checked whole first: exit 2, one line naming it, nothing written.

        (Before the up-front check this row failed the run half-way; a feed that fails
        mid-run still winds down, as the API tests above show.)
        """
        _bad_csv(tmp_path / "btc.csv", rows=200, bad_row=120)
        config = tmp_path / "csv.toml"
        config.write_text('feed = "csv:btc.csv"\n[strategy]\nfast = 2\nslow = 5\n', "utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "livesession.cli", "dryrun", "--config", str(config),
             "--out", "runs", "--run-id", "bad", "--steps", "300", "-q"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == EXIT_BAD_INPUT, done.stderr
        (line,) = done.stderr.splitlines()
        assert "btc.csv" in line
        assert "line 121" in line  # the header is line 1, data row 120 is line 121
        assert "column close" in line
        assert not (tmp_path / "runs").exists()


_ENV_KEYED = """
import os


class Keyed:
    strategy_id = "keyed"

    def on_bar(self, bar, view):
        if int(bar.volume) >= 0:  # the first bar: the desk's login fails
            raise ConnectionError(f"login refused for key {os.environ['MYDESK_API_SECRET']}")
        return []

    def get_state(self):
        return {}

    def set_state(self, state):
        pass


def make(*, strategy_id):
    return Keyed()
"""
_ENV_SECRET = "Hx7pQ2vL9mZ4kT8w"


class TestEnvironmentSecrets:
    def test_a_secret_the_strategy_reads_from_the_environment_is_redacted(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ):
        """Bug: the key a strategy read from the environment (as docs/plugins.md says to)
        and quoted in its error was written in clear into events.jsonl, audit.jsonl,
        session.log.jsonl and stderr, and `livesession evidence` then failed its secret
        scan: it knew the variable for a secret, redaction did not."""
        monkeypatch.setenv("MYDESK_API_SECRET", _ENV_SECRET)
        (tmp_path / "keyed.py").write_text(_ENV_KEYED, "utf-8")
        config = tmp_path / "keyed.toml"
        config.write_text('run_id = "keyed"\nsteps = 20\nstrategy_factory = "keyed:make"\n')
        done = subprocess.run(
            [sys.executable, "-m", "livesession.cli", "dryrun", "--config", str(config),
             "--out", "runs"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == EXIT_FAILED, done.stderr
        assert (  # the line of the desk's code that raised, named since 0.2.0
            "STRATEGY_ERROR (ConnectionError: login refused for key ***; raised at "
            f"{tmp_path / 'keyed.py'}:"
        ) in done.stderr
        assert " in on_bar; traceback in session.log.jsonl); wound down" in done.stderr
        assert _ENV_SECRET not in done.stderr + done.stdout
        run_dir = tmp_path / "runs" / "keyed"
        for name in (*CONTRACT, "session.log.jsonl"):
            text = (run_dir / name).read_text("utf-8")
            assert _ENV_SECRET not in text, name
        assert "login refused for key ***" in (run_dir / "events.jsonl").read_text("utf-8")
        assert scan_secrets(run_dir) == []  # the environment's secret, searched for

    def test_a_secret_stays_redacted_after_the_host_drops_it_and_builds_another_session(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ):
        """Bug: a host read its key from the environment into its strategy, removed the
        variable (scrubbing its environment once the credentials are read) and built a
        second session: that session took the environment's secrets again without the key,
        so the first session's strategy error wrote it in clear into its events.jsonl and
        audit.jsonl. A secret once taken stays redacted."""
        monkeypatch.setenv("MYDESK_API_SECRET", _ENV_SECRET)

        class Desk:
            strategy_id = "sma_demo"

            def __init__(self) -> None:
                self.bars = 0
                self.key = os.environ["MYDESK_API_SECRET"]  # read at start-up

            def on_bar(self, bar: Bar, view: object) -> list[OrderIntent]:
                self.bars += 1
                if self.bars == 10:
                    raise ConnectionError(f"login refused for key {self.key}")
                return []

            def get_state(self) -> dict[str, Any]:
                return {"bars": self.bars}

            def set_state(self, state: dict[str, Any]) -> None:
                self.bars = state["bars"]

        first = create_run(DryrunConfig(run_id="first", steps=50), tmp_path, strategy=Desk())
        first.preflight()
        first.activate()
        first.run_n_steps(5)
        monkeypatch.delenv("MYDESK_API_SECRET")
        create_run(DryrunConfig(run_id="second", steps=10), tmp_path).run_to_end(10)
        first.run_n_steps(50)
        assert first.result().detail == "ConnectionError: login refused for key ***"
        first.acknowledge("ops")
        first.close()
        for path in sorted((tmp_path / "first").iterdir()):
            assert _ENV_SECRET.encode() not in path.read_bytes(), path.name
        assert verify_run(tmp_path / "first").ok


# -- the pieces ---------------------------------------------------------------------------------


class TestRecords:
    @pytest.mark.parametrize("missing", ["error", "message", "step"])
    @pytest.mark.broken_run("it deletes a required field from a run")
    def test_the_schemas_require_the_fields(self, tmp_path: Path, missing: str):
        """A STRATEGY_ERROR event without one of its fields fails verify."""
        sinks = Sinks()
        _session(sinks, strategy=_RaisingStrategy(2, _Boom("b"))).run_to_end(50)
        _verify_memory(sinks, tmp_path / "good")
        lines = sinks.events.getvalue().splitlines()
        broken = []
        for raw in lines:
            event = orjson.loads(raw)
            if event["event_type"] == "STRATEGY_ERROR":
                del event["payload"][missing]
            broken.append(orjson.dumps(event, option=orjson.OPT_SORT_KEYS))
        run = tmp_path / "bad"
        run.mkdir()
        for name in CONTRACT:
            (run / name).write_bytes((tmp_path / "good" / name).read_bytes())
        (run / "events.jsonl").write_bytes(b"\n".join(broken) + b"\n")
        result = verify_run(run)  # a run broken on purpose
        assert any(f"'{missing}' is a required property" in v for v in result.violations)
