"""LiveSessionOrchestrator: preflight, steps, stop, faults and fail-closed sinks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import orjson
import pytest

from _scripted import ScriptedFeed
from livesession import (
    Bar,
    ConfigError,
    DryrunConfig,
    FixedClock,
    InvalidTransition,
    LiveSessionError,
    LiveSessionOrchestrator,
    MockBroker,
    SessionState,
    SessionStatus,
    SmaCrossover,
    VerbOutcome,
)
from livesession._risk.checks import (
    CheckResult,
    PreflightContext,
    broker_is_simulated,
    config_valid,
    default_checks,
)
from livesession._session.book import Book

from _helpers import START, Sinks, audit_chain_ok, session


class _Broken:
    """A line sink that raises on its first ``failures`` writes."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.lines: list[bytes] = []

    def write_line(self, line: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("disk on fire")
        self.lines.append(line)

    def flush(self) -> None:
        """Nothing to flush."""

    def sync(self) -> None:
        """Nothing to sync."""


class Quiet:
    """A strategy of the caller's that never trades."""

    strategy_id = "quiet"

    def on_bar(self, bar: object, view: object) -> tuple[()]:
        return ()

    def get_state(self) -> dict[str, object]:
        return {}

    def set_state(self, state: object) -> None:
        """Nothing to restore."""


class _BackwardsClock:
    """A clock that jumps back an hour at its n-th reading."""

    def __init__(self, n: int) -> None:
        self.calls = 0
        self.n = n

    def now(self) -> dt.datetime:
        self.calls += 1
        if self.calls >= self.n:
            return START - dt.timedelta(hours=1)
        return START + dt.timedelta(minutes=self.calls)


class TestPreflight:
    def test_default_session_passes(self):
        """A default config passes every check and reaches PREFLIGHT_OK."""
        orch, sinks = session()
        assert orch.preflight() is True
        assert orch.state is SessionState.PREFLIGHT_OK
        assert orch.status is SessionStatus.RUNNING
        checks = sinks.events_of("PREFLIGHT_CHECK")
        assert {c["payload"]["check"] for c in checks} == {
            "config_valid",
            "live_trading_disabled",
            "allowlist_valid",
            "broker_is_simulated",
            "audit_sink_present",
        }
        assert sinks.audit_codes() == ["C2_DRYRUN_START"]

    @pytest.mark.parametrize(
        ("cfg", "reason", "detail"),
        [
            ({"enabled": True}, "LIVE_ENABLED", "enabled = true: live trading is off"),
            ({"allowlist": []}, "ALLOWLIST_EMPTY", "allowlist is empty"),
            (
                {"allowlist": ["BTC/USDT", "btc-usdt"]},
                "ALLOWLIST_INVALID",
                "allowlist symbol 'btc-usdt' is not a ticker (GOOG, BRK.B) or BASE/QUOTE (BTC/USDT)",
            ),
            (  # it named the forms alone, as if the perpetual were a typo
                {"allowlist": ["BTC/USDT", "ETH/USDT:USDT"]},
                "ALLOWLIST_INVALID",
                (
                    "allowlist symbol 'ETH/USDT:USDT' is not a ticker (GOOG, BRK.B) or BASE/QUOTE "
                    "(BTC/USDT), in upper case (ETH/USDT:USDT is a derivative's name, "
                    "BASE/QUOTE:SETTLE as ccxt writes a perpetual swap or a future, and a session "
                    "trades spot symbols only: its spot pair is ETH/USDT)"
                ),
            ),
            (
                {"allowlist": ["ETH/USDT"]},
                "SYMBOL_NOT_ALLOWED",
                "symbol 'BTC/USDT' is not in allowlist [ETH/USDT]",
            ),
            (
                {"risk": {"max_order_qty": "0.005"}},  # the default order_qty is 0.010
                "CONFIG_INVALID",
                "order_qty 0.010 > max_order_qty 0.005",
            ),
        ],
    )
    def test_failed_check_rejects_without_orders(self, cfg, reason, detail):
        """A failed check gives PREFLIGHT_FAILED, REJECTED, C2_REJECT_<REASON> and no order.

        Its detail names the field and the value, in the event, the audit record and the result.
        """
        orch, sinks = session(**cfg)
        assert orch.preflight() is False
        assert orch.state is SessionState.PREFLIGHT_FAILED
        assert orch.status is SessionStatus.REJECTED
        codes = sinks.audit_codes()
        assert f"C2_REJECT_{reason}" in codes
        assert codes[-1] == "C2_DRYRUN_STOP"
        assert not sinks.events_of("ORDER_SUBMITTED")
        (failed,) = (e for e in sinks.events_of("PREFLIGHT_CHECK") if not e["payload"]["passed"])
        assert failed["payload"]["detail"].startswith(detail)
        (record,) = (
            orjson.loads(line)
            for line in sinks.audit.lines
            if orjson.loads(line)["code"] == f"C2_REJECT_{reason}"
        )
        assert record["payload"]["detail"] == failed["payload"]["detail"]
        result = orch.result()
        assert result.accepted is False
        assert (result.reason, result.detail) == (reason, failed["payload"]["detail"])
        with pytest.raises(InvalidTransition):
            orch.activate()

    def test_a_second_preflight_names_the_call_and_the_state(self):
        """Bug: a second ``preflight()`` raised ``trigger 'preflight_passed' is not allowed in
        state PREFLIGHT_OK``, naming a trigger the caller never saw."""

        def refused(orch: LiveSessionOrchestrator) -> None:
            state = orch.state
            with pytest.raises(InvalidTransition) as info:
                orch.preflight()
            assert str(info.value) == (
                f"preflight() is not allowed in state {state.value}: it runs once, from INIT"
            )
            assert (info.value.trigger, info.value.state) == ("preflight", state.value)
            assert orch.state is state  # nothing changed

        orch, _ = session()
        assert orch.preflight()
        refused(orch)  # PREFLIGHT_OK
        orch.activate()
        refused(orch)  # DRYRUN_ACTIVE
        orch.close()
        rejected, _ = session(enabled=True)  # live trading: the preflight rejects it
        assert not rejected.preflight()
        refused(rejected)  # PREFLIGHT_FAILED
        rejected.close()

    def test_passed_checks_carry_no_detail(self):
        """Only a failed check says why: passing runs keep their bytes."""
        orch, sinks = session()
        assert orch.preflight() is True
        assert all("detail" not in e["payload"] for e in sinks.events_of("PREFLIGHT_CHECK"))
        assert orch.result().detail == ""

    def test_config_valid_names_every_broken_rule(self):
        """steps above max_steps (only reachable around the config's own checks) is named too."""
        cfg = SimpleNamespace(
            steps=12,
            max_steps=10,
            strategy=SimpleNamespace(order_qty=Decimal("0.5")),
            risk=SimpleNamespace(max_order_qty=Decimal("0.25")),
            qty_lot=Decimal("0.001"),
        )
        ctx = PreflightContext(config=cfg, broker=MockBroker(), audit_sink_present=True)  # type: ignore[arg-type]
        result = config_valid()(ctx)
        assert (result.passed, result.reason, result.detail) == (
            False,
            "CONFIG_INVALID",
            "steps 12 > max_steps 10; order_qty 0.5 > max_order_qty 0.25",
        )

    @pytest.mark.parametrize(
        "strategy",
        [
            Quiet(),
            SmaCrossover(strategy_id="sma", fast=3, slow=8, order_qty=Decimal("0.002")),
        ],
        ids=["own-strategy", "own-sma-trading-another-quantity"],
    )
    def test_the_demos_order_qty_is_checked_only_when_the_demo_runs(self, strategy):
        """Bug: the demo strategy's order_qty (0.010 by default, a value never set) was held
        against max_order_qty whatever strategy ran: max_order_qty 0.005 refused every
        other strategy (CONFIG_INVALID: order_qty 0.010 > max_order_qty 0.005), and a
        strategy_factory refuses [strategy], so there was no way out."""
        orch, sinks = session(strategy=strategy, risk={"max_order_qty": "0.005"})
        assert orch.preflight() is True
        (check,) = (
            e["payload"] for e in sinks.events_of("PREFLIGHT_CHECK")
            if e["payload"]["check"] == "config_valid"
        )  # fmt: skip
        assert check == {"check": "config_valid", "passed": True, "reason": ""}
        orch.close()
        demo, _ = session(risk={"max_order_qty": "0.005"})  # the demo itself still is
        assert demo.preflight() is False
        assert demo.result().detail == "order_qty 0.010 > max_order_qty 0.005"
        demo.close()
        at_the_limit, _ = session(risk={"max_order_qty": "0.010"})  # at most: exactly passes
        assert at_the_limit.preflight() is True
        at_the_limit.close()

    @pytest.mark.parametrize("strategy", [None, Quiet()], ids=["demo", "own-strategy"])
    def test_a_max_order_qty_below_one_lot_is_refused(self, strategy):
        """Bug: risk.max_order_qty 0.0005 at qty_lot 0.001 ran the whole session with every
        order refused by the MAX_ORDER_QTY rail (an order is a whole number of lots) and
        sealed COMPLETED; preflight now refuses the config and says why."""
        kwargs = {"strategy": strategy} if strategy is not None else {}
        orch, _ = session(risk={"max_order_qty": "0.0005"}, **kwargs)
        assert orch.preflight() is False
        detail = orch.result().detail
        assert detail.endswith(
            "max_order_qty 0.0005 < qty_lot 0.001 (no order of one lot could pass)"
        )
        orch.close()
        one_lot, _ = session(risk={"max_order_qty": "0.001"}, strategy=Quiet())
        assert one_lot.preflight() is True  # one lot exactly passes
        one_lot.close()

    def test_a_context_s_defaults_are_the_safe_ones(self):
        """A desk building a PreflightContext to try its checks beside the built-in ones
        gets the gates closed by default: no live override (a live config is refused), no
        verified sandbox, the broker taken for livesession's own (its kind counts), and no
        user_broker check standing in for a caller's broker."""

        def answers(**given: object) -> dict[str, tuple[bool, str]]:
            ctx = PreflightContext(audit_sink_present=True, **given)  # type: ignore[arg-type]
            return {c.name: (c(ctx).passed, c(ctx).reason) for c in default_checks()}

        def detail(broker: object) -> str:
            ctx = PreflightContext(config=plain, broker=broker, audit_sink_present=True)  # type: ignore[arg-type]
            return broker_is_simulated()(ctx).detail

        live = answers(config=DryrunConfig(run_id="t", enabled=True), broker=MockBroker())
        assert live["live_trading_disabled"] == (False, "LIVE_ENABLED")
        plain = DryrunConfig(run_id="t")
        assert answers(config=plain, broker=MockBroker())["broker_is_simulated"] == (True, "")
        sandbox = SimpleNamespace(kind="ccxt_sandbox")
        unverified = answers(config=plain, broker=sandbox)["broker_is_simulated"]
        assert unverified == (False, "BROKER_NOT_SIMULATED")
        assert detail(sandbox) == "broker 'ccxt_sandbox' is not a verified sandbox"
        verified = answers(config=plain, broker=sandbox, sandbox_verified=True)
        assert verified["broker_is_simulated"] == (True, "")
        assert detail(SimpleNamespace(kind="live")) == (
            "broker 'live' is not simulated (mock, realish or a verified sandbox)"
        )
        callers = answers(config=plain, broker=SimpleNamespace(kind="mock"), own_broker=False)
        assert callers["broker_is_simulated"] == (False, "BROKER_NOT_SIMULATED")

    def test_a_callers_check_without_detail_still_rejects(self):
        """CheckResult's detail defaults to empty; the event then has none."""

        def refuse(_ctx: PreflightContext) -> CheckResult:
            return CheckResult(name="mine", passed=False, reason="MINE")

        refuse.name = "mine"  # type: ignore[attr-defined]
        sinks = Sinks()
        orch = LiveSessionOrchestrator(DryrunConfig(run_id="t"), checks=[refuse], **sinks.kwargs())
        assert orch.preflight() is False
        *builtin, failed = sinks.events_of("PREFLIGHT_CHECK")
        assert [e["payload"]["check"] for e in builtin] == [c.name for c in default_checks()]
        assert failed["payload"] == {"check": "mine", "passed": False, "reason": "MINE"}
        assert (orch.result().reason, orch.result().detail) == ("MINE", "")

    def test_a_callers_checks_never_replace_the_built_in_ones(self):
        """checks= adds: live trading and a missing audit sink are refused whatever it holds."""

        def office_hours(_ctx: PreflightContext) -> CheckResult:
            return CheckResult(name="office_hours", passed=True)

        office_hours.name = "office_hours"  # type: ignore[attr-defined]
        sinks = Sinks()
        kwargs = {k: v for k, v in sinks.kwargs().items() if k != "audit_sink"}
        orch = LiveSessionOrchestrator(
            DryrunConfig(run_id="t", enabled=True), checks=[office_hours], **kwargs
        )
        assert orch.preflight() is False
        assert orch.result().reason == "LIVE_ENABLED,AUDIT_SINK_MISSING"
        assert orch.result().orders_submitted == 0

    def test_a_built_in_check_listed_again_runs_once(self):
        """[*default_checks(), mine] extends the defaults: each built-in check runs once."""

        def mine(_ctx: PreflightContext) -> CheckResult:
            return CheckResult(name="mine", passed=True)

        mine.name = "mine"  # type: ignore[attr-defined]
        sinks = Sinks()
        orch = LiveSessionOrchestrator(
            DryrunConfig(run_id="t"), checks=[*default_checks(), mine], **sinks.kwargs()
        )
        assert orch.preflight() is True
        names = [e["payload"]["check"] for e in sinks.events_of("PREFLIGHT_CHECK")]
        assert names == [*(c.name for c in default_checks()), "mine"]

    def test_live_flag_needs_an_explicit_override(self):
        """enabled=True passes only with live_override=True (a test override)."""
        orch, _ = session(enabled=True, live_override=True)
        assert orch.preflight() is True

    def test_non_simulated_broker_is_rejected(self):
        """A broker that is neither mock, realish nor a verified sandbox is refused.

        Bug: a caller's broker of a kind of its own that declares nothing was told
        `broker 'live' is not simulated (mock, realish or a verified sandbox)`, which sent
        its author to the kind (one of livesession's own is refused too: its kind says
        nothing), where docs/plugins.md says the detail names the declaration to make."""

        class _Venue(MockBroker):
            kind = "live"

        orch, sinks = session(broker=_Venue())
        assert orch.preflight() is False
        assert "C2_REJECT_BROKER_NOT_SIMULATED" in sinks.audit_codes()
        assert orch.result().detail == (
            "broker _Venue (kind 'live') does not declare simulated: a broker of your own "
            "sets simulated = True to trade in a dry run (its kind says nothing)"
        )

    def test_missing_audit_sink_is_rejected(self):
        """Without an audit sink the session is rejected."""
        sinks = Sinks()
        kwargs = sinks.kwargs()
        del kwargs["audit_sink"]
        orch = LiveSessionOrchestrator(DryrunConfig(run_id="t"), **kwargs)
        assert orch.preflight() is False
        assert orch.status is SessionStatus.REJECTED
        assert orch.result().detail == "no audit sink was given (audit_sink is None)"

    @pytest.mark.broken_run("a sink fails for good on purpose; what it lost cannot verify")
    def test_unwritable_audit_sink_is_rejected(self):
        """An audit sink that cannot be written fails preflight (fail closed)."""
        sinks = Sinks()
        kwargs = sinks.kwargs()
        kwargs["audit_sink"] = _Broken(failures=10**6)
        orch = LiveSessionOrchestrator(DryrunConfig(run_id="t"), **kwargs)
        assert orch.preflight() is False
        assert orch.state is SessionState.PREFLIGHT_FAILED
        assert orch.status is SessionStatus.FAILED
        assert orch.result().detail == "audit sink failed at record 1 (OSError: disk on fire)"


class TestConstruction:
    def test_an_unknown_edge_is_refused_by_name(self):
        """A misspelt keyword is an error, not an edge silently left at its default."""
        with pytest.raises(TypeError, match="evnet_sink"):
            LiveSessionOrchestrator(DryrunConfig(run_id="t", strategy_id="s"), evnet_sink=[])


class TestSteps:
    def test_step_needs_dryrun_active(self):
        """step() before activation raises and changes nothing."""
        orch, _ = session()
        with pytest.raises(InvalidTransition):
            orch.step()
        orch.preflight()
        with pytest.raises(InvalidTransition):
            orch.step()
        assert orch.state is SessionState.PREFLIGHT_OK

    @pytest.mark.parametrize("end", ["exhausted", "raised"])
    def test_run_n_steps_counts_the_steps_that_played_a_bar(self, end):
        """Bug: ``run_n_steps(1000)`` on a feed of 150 bars returned 151 (and so did the
        asyncio facade's ``run_steps``), counting the attempt that found the feed exhausted
        (or raising) and ended the session without a bar, where ``steps_done`` and the
        result said 150."""

        class Short(ScriptedFeed):
            def next_bar(self, ts_ns: int) -> Bar | None:
                if self._n >= 150:
                    if end == "raised":
                        raise OSError("the desk's data server went away")
                    return None
                return super().next_bar(ts_ns)

        orch, _ = session(steps=1000, feed=Short(["100"]))
        orch.preflight()
        orch.activate()
        assert orch.run_n_steps(1000) == 150
        assert orch.steps_done == orch.result().steps == 150
        assert orch.state is not SessionState.DRYRUN_ACTIVE
        orch.close()

    def test_run_n_steps_is_bounded(self):
        """run_n_steps never passes max_steps: it stops the session at the bound.

        It used to refuse a count past the bound (ConfigError), so an application's loop of
        ``run_n_steps(1000)`` died at the end of every run it did not size exactly, and a
        stopped session refused ``run_n_steps(995)`` while ``run_n_steps(5)`` returned 0.
        """
        orch, sinks = session(steps=10, max_steps=10)
        orch.preflight()
        orch.activate()
        with pytest.raises(ConfigError, match="positive integer"):
            orch.run_n_steps(0)
        assert orch.run_n_steps(4) == 4
        assert orch.run_n_steps(11) == 6
        assert (orch.state, orch.status) == (SessionState.STOPPED, SessionStatus.COMPLETED)
        assert orch.steps_done == 10
        stops = [
            e["payload"]["reason"]
            for e in map(orjson.loads, sinks.events.lines)
            if e["payload"].get("trigger") == "request_stop"
        ]
        assert stops == ["max_steps reached"]
        assert (orch.run_n_steps(5), orch.run_n_steps(995)) == (0, 0)

    @pytest.mark.parametrize("steps", [-3, 0, 5.5, "40", True, None])
    def test_run_to_end_refuses_a_bad_count_before_anything_happens(self, steps):
        """A typo in ``run_to_end`` once sealed a run of 0 steps (``-3``: already there), or
        died of a bare TypeError (``'40'``); now it is refused and the session untouched."""
        orch, sinks = session(steps=10, max_steps=10)
        with pytest.raises(ConfigError, match=r"run_to_end needs a positive integer"):
            orch.run_to_end(steps)
        assert orch.state is SessionState.INIT
        assert sinks.events.lines == []
        # Still usable; a total past max_steps runs to the bound, which stops the run.
        result = orch.run_to_end(11)
        assert (result.status, result.steps) == (SessionStatus.COMPLETED, 10)

    def test_a_full_run_trades_and_ends_flat(self):
        """The demo strategy trades, and a stopped session is flat with no open orders."""
        orch, sinks = session(steps=400)
        result = orch.run_to_end(400)
        assert result.status is SessionStatus.COMPLETED
        assert result.orders_submitted > 0
        assert result.fills == result.orders_submitted
        assert not any(orch.book.positions.values())
        assert orch.book.open_orders == ()
        assert sinks.audit_codes()[0] == "C2_DRYRUN_START"
        assert sinks.audit_codes()[-1] == "C2_DRYRUN_STOP"
        assert audit_chain_ok(sinks.audit.lines)

    def test_stop_flattens_an_open_position(self):
        """request_stop waits out an order in flight and flattens the position it left."""
        orch, sinks = session(steps=1000, fill_model={"latency_ms": 30_000})
        orch.preflight()
        orch.activate()
        # A buy in flight while flat: the venue fills it during the stop, so the stop must flatten.
        while orch.book.positions.get("BTC/USDT", Decimal(0)) != 0 or not orch.book.open_orders:
            orch.step()
            if orch.steps_done > 900:
                pytest.fail("never had a position and an open order at once")
        orch.request_stop("test")
        assert orch.state is SessionState.STOPPED
        assert not any(orch.book.positions.values())
        assert orch.book.open_orders == ()
        flatten = [
            e for e in sinks.events_of("ORDER_SUBMITTED") if e["payload"]["reason"] == "flatten"
        ]
        assert flatten
        assert (
            sinks.events_of("ORDER_FILLED")[-1]["payload"]["client_order_id"]
            == flatten[-1]["payload"]["client_order_id"]
        )

    def test_events_are_contiguous_and_time_never_decreases(self):
        """Event seq is 1..n and ts_sim never decreases."""
        orch, sinks = session(steps=300)
        orch.run_to_end(300)
        events = [orjson.loads(line) for line in sinks.events.lines]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        times = [e["ts_sim"] for e in events]
        assert times == sorted(times)

    def test_metrics_match_the_events(self):
        """metrics.json counts equal what events.jsonl and audit.jsonl hold."""
        orch, sinks = session(steps=300)
        orch.run_to_end(300)
        metrics = sinks.metrics_doc()
        assert metrics["events_emitted"] == len(sinks.events.lines)
        assert metrics["audit_events"] == len(sinks.audit.lines)
        assert metrics["state_snapshots"] == len(sinks.states.lines)
        assert metrics["steps"] == 300
        assert metrics["orders_submitted"] == len(sinks.events_of("ORDER_SUBMITTED"))
        assert metrics["status"] == "COMPLETED"


class TestRuntimeChecks:
    def test_clock_going_back_requires_an_operator(self):
        """A clock regression moves the session to ERROR_REQUIRES_OPERATOR (status FAILED)."""
        orch, sinks = session(clock=_BackwardsClock(n=20))
        orch.preflight()
        orch.activate()
        orch.run_n_steps(50)
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert orch.status is SessionStatus.FAILED
        assert "C2_OPERATOR_REQUIRED" in sinks.audit_codes()
        faults = [e for e in sinks.events_of("STATE_CHANGED") if e["payload"]["trigger"] == "fault"]
        assert faults[0]["payload"]["reason"] == "CLOCK_REGRESSION"

    def test_broken_position_invariant_is_a_fault(self, monkeypatch):
        """A position that differs from the sum of fills stops trading for an operator."""
        orch, _ = session()
        orch.preflight()
        orch.activate()
        broken = ("INVARIANT_POSITION", {"symbol": "BTC/USDT", "position": "1", "fills": "0"})
        monkeypatch.setattr(Book, "invariant_violation", lambda _book: broken)
        orch.step()
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert orch.result().reason == "INVARIANT_POSITION"

    def test_operator_acknowledge_stops_safely(self):
        """After a fault, acknowledge() goes through STOPPING to STOPPED; status stays FAILED."""
        orch, sinks = session(clock=_BackwardsClock(n=30))
        orch.preflight()
        orch.activate()
        orch.run_n_steps(40)
        orch.acknowledge("ops-1")
        assert orch.state is SessionState.STOPPED
        assert orch.status is SessionStatus.FAILED
        assert "C2_OPERATOR_ACK" in sinks.audit_codes()
        assert sinks.audit_codes()[-1] == "C2_DRYRUN_STOP"

    def test_acknowledge_after_a_kill_names_reenable_trading(self):
        """acknowledge() of a killed session does nothing and names the verb meant there.

        ``livesession ack`` re-enables trading after a kill (``reenable_trading``), while
        ``acknowledge()`` answers ERROR_REQUIRES_OPERATOR only: its refusal says which
        verb sets trading ACTIVE again. A session trading ACTIVE is told no more.
        """
        orch, _ = session()
        orch.preflight()
        orch.activate()
        orch.run_n_steps(5)
        trading = orch.acknowledge("ops")
        assert trading.message == "nothing to acknowledge: the session is DRYRUN_ACTIVE"
        assert orch.kill("desk")
        orch.run_n_steps(5)
        killed = orch.acknowledge("ops")
        assert killed.outcome is VerbOutcome.NOT_APPLICABLE
        assert killed.message == (
            "nothing to acknowledge: the session is DRYRUN_ACTIVE, trading HALTED "
            "(acknowledge() answers ERROR_REQUIRES_OPERATOR): reenable_trading() sets "
            "trading ACTIVE again, as `livesession ack` does"
        )
        assert orch.reenable_trading("ops")
        orch.close()


class TestSinkFailures:
    def test_retry_then_success_is_audited(self):
        """A sink write that fails once is retried, audited, and counted in metrics."""
        sinks = Sinks()
        kwargs = sinks.kwargs()
        broken = _Broken(failures=1)
        kwargs["state_sink"] = broken
        orch = LiveSessionOrchestrator(
            DryrunConfig(run_id="t", steps=50, max_sink_retries=2), **kwargs
        )
        result = orch.run_to_end(50)
        assert result.status is SessionStatus.COMPLETED
        assert "C2_SINK_WRITE_RETRY" in sinks.audit_codes()
        assert sinks.metrics_doc()["sink_retries"] == 1

    @pytest.mark.broken_run("a sink fails for good on purpose; what it lost cannot verify")
    def test_exhausted_retries_fail_closed(self):
        """When retries run out the session stops trading, status FAILED, audit C2_SINK_WRITE_FAILED."""
        sinks = Sinks()
        kwargs = sinks.kwargs()
        broken = _Broken(failures=0)
        kwargs["event_sink"] = broken
        orch = LiveSessionOrchestrator(
            DryrunConfig(run_id="t", steps=100, max_sink_retries=1), **kwargs
        )
        orch.preflight()
        orch.activate()
        orch.run_n_steps(5)
        broken.failures = 10**6
        orch.run_n_steps(5)
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert orch.status is SessionStatus.FAILED
        steps_at_failure = orch.steps_done
        with pytest.raises(InvalidTransition):
            orch.step()
        assert orch.steps_done == steps_at_failure
        orch.close()
        codes = sinks.audit_codes()
        assert "C2_SINK_WRITE_FAILED" in codes
        # events.jsonl lost its lines from here on: the run is not sealed (it used to be,
        # over incomplete evidence); metrics.json says where the file ends, and why.
        assert codes[-1] == "C2_OPERATOR_REQUIRED"
        assert "C2_DRYRUN_STOP" not in codes
        metrics = sinks.metrics_doc()
        assert metrics["status"] == "FAILED"
        failed_at = metrics["events_sink_failed_at"]
        assert failed_at == len(broken.lines) + 1 == metrics["events_emitted"] + 1
        assert metrics["events_sink_error"] == "OSError: disk on fire"
        assert (
            orch.result().detail
            == f"events sink failed at line {failed_at} (OSError: disk on fire)"
        )


class TestRunDryrun:
    def test_bare_orchestrator_needs_run_dryrun(self):
        """A bare orchestrator refuses verbs until run_dryrun configures it."""
        orch = LiveSessionOrchestrator()
        with pytest.raises(LiveSessionError, match="no config"):
            orch.preflight()
        assert "unconfigured" in repr(orch)

    def test_run_dryrun_once(self):
        """run_dryrun runs the session; a second call is refused."""
        sinks = Sinks()
        orch = LiveSessionOrchestrator()
        cfg = DryrunConfig(run_id="r", strategy_id="s", steps=100, clock_mode="fixed")
        res = orch.run_dryrun(cfg, clock=FixedClock(START), **sinks.kwargs())
        assert (res.accepted, res.status.value, res.run_id) == (True, "COMPLETED", "r")
        with pytest.raises(LiveSessionError, match="fresh"):
            orch.run_dryrun(cfg, clock=FixedClock(START), **Sinks().kwargs())


_NOT_YET = (
    ("step", "INIT", "preflight() and activate() it first (run_to_end does both)"),
    ("run_n_steps", "INIT", "preflight() and activate() it first (run_to_end does both)"),
    ("activate", "INIT", "activate() follows a passed preflight(), so run that first"),
    ("step", "PREFLIGHT_OK", "activate() it first"),
    ("run_n_steps", "PREFLIGHT_OK", "activate() it first"),
    ("activate", "DRYRUN_ACTIVE", "it is active already"),
    ("step", "STOPPED", "the session has stopped: it steps no more"),
    ("activate", "STOPPED", "the session has stopped: it steps no more"),
)


@pytest.mark.parametrize(("call", "state", "why"), _NOT_YET)
def test_a_call_out_of_turn_names_itself_and_what_comes_first(call, state, why):
    """A host's ``step()`` before ``activate()``: it said ``trigger 'step' is not allowed``."""
    orch, _sinks = session(steps=20)
    if state != "INIT":
        orch.preflight()
    if state in ("DRYRUN_ACTIVE", "STOPPED"):
        orch.activate()
    if state == "STOPPED":
        orch.request_stop("ops")
    assert orch.state.value == state
    with pytest.raises(InvalidTransition) as refused:
        getattr(orch, call)(*((5,) if call == "run_n_steps" else ()))
    assert str(refused.value) == f"{call}() is not allowed in state {state}: {why}"
    assert (refused.value.trigger, refused.value.state) == (call, state)
    assert orch.state.value == state
    orch.close()
