"""The live session orchestrator: an explicit, bounded, auditable state machine.

Public verbs (``preflight``, ``activate``, ``step``, ``run_n_steps``, ``request_stop``,
``kill``, ``acknowledge``, ``close``) fire the lifecycle machine; nothing else changes
the state. One step in DRYRUN_ACTIVE runs, in order: clock tick, market feed, broker
reports, runtime checks, strategy, safety rails, idempotency reserve, broker, reports,
book, events, reconciliation, checkpoint.

Beside the lifecycle the session has a trading state (``TradingState``): ACTIVE, REDUCING
(only exposure-reducing orders pass the rails) or HALTED (no new orders; cancels and the
kill switch's flatten orders only). ``reduce_only`` and the execution throttle change it
with a ``TRADING_STATE_CHANGED`` event, the kill switch with ``KILL_SWITCH``, and
``reenable_trading`` sets it back to ACTIVE with ``TRADING_REENABLED``.

The reconciler (``_reconcile``) compares the book with the venue at activation, after a
resume and at the end of every step. A clean pass emits nothing; it resolves what is
decidable (``RECONCILED``) and escalates the rest (``RECONCILE_ESCALATED``, then a fault
to ERROR_REQUIRES_OPERATOR).
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Self

import attrs

from .._artifacts import names
from .._artifacts.recorder import Recorder, crashpoint
from .._artifacts.sinks import MemoryLineSink, MemoryMetricsSink, as_line_sink, as_metrics_sink
from .._domain import clock as _clock
from .._domain.config import DryrunConfig
from .._domain.decimal import ZERO, quantize
from .._domain.ids import client_order_id
from .._domain.lifecycle import STATUS_BY_STATE, SessionState, SessionStatus, Trigger
from .._domain.machine import LifecycleMachine
from .._domain.model import (
    AckReport,
    Bar,
    BrokerReport,
    CancelReport,
    FillReport,
    Order,
    OrderIntent,
    OrderType,
    RejectReport,
    Side,
    VenueOrder,
    VenueOrderStatus,
    report_from_json,
    report_to_json,
)
from .._domain.retry import RetryPolicy
from .._exceptions import (
    BrokerError,
    ConfigError,
    InvalidTransition,
    LeaseError,
    LiveSessionError,
    OutcomeUnknown,
    Rejected,
    SinkFailure,
    Transient,
)
from .._market.feeds import CsvReplayFeed, RandomWalkFeed
from .._market.strategies import SmaCrossover
from .._reconcile.reconciler import Discrepancy, compare, lookups_needed, plan
from .._risk.checks import Check, CheckResult, PreflightContext, default_checks
from .._risk.rails import Rail, RiskContext, default_rails
from .._typing import Broker, CheckpointStore, Clock, IdempotencyStore, MarketFeed, Strategy
from ..brokers.mock import FillModel, MockBroker
from ..leases import LeaseGrant, SessionLease
from ..stores.memory import MemoryIdempotencyStore
from .book import Book, BookView
from .exits import Protection, protective_legs

__all__ = ["DryrunResult", "LiveSessionOrchestrator", "TradingState", "make_clock"]

S = SessionState
_NS_PER_SEC: Final = 1_000_000_000
_NS_PER_MS: Final = 1_000_000
_NS_PER_DAY: Final = 86_400 * _NS_PER_SEC
_MAX_HELD_PER_ORDER: Final = 64
_MAX_UNMATCHED_ORDERS: Final = 1024
_MAX_FINISHED: Final = 512
_LEASE_RENEW_FRACTION: Final = 4  # renew once a quarter of the lease TTL has passed


class TradingState(enum.Enum):
    """Whether new orders may be sent: all, only reducing ones, or none."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


@attrs.frozen(kw_only=True)
class DryrunResult:
    """What a finished dry run reports; ``accepted`` is whether preflight passed."""

    accepted: bool
    status: SessionStatus
    run_id: str
    state: SessionState
    steps: int
    orders_submitted: int
    fills: int
    equity: Decimal
    pnl: Decimal
    reason: str = ""


def make_clock(config: DryrunConfig) -> Clock:
    """The clock a config's ``clock_mode`` names."""
    if config.clock_mode == "fixed":
        return _clock.FixedClock(config.start)
    if config.clock_mode == "system":
        return _clock.SystemClock()
    return _clock.SimClock(config.start)


class LiveSessionOrchestrator:
    """Runs one trading session as a state machine over injected edges.

    Build it with a config and (optionally) a clock, broker, feed, strategy, sinks and
    stores; or build it bare and call ``run_dryrun`` once, as the operator runbook does.
    Live trading is off: preflight rejects ``enabled=True`` unless ``live_override``.
    """

    def __init__(
        self,
        config: DryrunConfig | None = None,
        *,
        clock: Clock | None = None,
        broker: Broker | None = None,
        feed: MarketFeed | None = None,
        strategy: Strategy | None = None,
        event_sink: object | None = None,
        state_sink: object | None = None,
        audit_sink: object | None = None,
        metrics_sink: object | None = None,
        idempotency: IdempotencyStore | None = None,
        checkpoints: CheckpointStore | None = None,
        rails: Sequence[Rail] | None = None,
        checks: Sequence[Check] | None = None,
        retry_policy: RetryPolicy | None = None,
        live_override: bool = False,
        lease: SessionLease | None = None,
        lease_clock: Clock | None = None,
        lease_holder: str | None = None,
    ) -> None:
        self._configured = False
        self._utc_text = _clock.UtcText()
        self._lease = lease
        self._lease_clock: Clock = lease_clock if lease_clock is not None else _clock.SystemClock()
        self._lease_holder = lease_holder
        self._lease_grant: LeaseGrant | None = None
        self._lease_audited = False
        self._lease_renewed_ns = 0
        if config is not None:
            self._configure(
                config,
                clock=clock,
                broker=broker,
                feed=feed,
                strategy=strategy,
                event_sink=event_sink,
                state_sink=state_sink,
                audit_sink=audit_sink,
                metrics_sink=metrics_sink,
                idempotency=idempotency,
                checkpoints=checkpoints,
                rails=rails,
                checks=checks,
                retry_policy=retry_policy,
                live_override=live_override,
            )

    def _configure(
        self,
        config: DryrunConfig,
        *,
        clock: Clock | None,
        broker: Broker | None,
        feed: MarketFeed | None,
        strategy: Strategy | None,
        event_sink: object | None,
        state_sink: object | None,
        audit_sink: object | None,
        metrics_sink: object | None,
        idempotency: IdempotencyStore | None,
        checkpoints: CheckpointStore | None,
        rails: Sequence[Rail] | None,
        checks: Sequence[Check] | None,
        retry_policy: RetryPolicy | None,
        live_override: bool,
    ) -> None:
        if not isinstance(config, DryrunConfig):
            raise ConfigError(f"config must be a DryrunConfig, got {type(config).__name__}")
        cfg = config
        self._cfg = cfg
        self._clock = clock if clock is not None else make_clock(cfg)
        self._owns_sim_clock = isinstance(self._clock, _clock.SimClock)
        # A plain SimClock's time is its nanosecond counter: no datetime needed per step.
        self._plain_sim = self._clock if type(self._clock) is _clock.SimClock else None
        self._broker = broker if broker is not None else default_broker(cfg)
        self._feed = feed if feed is not None else default_feed(cfg)
        self._strategy = strategy if strategy is not None else default_strategy(cfg)
        self._audit_present = audit_sink is not None
        self._recorder = Recorder(
            run_id=cfg.run_id,
            strategy_id=cfg.strategy_id,
            events=as_line_sink(event_sink) if event_sink is not None else MemoryLineSink(),
            states=as_line_sink(state_sink) if state_sink is not None else MemoryLineSink(),
            audit=as_line_sink(audit_sink) if audit_sink is not None else MemoryLineSink(),
            metrics=as_metrics_sink(metrics_sink)
            if metrics_sink is not None
            else MemoryMetricsSink(),
            max_sink_retries=cfg.max_sink_retries,
            sync_each_line=cfg.durability == "event",
        )
        self._idem = (
            idempotency
            if idempotency is not None
            else MemoryIdempotencyStore(_clock.SimClock(cfg.start), ttl_ns=None)
        )
        self._checkpoints = checkpoints
        self._rails = tuple(rails) if rails is not None else default_rails(cfg.risk, cfg.allowlist)
        self._checks = tuple(checks) if checks is not None else tuple(default_checks())
        self._retry = retry_policy or RetryPolicy(seed=cfg.seed)
        self._live_override = live_override
        self._machine = LifecycleMachine()
        self._book = Book(initial_cash=cfg.initial_cash, price_tick=cfg.price_tick)
        self._interval = cfg.step_interval_ns
        self._start_ns = _clock_ns(cfg)
        self._ts_sim = self._start_ns
        self._grid_ns = self._start_ns
        self._last_us: int | None = None  # the clock's last reading, epoch microseconds
        self._steps = 0
        self._intent_seq = 0
        self._executions = 0
        self._rate_second = -1
        self._rate_count = 0
        self._failed = False
        self._sealed = False
        self._released = False
        self._trading = TradingState.ACTIVE
        self._reason = ""
        self._kill_started_ns: int | None = None
        self._unmatched: dict[str, list[BrokerReport]] = {}
        self._inbox: collections.deque[BrokerReport] = collections.deque()
        self._day = self._start_ns // _NS_PER_DAY
        self._grace_ns = reconcile_grace_ns(cfg)
        self._recon_pending: dict[str, int] = {}
        self._recon_escalated: set[str] = set()
        self._recon_hold_until_ns = 0
        self._reconcile_before_step = False
        self._protect: dict[str, Protection] = {}
        self._oco_filled: set[str] = set()
        self._finished: dict[str, None] = {}
        self.extra_checks: list[Check] = []
        self.step_hooks: list[Callable[[LiveSessionOrchestrator], None]] = []
        self._configured = True

    # -- read-only view ------------------------------------------------------------------

    @property
    def config(self) -> DryrunConfig:
        """The session's configuration."""
        self._require_configured()
        return self._cfg

    @property
    def state(self) -> SessionState:
        """The lifecycle state."""
        self._require_configured()
        return self._machine.state

    @property
    def status(self) -> SessionStatus:
        """The operator-facing status (FAILED stays FAILED once reached)."""
        self._require_configured()
        return SessionStatus.FAILED if self._failed else STATUS_BY_STATE[self._machine.state]

    @property
    def trading_state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED."""
        return self._trading

    @property
    def steps_done(self) -> int:
        """Steps completed so far."""
        return self._steps

    @property
    def ts_sim(self) -> int:
        """Current simulated time in nanoseconds."""
        return self._ts_sim

    @property
    def book(self) -> BookView:
        """A frozen picture of positions, cash, equity and open orders."""
        return self._book.view()

    @property
    def recorder(self) -> Recorder:
        """The artifact recorder (counts, offsets, digests)."""
        return self._recorder

    @property
    def broker(self) -> Broker:
        """The broker the session trades with."""
        return self._broker

    # -- the operator runbook's one-shot entry point -----------------------------------------

    def run_dryrun(
        self,
        cfg: DryrunConfig,
        *,
        clock: Clock | None = None,
        event_sink: object,
        state_sink: object,
        metrics_sink: object,
        audit_sink: object,
        broker: Broker | None = None,
        live_override: bool = False,
    ) -> DryrunResult:
        """Preflight, run ``cfg.steps`` steps, stop, and write the four artifacts."""
        if self._configured:
            raise LiveSessionError(
                "run_dryrun needs a fresh LiveSessionOrchestrator(); this one is already set up"
            )
        self._configure(
            cfg,
            clock=clock,
            broker=broker,
            feed=None,
            strategy=None,
            event_sink=event_sink,
            state_sink=state_sink,
            audit_sink=audit_sink,
            metrics_sink=metrics_sink,
            idempotency=None,
            checkpoints=None,
            rails=None,
            checks=None,
            retry_policy=None,
            live_override=live_override,
        )
        return self.run_to_end(cfg.steps)

    def run_to_end(
        self, steps: int, *, progress: Callable[[int], None] | None = None
    ) -> DryrunResult:
        """From wherever the session is, run to ``steps`` completed steps and close it."""
        if self.state is S.INIT and not self.preflight():
            self.close()
            return self.result()
        if self._machine.may_fire(Trigger.ACTIVATE):
            self.activate()
        while self._machine.state is S.DRYRUN_ACTIVE and self._steps < steps:
            self.step()
            if progress is not None:
                progress(self._steps)
        self.close()
        return self.result()

    def result(self) -> DryrunResult:
        """The session's outcome so far."""
        view = self._book.view()
        metrics = self._recorder.metrics
        return DryrunResult(
            accepted=self.state not in (S.INIT, S.PREFLIGHT_FAILED),
            status=self.status,
            run_id=self._cfg.run_id,
            state=self.state,
            steps=self._steps,
            orders_submitted=metrics.count("ORDER_SUBMITTED"),
            fills=metrics.count("ORDER_FILLED") + metrics.count("ORDER_PARTIALLY_FILLED"),
            equity=view.equity,
            pnl=view.pnl,
            reason=self._reason,
        )

    # -- lifecycle verbs -------------------------------------------------------------------

    def preflight(self) -> bool:
        """Run the startup checks: PREFLIGHT_OK when all pass, else PREFLIGHT_FAILED."""
        self._require_configured()
        if self.state is not S.INIT:
            raise InvalidTransition(Trigger.PREFLIGHT_PASSED.value, self.state.value)
        self._set_time(self._ts_sim)
        rec = self._recorder
        results: list[CheckResult] = []
        try:
            rec.emit("SESSION_STARTED", self._start_payload())
            self._snapshot("start", S.INIT)
            ctx = PreflightContext(
                config=self._cfg,
                broker=self._broker,
                audit_sink_present=self._audit_present,
                live_override=self._live_override,
                sandbox_verified=bool(getattr(self._broker, "sandbox_verified", False)),
            )
            for check in (*self._checks, *self.extra_checks):
                result = check(ctx)
                results.append(result)
                rec.emit(
                    "PREFLIGHT_CHECK",
                    {"check": result.name, "passed": result.passed, "reason": result.reason},
                )
            if self._lease is not None:
                result = self._lease_check()
                results.append(result)
                rec.emit(
                    "PREFLIGHT_CHECK",
                    {"check": result.name, "passed": result.passed, "reason": result.reason},
                )
            if "audit" in rec.dead:
                results.append(
                    CheckResult(
                        name="audit_sink_writable", passed=False, reason="AUDIT_SINK_UNWRITABLE"
                    )
                )
        except SinkFailure:
            self._failed = True
            results.append(
                CheckResult(name="sinks_writable", passed=False, reason="SINK_WRITE_FAILED")
            )
        failed = [r for r in results if not r.passed]
        if failed:
            self._reason = ",".join(r.reason for r in failed)
            self._guarded(lambda: self._transition(Trigger.PREFLIGHT_FAILED, self._reason))
            self._seal()
            return False
        self._guarded(lambda: self._transition(Trigger.PREFLIGHT_PASSED, "all checks passed"))
        return self._machine.may_fire(Trigger.ACTIVATE)

    def activate(self) -> None:
        """Start trading in dry-run mode (PREFLIGHT_OK -> DRYRUN_ACTIVE).

        The venue is reconciled at once, with no grace: an order it has open that this
        fresh session does not know is escalated to an operator before any step runs.
        (A resumed session instead reconciles before its first step, and holds back
        grace-based decisions until it has re-run past the point the venue had reached;
        see ``_replay_window_ns``.)
        """
        self._require_configured()
        self._guarded(lambda: self._transition(Trigger.ACTIVATE, "activated"))
        if self.state is S.DRYRUN_ACTIVE:
            self._guarded(lambda: self._reconcile(grace_ns=0))
        self._guarded(self._checkpoint)

    def step(self) -> None:
        """Run one bounded step; needs DRYRUN_ACTIVE.

        The first step after ``restore_state`` reconciles the venue first.
        """
        if not self._configured:
            self._require_configured()
        if self._machine.state is not S.DRYRUN_ACTIVE:
            raise InvalidTransition("step", self.state.value)
        if self._lease is not None and not self._renew_lease():
            return
        if self._reconcile_before_step:
            self._reconcile_before_step = False
            self._guarded(self._reconcile)
            if not self._in(S.DRYRUN_ACTIVE):  # the reconciler escalated
                return
        self._guarded(self._step_once)

    def run_n_steps(self, n: int) -> int:
        """Run up to ``n`` steps (stops early when the session leaves DRYRUN_ACTIVE)."""
        self._require_configured()
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ConfigError(f"run_n_steps needs a positive integer, got {n!r}")
        remaining = self._cfg.max_steps - self._steps
        if n > remaining:
            raise ConfigError(
                f"run_n_steps({n}) would pass the bound max_steps={self._cfg.max_steps} "
                f"({remaining} steps left)"
            )
        done = 0
        while done < n and self.state is S.DRYRUN_ACTIVE:
            self.step()
            done += 1
        return done

    def request_stop(self, reason: str = "operator") -> None:
        """Stop: cancel open orders, flatten, final snapshot, STOPPED (bounded)."""
        self._require_configured()
        self._guarded(lambda: self._transition(Trigger.REQUEST_STOP, reason))
        self._guarded(self._wind_down)

    def kill(self, reason: str = "operator") -> None:
        """Kill switch: HALTED, cancel everything, flatten, audit ``C2_KILL_SWITCH``."""
        self._require_configured()
        if self.state not in (S.DRYRUN_ACTIVE, S.STOPPING):
            raise InvalidTransition("kill", self.state.value)
        self._guarded(lambda: self._kill(reason))

    def acknowledge(self, operator: str = "operator") -> None:
        """Operator acknowledges ERROR_REQUIRES_OPERATOR: STOPPING, cancel, flatten, STOPPED.

        Audited as ``C2_OPERATOR_ACK``. The operator takes over every discrepancy the
        reconciler escalated: those orders are no longer tracked (``RECONCILED``, action
        ``DROPPED``), so the wind-down can flatten what the book knows and stop.
        """
        self._require_configured()
        if self.state is not S.ERROR_REQUIRES_OPERATOR:
            raise InvalidTransition(Trigger.OPERATOR_ACK.value, self.state.value)
        if self._reason == "LEASE_LOST":
            raise LiveSessionError(
                "this session lost its lease (LEASE_LOST): the new holder owns the venue's "
                "orders, so this one must not cancel or flatten; close it instead"
            )
        self._guarded(lambda: self._recorder.emit("OPERATOR_ACK", {"operator": operator}))
        self._guarded(lambda: self._transition(Trigger.OPERATOR_ACK, f"acknowledged by {operator}"))
        if self._in(S.STOPPING):
            self._recon_hold_until_ns = 0  # the operator decides now; no more waiting out a replay
            self._guarded(lambda: self._drop_escalated(operator))
        self._guarded(self._wind_down)

    def reduce_only(self, reason: str = "operator") -> None:
        """Trading state REDUCING: only orders that reduce exposure pass from now on.

        Allowed while the session may trade (PREFLIGHT_OK, DRYRUN_ACTIVE) and not HALTED
        (leaving HALTED takes ``reenable_trading``). Emits ``TRADING_STATE_CHANGED``
        (audit ``C2_TRADING_STATE``); ``reenable_trading`` goes back to ACTIVE.
        """
        self._require_configured()
        if self.state not in (S.PREFLIGHT_OK, S.DRYRUN_ACTIVE):
            raise InvalidTransition("reduce_only", self.state.value)
        if self._trading is TradingState.HALTED:
            raise InvalidTransition("reduce_only", TradingState.HALTED.value)
        self._guarded(lambda: self._set_trading(TradingState.REDUCING, reason))

    def reenable_trading(self, operator: str = "operator") -> None:
        """Operator sets trading ACTIVE again (after REDUCING, the throttle or a kill).

        Resets the execution count the throttle looks at. Allowed while the session may
        trade, and not while a kill switch is still flattening. Emits
        ``TRADING_REENABLED`` (audit ``C2_OPERATOR_REENABLE``).
        """
        self._require_configured()
        if self.state not in (S.PREFLIGHT_OK, S.DRYRUN_ACTIVE):
            raise InvalidTransition("reenable_trading", self.state.value)
        if self._kill_started_ns is not None:
            raise LiveSessionError(
                "the kill switch is still flattening: re-enable trading after KILL_SWITCH_FLAT"
            )
        before = self._trading
        self._executions = 0
        self._trading = TradingState.ACTIVE
        self._guarded(
            lambda: self._recorder.emit(
                "TRADING_REENABLED", {"operator": operator, "trading_state": before.value}
            )
        )

    def close(self) -> None:
        """End the session: stop if still running, then seal the artifacts (idempotent)."""
        self._require_configured()
        if not self._sealed:
            if self.state in (S.PREFLIGHT_OK, S.DRYRUN_ACTIVE):
                self.request_stop("session closed")
            if self.state is S.INIT:
                self._reason = "closed before preflight"
            if not self._sealed:
                self._seal()
        if not self._released:
            self._released = True
            self._release_lease()
            self._broker.close()
            self._recorder.close()
            self._idem.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if not self._configured:
            return "LiveSessionOrchestrator(<unconfigured>)"
        return (
            f"LiveSessionOrchestrator(run_id={self._cfg.run_id!r}, state={self.state.value}, "
            f"status={self.status.value}, steps={self._steps})"
        )

    # -- one step ---------------------------------------------------------------------------

    def _step_once(self) -> None:
        self._grid_ns += self._interval
        if not self._tick(max(self._grid_ns, self._ts_sim)):
            return
        bar = self._feed.next_bar(self._ts_sim)
        if bar is None:
            self._steps += 1
            self._request_stop_inner("feed exhausted")
            return
        self._on_bar(bar)
        if self._machine.state is not S.DRYRUN_ACTIVE:
            return
        self._steps += 1
        for hook in self.step_hooks:
            hook(self)
        self._end_of_step()
        if self._steps >= self._cfg.max_steps and self._machine.state is S.DRYRUN_ACTIVE:
            self._request_stop_inner("max_steps reached")

    def _on_bar(self, bar: Bar) -> None:
        book = self._book
        book.mark(bar.symbol, bar.close)
        self._broker.on_market(bar)
        self._recorder.emit(
            "BAR",
            {
                "symbol": bar.symbol,
                "open": str(bar.open),
                "high": str(bar.high),
                "low": str(bar.low),
                "close": str(bar.close),
                "volume": str(bar.volume),
            },
        )
        self._process_reports()
        if not self._runtime_checks():
            return
        self._update_day_peak()
        if self._trading is not TradingState.HALTED:
            for intent in self._strategy.on_bar(bar, book):
                self._handle_intent(intent)
        self._process_reports()
        self._continue_kill()
        self._reconcile()
        if self._kill_started_ns is not None:
            self._check_kill_flat()  # the reconciler may just have confirmed the last cancel

    def _tick(self, ts_ns: int) -> bool:
        """Advance simulated time and read the clock; a clock going back is a fault."""
        if self._owns_sim_clock:
            clock = self._clock
            assert isinstance(clock, _clock.SimClock)  # noqa: S101 - narrowed for mypy
            clock.set_elapsed(ts_ns - self._start_ns)
        now = self._now_us()
        last = self._last_us
        if last is not None and now < last:
            self._set_time(max(ts_ns, self._ts_sim), now_us=last)
            self._fault(
                "CLOCK_REGRESSION",
                {"previous": self._utc_text(last), "now": self._utc_text(now)},
            )
            return False
        self._set_time(ts_ns, now_us=now)
        return True

    def _now_us(self) -> int:
        """The clock's reading in epoch microseconds."""
        sim = self._plain_sim
        if sim is not None:
            return sim.monotonic_ns() // 1000
        return _clock.epoch_us(self._clock.now())

    def _set_time(self, ts_ns: int, *, now_us: int | None = None) -> None:
        now = now_us if now_us is not None else self._now_us()
        if now != self._last_us or self._ts_sim != ts_ns or not self._recorder.ts_utc:
            self._last_us = now
            self._ts_sim = ts_ns
            self._recorder.set_time(ts_ns, self._utc_text(now))

    def _wait(self, ns: int) -> None:
        """Wait ``ns`` of simulated time (retries and lookups never sleep on the wall)."""
        target = self._ts_sim + ns
        if self._owns_sim_clock:
            clock = self._clock
            assert isinstance(clock, _clock.SimClock)  # noqa: S101 - narrowed for mypy
            clock.set_elapsed(target - self._start_ns)
        self._set_time(target)

    def _runtime_checks(self) -> bool:
        """Book invariants: position equals the sum of fills; every order has its id."""
        book = self._book
        for symbol, qty in book.positions.items():
            if qty != book.ledger.get(symbol, ZERO):
                self._fault(
                    "INVARIANT_POSITION",
                    {
                        "symbol": symbol,
                        "position": str(qty),
                        "fills": str(book.ledger.get(symbol, ZERO)),
                    },
                )
                return False
        for cid, live in book.open.items():
            if not cid or live.order.client_order_id != cid:
                self._fault("INVARIANT_ORDER_ID", {"client_order_id": cid})
                return False
        return True

    def _update_day_peak(self) -> None:
        """Track the day's peak equity; the daily-loss cap pulls the kill switch.

        Days are simulated UTC days: the first bar of a new day starts its peak afresh at
        the equity of that moment.
        """
        equity = self._book.equity()
        day = self._ts_sim // _NS_PER_DAY
        if day != self._day:
            self._day = day
            self._book.day_peak_equity = equity
            return
        if equity > self._book.day_peak_equity:
            self._book.day_peak_equity = equity
            return
        peak = self._book.day_peak_equity
        limit = self._cfg.risk.daily_loss_pct
        if (
            self._trading is not TradingState.HALTED
            and peak > 0
            and (peak - equity) / peak >= limit
            and self._book.positions
            and any(self._book.positions.values())
        ):
            self._kill("DAILY_LOSS")

    # -- intents, rails and sending ---------------------------------------------------------

    def _handle_intent(self, intent: OrderIntent) -> None:
        cfg = self._cfg
        self._intent_seq += 1
        seq = self._intent_seq
        qty = quantize(intent.quantity, cfg.qty_lot)
        if qty <= 0:
            return
        if qty != intent.quantity:
            intent = attrs.evolve(intent, quantity=qty)
        rec = self._recorder
        rec.emit(
            "SIGNAL",
            {
                "intent_seq": seq,
                "symbol": intent.symbol,
                "side": intent.side.value,
                "quantity": str(qty),
                "reason": intent.reason,
            },
        )
        ctx = self._risk_context(intent)
        for rail in self._rails:
            rejection = rail(intent, ctx)
            if rejection is not None:
                rec.emit(
                    "RISK_REJECTED",
                    {
                        "intent_seq": seq,
                        "rule": rejection.rule,
                        "symbol": intent.symbol,
                        "side": intent.side.value,
                        "quantity": str(qty),
                        **rejection.detail,
                    },
                )
                if rejection.rule == "EXECUTION_THROTTLE":
                    # Too many executions: no new orders until an operator re-enables.
                    self._set_trading(TradingState.HALTED, "EXECUTION_THROTTLE")
                return
        order = Order(
            client_order_id=client_order_id(cfg.run_id, cfg.strategy_id, seq, "main"),
            symbol=intent.symbol,
            side=intent.side,
            quantity=qty,
            order_type=intent.order_type,
            limit_price=intent.limit_price,
            reduce_only=intent.reduce_only,
        )
        sent = self._send(order, seq, reason=intent.reason)
        if sent and not intent.reduce_only and (intent.take_profit_pct or intent.stop_loss_pct):
            self._protect[order.client_order_id] = Protection(
                intent_seq=seq,
                take_profit_pct=intent.take_profit_pct,
                stop_loss_pct=intent.stop_loss_pct,
            )

    def _risk_context(self, intent: OrderIntent) -> RiskContext:
        book = self._book
        price = book.last_price.get(intent.symbol, ZERO)
        self._roll_rate_second()
        return RiskContext(
            last_price=price,
            equity=book.equity(),
            day_peak_equity=book.day_peak_equity,
            position=book.position(intent.symbol),
            open_exposure=book.exposure(intent.symbol, price) + book.stop_risk(),
            orders_this_second=self._rate_count,
            executions=self._executions,
            trading_state=self._trading.value,
        )

    def _send(self, order: Order, intent_seq: int, *, reason: str) -> bool:
        """Reserve the key durably, then send once; True when the book tracks the order.

        An order whose send outcome stays unknown (the venue may have it, and no lookup
        could tell) is tracked *in doubt*: never resent, adopted by the reconciler once
        the venue shows it, or given up as never sent when the venue still does not know
        it after the grace period. Its ``ORDER_SUBMITTED`` carries ``send_outcome``.
        """
        cid = order.client_order_id
        record = self._idem.reserve(cid, order.fingerprint())
        crashpoint("before_send")
        outcome = "submitted"
        in_doubt = False
        known = None if record.created else self._venue_knows(cid)
        if known:
            outcome = "recovered"
        elif known is None and not record.created:
            in_doubt = True  # reserved before, and the venue cannot say: never resend blindly
            outcome = "unknown"
        else:
            try:
                self._submit_with_retry(order)
            except Rejected as exc:
                self._idem.complete(cid, f"rejected:{exc.reason}")
                self._recorder.emit(
                    "ORDER_REJECTED",
                    {"client_order_id": cid, "intent_seq": intent_seq, "reason": exc.reason},
                )
                return False
            except Transient as exc:
                self._idem.complete(cid, "not_sent")
                self._recorder.emit(
                    "ORDER_REJECTED",
                    {
                        "client_order_id": cid,
                        "intent_seq": intent_seq,
                        "reason": "SEND_FAILED",
                        "error": type(exc).__name__,
                    },
                )
                return False
            except OutcomeUnknown:
                in_doubt = True
                outcome = "unknown"
        crashpoint("after_send")
        self._book.add_order(order, in_doubt=in_doubt)
        self._count_order()
        payload: dict[str, Any] = {
            "client_order_id": cid,
            "intent_seq": intent_seq,
            "symbol": order.symbol,
            "side": order.side.value,
            "quantity": str(order.quantity),
            "order_type": order.order_type.value,
            "reduce_only": order.reduce_only,
            "reason": reason,
        }
        if order.limit_price is not None:
            payload["limit_price"] = str(order.limit_price)
        if order.oco_group is not None:
            payload["oco_group"] = order.oco_group
        if in_doubt:
            payload["send_outcome"] = "UNKNOWN"
        self._recorder.emit("ORDER_SUBMITTED", payload)
        self._idem.complete(cid, outcome)
        return True

    def _venue_knows(self, cid: str) -> bool | None:
        """Whether the venue has ``cid``; None when it did not answer.

        A broker with its own ``lookup`` (the CCXT adapter) is asked through it: only that
        call confirms an absence, which is what allows the one legitimate resend.
        """
        confirming = getattr(self._broker, "lookup", None)
        try:
            if callable(confirming):
                return confirming(cid, attempts=1) is not None
            return self._broker.order_by_client_id(cid) is not None
        except BrokerError:
            return None

    def _roll_rate_second(self) -> None:
        second = self._ts_sim // _NS_PER_SEC
        if second != self._rate_second:
            self._rate_second = second
            self._rate_count = 0

    def _count_order(self) -> None:
        """Count an order sent in the current simulated second (for ORDER_RATE)."""
        self._roll_rate_second()
        self._rate_count += 1

    def _submit_with_retry(self, order: Order) -> None:
        """Send with backoff on Transient; on OutcomeUnknown look up before any resend."""
        cid = order.client_order_id
        policy = self._retry
        started = self._ts_sim
        for attempt in range(1, policy.max_attempts + 1):
            try:
                self._broker.submit(order, self._ts_sim)
            except Transient:
                if attempt == policy.max_attempts:
                    raise
            except OutcomeUnknown:
                found = self._lookup(cid, policy)
                if found:
                    return
                if found is None or attempt == policy.max_attempts:
                    raise  # the venue may have it: resending could send it twice
            else:
                return
            delay = policy.delay_ns(cid, attempt)
            if self._ts_sim + delay - started > policy.max_elapsed_ns:
                raise Transient("retry budget exhausted", client_order_id=cid)
            self._wait(delay)

    def _lookup(self, cid: str, policy: RetryPolicy) -> bool | None:
        """Bounded polling for an order whose send outcome is unknown.

        True when the venue has it, False when the venue answered that it does not, None
        when no lookup got an answer.
        """
        answered = False
        for attempt in range(1, policy.max_attempts + 2):
            known = self._venue_knows(cid)
            if known:
                return True
            answered = answered or known is not None
            if attempt > policy.max_attempts:
                break
            self._wait(policy.delay_ns(f"lookup:{cid}", attempt))
        return False if answered else None

    # -- broker reports ------------------------------------------------------------------------

    def _process_reports(self) -> None:
        """Apply the venue's reports; those not yet applied wait in the inbox.

        A report leaves the inbox just before it is applied, so a sink failure half-way
        through a batch (which stops the session) loses none of the rest.
        """
        book = self._book
        inbox = self._inbox
        if self._unmatched:
            self._release_unmatched()
        try:
            reports = self._broker.poll(self._ts_sim)
        except BrokerError:
            reports = ()  # nothing arrived; the venue keeps what it owes
        if reports:
            inbox.extend(reports)
        while inbox:
            report = inbox.popleft()
            cid = report.client_order_id
            if cid in book.open:
                self._on_report(report)
            elif cid in book.closed:
                if isinstance(report, FillReport):
                    self._on_fill(report)  # a fill that raced the cancel
            elif cid not in self._finished:
                self._hold_unmatched(report)
        if self._kill_started_ns is not None:
            self._check_kill_flat()

    def _release_unmatched(self) -> None:
        """Reports that arrived before their order was (re)adopted (e.g. after a resume)."""
        known = [cid for cid in self._unmatched if self._book.tracked(cid) is not None]
        for cid in known:
            self._inbox.extend(self._unmatched.pop(cid))

    def _on_report(self, report: BrokerReport) -> None:
        live = self._book.open.get(report.client_order_id)
        if live is not None and live.in_doubt:
            # The venue reports on it, so it has it: adopt before applying the report.
            self._adopt(report.client_order_id, f"report:{type(report).__name__}")
        if isinstance(report, FillReport):
            self._on_fill(report)
        elif isinstance(report, AckReport):
            self._on_ack(report)
        elif isinstance(report, RejectReport):
            self._on_reject(report)
        else:
            self._on_cancel(report)

    def _hold_unmatched(self, report: BrokerReport) -> None:
        """Keep a report for an order the session does not know (yet), bounded."""
        held = self._unmatched.setdefault(report.client_order_id, [])
        if len(held) < _MAX_HELD_PER_ORDER:
            held.append(report)
        while len(self._unmatched) > _MAX_UNMATCHED_ORDERS:
            self._unmatched.pop(next(iter(self._unmatched)))

    def _finish(self, cid: str) -> None:
        """Remember that ``cid`` is done, so late duplicates of its reports are dropped."""
        self._finished[cid] = None
        self._unmatched.pop(cid, None)
        if len(self._finished) > _MAX_FINISHED:
            del self._finished[next(iter(self._finished))]

    def _on_ack(self, report: AckReport) -> None:
        live = self._book.open.get(report.client_order_id)
        if live is not None and not live.acked:
            live.acked = True
            self._recorder.emit(
                "ORDER_ACCEPTED",
                {
                    "client_order_id": report.client_order_id,
                    "venue_order_id": report.venue_order_id,
                },
            )

    def _on_reject(self, report: RejectReport) -> None:
        cid = report.client_order_id
        if self._book.close_order(cid) is not None:
            self._recorder.emit("ORDER_REJECTED", {"client_order_id": cid, "reason": report.reason})
            self._protect.pop(cid, None)
            self._finish(cid)

    def _on_cancel(self, report: CancelReport) -> None:
        cid = report.client_order_id
        closed = self._book.close_order(cid, confirm=True)
        if closed is None:
            return
        self._recorder.emit(
            "ORDER_CANCELED", {"client_order_id": cid, "filled": str(closed.filled)}
        )
        protection = self._protect.pop(cid, None)
        if protection is not None and closed.filled:
            self._protect_entry(closed.order, closed.filled, closed.notional, protection)

    def _on_fill(self, report: FillReport) -> None:
        """Apply a fill once; duplicates and fills of unknown orders change nothing."""
        book = self._book
        rec = self._recorder
        cid = report.client_order_id
        live = book.tracked(cid)
        after_cancel = cid not in book.open
        if live is None or not book.apply_fill(cid, report.trade_id, report.quantity, report.price):
            return
        order = live.order
        remaining = order.quantity - live.filled
        payload: dict[str, Any] = {
            "client_order_id": cid,
            "trade_id": report.trade_id,
            "symbol": order.symbol,
            "side": order.side.value,
            "quantity": str(report.quantity),
            "price": str(report.price),
            "filled": str(live.filled),
            "remaining": str(remaining),
        }
        if after_cancel:
            payload["after_cancel"] = True
        rec.emit("ORDER_FILLED" if remaining == 0 else "ORDER_PARTIALLY_FILLED", payload)
        self._executions += 1
        rec.emit(
            "POSITION_CHANGED",
            {
                "symbol": order.symbol,
                "position": str(book.position(order.symbol)),
                "avg_price": str(book.avg_price.get(order.symbol, ZERO)),
                "cash": str(book.cash),
                "equity": str(book.equity()),
            },
        )
        if book.tracked(cid) is None:
            self._finish(cid)
        if order.oco_group is not None:
            self._on_leg_fill(order)
        if remaining == 0 and not after_cancel:
            protection = self._protect.pop(cid, None)
            if protection is not None:
                self._protect_entry(order, live.filled, live.notional, protection)

    # -- OCO exits -------------------------------------------------------------------------------

    def _protect_entry(
        self, entry: Order, filled: Decimal, notional: Decimal, protection: Protection
    ) -> None:
        """Place the protective OCO legs of an entry that is done (see ``_oco``)."""
        cfg = self._cfg
        legs = protective_legs(
            entry,
            quantity=filled,
            avg_price=notional / filled,
            protection=protection,
            price_tick=cfg.price_tick,
            run_id=cfg.run_id,
            strategy_id=cfg.strategy_id,
        )
        reasons = {"sl": "stop_loss", "tp": "take_profit"}
        for leg, order in legs:
            if self._trading is TradingState.HALTED or not self._in(S.DRYRUN_ACTIVE):
                # Legs only ever reduce exposure, so REDUCING lets them through; HALTED
                # sends nothing new (the kill switch flattens instead), nor does a session
                # that is stopping (it flattens too), and the refusal is recorded.
                self._recorder.emit(
                    "RISK_REJECTED",
                    {
                        "intent_seq": protection.intent_seq,
                        "rule": "TRADING_STATE",
                        "symbol": order.symbol,
                        "side": order.side.value,
                        "quantity": str(order.quantity),
                        "trading_state": self._trading.value,
                        "fsm_state": self.state.value,
                        "client_order_id": order.client_order_id,
                        "leg": leg,
                    },
                )
                continue
            self._send(order, protection.intent_seq, reason=reasons[leg])

    def _on_leg_fill(self, leg: Order) -> None:
        """One-cancels-the-other: the first fill of a leg cancels its open siblings."""
        group = leg.oco_group
        assert group is not None  # noqa: S101 - checked by the caller
        self._oco_filled.add(group)
        book = self._book
        siblings = [
            cid
            for cid, live in book.open.items()
            if live.order.oco_group == group and cid != leg.client_order_id and not live.filled
        ]
        for cid in sorted(siblings):
            self._request_cancel(cid)

    # -- stopping, kill switch, faults ------------------------------------------------------

    def _request_stop_inner(self, reason: str) -> None:
        self._transition(Trigger.REQUEST_STOP, reason)
        self._wind_down()

    def _wind_down(self) -> None:
        """Cancel, flatten and reach STOPPED within ``stop_max_polls`` polls, or fault.

        Done means: no open order, flat, and the venue confirmed the final fills of every
        cancelled order (apart from differences an operator was already told about).
        """
        if self.state is not S.STOPPING:
            return
        book = self._book
        self._cancel_open()
        for _ in range(self._cfg.stop_max_polls):
            self._process_reports()
            if not book.open and not self._is_flat():
                self._flatten()
                self._process_reports()
            self._reconcile()
            if not self._in(S.STOPPING):  # the reconciler escalated
                return
            if not book.open and self._is_flat() and not self._unconfirmed_closed():
                break
            self._cancel_open()
            self._wait(self._interval)
        else:
            # Out of polls: a resume's hold no longer applies (the operator is called
            # either way), so differences that outlasted their grace are escalated now and
            # the acknowledgement that follows can settle them (``_drop_escalated``).
            self._process_reports()
            self._reconcile(hold=False)
            if self._in(S.STOPPING):
                self._fault("STOP_INCOMPLETE", {"open_orders": str(len(book.open))})
            return
        if self._kill_started_ns is not None:
            self._check_kill_flat()
        self._transition(Trigger.STOPPED, self._reason or "stopped")
        self._seal()

    def _unconfirmed_closed(self) -> list[str]:
        """Cancelled orders whose final fills the venue has not confirmed (not escalated)."""
        escalated = {key.partition(":")[2] for key in self._recon_escalated}
        return [cid for cid in self._book.closed if cid not in escalated]

    def _cancel_open(self) -> None:
        """Ask the venue to cancel every open order not already being cancelled.

        Reduce-only market orders (exits and flatten orders on their way) are left alone,
        and so are orders in doubt (they are cancelled once adopted).
        """
        for cid, live in sorted(self._book.open.items()):
            order = live.order
            if order.reduce_only and order.order_type is OrderType.MARKET:
                continue
            self._request_cancel(cid)

    def _request_cancel(self, cid: str) -> None:
        """Send one cancel request for ``cid`` unless one was accepted already."""
        live = self._book.open.get(cid)
        if live is None or live.cancel_requested or live.in_doubt:
            return
        try:
            self._broker.cancel(cid, self._ts_sim)
        except Rejected:
            live.cancel_requested = True  # not open at the venue: its last report is on the way
        except BrokerError:
            return  # not sent, or unknown: the next pass asks again
        else:
            live.cancel_requested = True

    def _is_flat(self) -> bool:
        return not any(self._book.positions.values())

    def _flatten(self) -> None:
        cfg = self._cfg
        for symbol, qty in sorted(self._book.positions.items()):
            if not qty:
                continue
            self._intent_seq += 1
            order = Order(
                client_order_id=client_order_id(
                    cfg.run_id, cfg.strategy_id, self._intent_seq, "flatten"
                ),
                symbol=symbol,
                side=Side.SELL if qty > 0 else Side.BUY,
                quantity=abs(qty),
                order_type=OrderType.MARKET,
                reduce_only=True,
            )
            self._send(order, self._intent_seq, reason="flatten")

    def _kill(self, reason: str) -> None:
        """HALTED, cancel everything, flatten; ``_continue_kill`` finishes on later steps."""
        before = self._trading
        self._trading = TradingState.HALTED
        if self._kill_started_ns is None:
            self._kill_started_ns = self._ts_sim
        self._recorder.emit(
            "KILL_SWITCH",
            {
                "reason": reason,
                "open_orders": len(self._book.open),
                "flat": self._is_flat(),
                "trading_state": before.value,
            },
        )
        self._cancel_open()
        self._process_reports()
        self._continue_kill()
        if self._in(S.DRYRUN_ACTIVE):
            self._reconcile()
            self._check_kill_flat()

    def _continue_kill(self) -> None:
        """While a kill is in progress: re-send failed cancels, flatten once nothing is open."""
        if self._kill_started_ns is None:
            return
        book = self._book
        if book.open:
            self._cancel_open()
        elif not self._is_flat():
            self._flatten()
            self._process_reports()
        self._check_kill_flat()

    def _check_kill_flat(self) -> None:
        """KILL_SWITCH_FLAT once nothing is open, the book is flat, and no fill can follow."""
        started = self._kill_started_ns
        if started is None or self._book.open or not self._is_flat():
            return
        if self._unconfirmed_closed():
            return  # a cancelled order may still report a fill that raced its cancel
        self._kill_started_ns = None
        self._recorder.emit("KILL_SWITCH_FLAT", {"time_to_flat_ns": self._ts_sim - started})

    def _set_trading(self, new: TradingState, reason: str) -> None:
        before = self._trading
        if before is new:
            return
        self._trading = new
        self._recorder.emit(
            "TRADING_STATE_CHANGED", {"from": before.value, "to": new.value, "reason": reason}
        )

    # -- reconciliation ----------------------------------------------------------------------------

    def _reconcile(self, *, grace_ns: int | None = None, hold: bool = True) -> None:
        """One pass of the reconciler: silent when book and venue agree.

        Costs one ``open_orders()`` call plus one lookup per tracked order the venue does
        not list as open. A venue that does not answer skips the pass.
        """
        book = self._book
        broker = self._broker
        local = book.local_orders() if book.open or book.closed else ()
        try:
            venue_open = tuple(broker.open_orders())
            if not local and not venue_open and not self._recon_pending:
                return  # the common case: nothing here, nothing there
            looked_up = {
                cid: broker.order_by_client_id(cid) for cid in lookups_needed(local, venue_open)
            }
        except BrokerError:
            return
        comparison = compare(
            local,
            venue_open,
            looked_up,
            positions=book.positions,
            oco_filled=self._oco_filled,
        )
        decided = plan(
            comparison,
            pending=self._recon_pending,
            escalated=self._recon_escalated,
            now_ns=self._ts_sim,
            grace_ns=self._grace_ns if grace_ns is None else grace_ns,
            hold_until_ns=self._recon_hold_until_ns if hold else 0,
        )
        self._recon_pending = dict(decided.pending)
        for cid in decided.confirmed_closed:
            book.confirm_closed(cid)
            self._finish(cid)
        venue = {v.client_order_id: v for v in venue_open}
        for cid in decided.adopt:
            seen = venue.get(cid) or looked_up.get(cid)
            self._adopt(cid, f"lookup:{'UNKNOWN' if seen is None else seen.status.value}")
        for cid in decided.not_sent:
            self._give_up(cid)
        for cid in decided.close:
            self._close_as_venue_says(cid, venue.get(cid) or looked_up.get(cid))
        for item in decided.cancel:
            self._cancel_orphan(item)
        if self._oco_filled:
            tracked = (*book.open.values(), *book.closed.values())
            self._oco_filled &= {live.order.oco_group or "" for live in tracked}
        if decided.escalate:
            self._escalate(decided.escalate)

    def _replay_window_ns(self) -> int:
        """How far a resumed session may be behind the venue it reconnects to.

        The venue kept everything up to the crash, which may lie as far as a checkpoint
        interval, a whole wind-down and a retry budget past the checkpoint; until the
        re-run has caught up, the venue shows outcomes whose reports are still to come.
        """
        cfg = self._cfg
        steps = cfg.checkpoint_every + cfg.stop_max_polls + 1
        return steps * self._interval + self._retry.max_elapsed_ns

    def _adopt(self, cid: str, evidence: str) -> None:
        """An order sent in doubt is at the venue (``evidence`` says how we know): track it."""
        live = self._book.open.get(cid)
        if live is None or not live.in_doubt:
            return
        live.in_doubt = False
        self._recorder.emit(
            "RECONCILED", {"action": "ADOPTED", "client_order_id": cid, "evidence": evidence}
        )
        self._idem.complete(cid, "adopted")

    def _give_up(self, cid: str) -> None:
        """An order sent in doubt that the venue never showed: it was not sent."""
        live = self._book.close_order(cid)
        if live is None:
            return
        self._recorder.emit(
            "RECONCILED",
            {"action": "NOT_SENT", "kind": "ORDER_MISSING_AT_VENUE", "client_order_id": cid},
        )
        self._recorder.emit(
            "ORDER_REJECTED",
            {"client_order_id": cid, "reason": "SEND_FAILED", "error": "OutcomeUnknown"},
        )
        self._idem.complete(cid, "not_sent")
        self._protect.pop(cid, None)
        self._finish(cid)

    def _close_as_venue_says(self, cid: str, seen: VenueOrder | None) -> None:
        """Close an order as the venue says: it cancelled or rejected it, and no report came."""
        if seen is None or cid not in self._book.open:
            return
        status = seen.status.value
        self._recorder.emit(
            "RECONCILED",
            {
                "action": "CLOSED",
                "kind": "ORDER_MISSING_AT_VENUE",
                "client_order_id": cid,
                "venue_status": status,
            },
        )
        if seen.status is VenueOrderStatus.REJECTED:
            self._on_reject(
                RejectReport(client_order_id=cid, reason="REPORT_LOST", ts_ns=self._ts_sim)
            )
        else:
            self._on_cancel(CancelReport(client_order_id=cid, ts_ns=self._ts_sim))

    def _drop_escalated(self, operator: str) -> None:
        """After an operator's acknowledgement, stop tracking the orders escalated to them.

        The operator owns those differences now; each drop is recorded (``RECONCILED``,
        action ``DROPPED``) so the wind-down can flatten what the book knows and stop.
        """
        book = self._book
        for key in sorted(self._recon_escalated):
            kind, _, cid = key.partition(":")
            if cid in book.open:
                book.close_order(cid)
            elif cid in book.closed:
                book.confirm_closed(cid)
            else:
                continue
            self._protect.pop(cid, None)
            self._finish(cid)
            self._recorder.emit(
                "RECONCILED",
                {"action": "DROPPED", "kind": kind, "client_order_id": cid, "operator": operator},
            )

    def _cancel_orphan(self, item: Discrepancy) -> None:
        cid = item.client_order_id
        self._request_cancel(cid)
        self._recorder.emit(
            "RECONCILED",
            {"action": "CANCEL_REQUESTED", **item.to_json()},
        )

    def _escalate(self, items: Sequence[Discrepancy]) -> None:
        """Tell an operator: RECONCILE_ESCALATED with every difference, then a fault."""
        self._recon_escalated.update(item.key for item in items)
        self._recorder.emit(
            "RECONCILE_ESCALATED", {"discrepancies": [item.to_json() for item in items]}
        )
        kinds = sorted({item.kind.value for item in items})
        self._fault(
            "RECONCILE_MISMATCH", {"discrepancies": str(len(items)), "kinds": ",".join(kinds)}
        )

    # -- the single-active-session lease --------------------------------------------------

    @property
    def lease_grant(self) -> LeaseGrant | None:
        """The session lease this session holds now (None without a lease or once lost)."""
        return self._lease_grant

    def _lease_now_ns(self) -> int:
        return _clock.epoch_ns(self._lease_clock.now())

    def _lease_check(self) -> CheckResult:
        """Preflight: take the (account, strategy) lease, or fail with LEASE_HELD.

        The fencing token goes to the audit log only (``C2_LEASE_ACQUIRED``): it grows
        across runs, so events and snapshots stay byte-identical.
        """
        name = "session_lease"
        grant = self._lease_grant
        if grant is not None:  # adopted on resume: keep it live
            if self._renew_ok():
                if not self._lease_audited:
                    self._audit_lease(grant)
                return CheckResult(name=name, passed=True, reason="")
            return CheckResult(name=name, passed=False, reason="LEASE_LOST")
        try:
            granted = self.acquire_lease()
        except LeaseError as exc:
            self._recorder.audit("C2_LEASE_ERROR", {"stage": "acquire", "error": str(exc)})
            return CheckResult(name=name, passed=False, reason="LEASE_UNAVAILABLE")
        if not granted:
            return CheckResult(name=name, passed=False, reason="LEASE_HELD")
        return CheckResult(name=name, passed=True, reason="")

    def acquire_lease(self) -> bool:
        """Acquire the session lease now (False while another holder has it).

        Audits ``C2_LEASE_ACQUIRED`` with the fencing token. True without a lease.
        """
        self._require_configured()
        if self._lease is None:
            return True
        cfg = self._cfg
        holder = self._lease_holder or cfg.run_id
        grant = self._lease.acquire(holder, self._lease_now_ns(), cfg.lease_ttl_ms * _NS_PER_MS)
        if grant is None:
            return False
        self.adopt_lease(grant)
        return True

    def adopt_lease(self, grant: LeaseGrant, *, audit: bool = True) -> None:
        """Hold ``grant`` (taken by the caller, as resume does).

        With ``audit`` it is audited (``C2_LEASE_ACQUIRED``) now; otherwise at preflight.
        """
        self._require_configured()
        if self._lease is None:
            raise LiveSessionError("adopt_lease needs a session built with a lease")
        self._lease_grant = grant
        self._lease_audited = False
        self._lease_renewed_ns = grant.expires_ns - grant.ttl_ns
        if audit:
            self._audit_lease(grant)

    def _audit_lease(self, grant: LeaseGrant) -> None:
        self._lease_audited = True
        self._recorder.audit(
            "C2_LEASE_ACQUIRED",
            {
                "account": grant.account,
                "strategy": grant.strategy,
                "holder": grant.holder_id,
                "fence": grant.token,  # the fencing token ("token" keys are redacted)
                "ttl_ms": grant.ttl_ns // _NS_PER_MS,
            },
        )

    def _renew_ok(self) -> bool:
        """Whether the grant still holds the lease, renewing it when due.

        The store is asked at most every quarter TTL: a lease cannot change hands before
        it expires, and a renewal less than a quarter TTL ago keeps it live for at least
        three quarters more (on the shared wall-clock time base; skew eats into it).
        """
        grant = self._lease_grant
        if grant is None or self._lease is None:
            return False
        now = self._lease_now_ns()
        if 0 <= now - self._lease_renewed_ns < grant.ttl_ns // _LEASE_RENEW_FRACTION:
            return True
        try:
            renewed = self._lease.renew(grant, now)
        except LeaseError:
            return False
        if renewed:
            self._lease_renewed_ns = now
        return renewed

    def _renew_lease(self) -> bool:
        """Renew before trading; on a lost lease stop at once (no cancel, no flatten).

        The new holder owns the venue's orders now, so this session must not touch them:
        it faults to ERROR_REQUIRES_OPERATOR with reason LEASE_LOST.
        """
        grant = self._lease_grant
        if self._renew_ok():
            return True
        self._lease_grant = None
        self._trading = TradingState.HALTED
        # A resumed session may own this run directory now: never overwrite its checkpoint.
        self._checkpoints = None

        def lost() -> None:
            self._recorder.audit(
                "C2_LEASE_LOST",
                {
                    "account": self._cfg.account,
                    "strategy": self._cfg.strategy_id,
                    "holder": self._lease_holder or self._cfg.run_id,
                    "fence": None if grant is None else grant.token,
                    "step": self._steps,
                },
            )
            self._fault("LEASE_LOST")

        self._guarded(lost)
        return False

    def _release_lease(self) -> None:
        grant, self._lease_grant = self._lease_grant, None
        lease = self._lease
        if lease is None:
            return
        try:
            if grant is not None:
                lease.release(grant)
        except LeaseError:
            pass  # it expires on its own; the next holder's token is larger either way
        finally:
            if self._released:
                lease.close()

    def _fault(self, reason: str, detail: dict[str, str] | None = None) -> None:
        self._failed = True
        self._reason = reason
        if self.state is S.PREFLIGHT_OK:
            self._transition(Trigger.REQUEST_STOP, reason)
        if self._machine.may_fire(Trigger.FAULT):
            self._transition(Trigger.FAULT, reason, detail)

    def _guarded(self, action: Callable[[], None]) -> None:
        """Run ``action``; a sink failure fails the session closed."""
        try:
            action()
        except SinkFailure as exc:
            self._fail_closed(exc)

    def _fail_closed(self, exc: SinkFailure) -> None:
        self._failed = True
        self._trading = TradingState.HALTED
        rec = self._recorder
        for _ in range(3):  # each nested failure kills one more sink; three sinks at most
            try:
                if not self._reason.startswith("SINK_WRITE_FAILED"):
                    self._reason = "SINK_WRITE_FAILED"
                    rec.emit("SINK_WRITE_FAILED", {"sinks": sorted(rec.dead), "error": str(exc)})
                if self._machine.may_fire(Trigger.FAULT) or self.state is S.PREFLIGHT_OK:
                    self._fault("SINK_WRITE_FAILED")
            except SinkFailure as again:
                exc = again
                continue
            return

    def _transition(
        self, trigger: Trigger, reason: str, detail: dict[str, str] | None = None
    ) -> None:
        before = self._machine.state
        after = self._machine.fire(trigger)
        payload: dict[str, Any] = {
            "from_state": before.value,
            "to_state": after.value,
            "trigger": trigger.value,
            "status": self.status.value,
            "reason": reason,
        }
        if detail:
            payload["detail"] = detail
        self._recorder.emit("STATE_CHANGED", payload)
        self._snapshot(trigger.value, before)

    def _snapshot(self, trigger: str, from_state: SessionState) -> None:
        book = self._book
        self._recorder.snapshot(
            {
                "status": self.status.value,
                "fsm_state": self._machine.state.value,
                "trigger": trigger,
                "from_state": from_state.value,
                "step": self._steps,
                "positions": {k: str(v) for k, v in sorted(book.positions.items())},
                "open_orders": [
                    {
                        "client_order_id": cid,
                        "symbol": live.order.symbol,
                        "side": live.order.side.value,
                        "quantity": str(live.order.quantity),
                        "filled": str(live.filled),
                    }
                    for cid, live in sorted(book.open.items())
                ],
                "equity": str(book.equity()),
            }
        )

    def _seal(self) -> None:
        """Close the run's evidence: SESSION_STOPPED, final snapshot, C2_DRYRUN_STOP, metrics."""
        if self._sealed:
            return
        self._sealed = True
        rec = self._recorder
        view = self._book.view()
        status = self.status.value
        try:
            rec.emit(
                "SESSION_STOPPED",
                {
                    "status": status,
                    "fsm_state": self.state.value,
                    "steps": self._steps,
                    "reason": self._reason,
                    "equity": str(view.equity),
                    "pnl": str(view.pnl),
                },
            )
            state = self._machine.state
            self._snapshot("final", state)
            rec.flush(sync=False)
        except SinkFailure as exc:
            self._failed = True
            self._sealed = True
            del exc
        try:
            rec.audit(
                "C2_DRYRUN_STOP",
                {"status": self.status.value, "digests": rec.digest_hex(), "steps": self._steps},
            )
            rec.write_metrics()
            rec.flush(sync=self._cfg.durability != "none")
        except SinkFailure:
            self._failed = True
        self._checkpoint_quiet()
        self._release_lease()

    # -- checkpoints ---------------------------------------------------------------------------

    def _end_of_step(self) -> None:
        """The step's group commit (durability ``step``) and, every N steps, a checkpoint."""
        cfg = self._cfg
        if self._checkpoints is not None and self._steps % cfg.checkpoint_every == 0:
            self._checkpoint()  # flushes (and, when durable, syncs) every sink first
        elif cfg.durability == "step":
            self._recorder.flush(sync=True)

    def _checkpoint(self, *, metrics: bool = True) -> None:
        if self._checkpoints is None:
            return
        rec = self._recorder
        rec.flush(sync=self._cfg.durability != "none")
        if metrics:
            rec.write_metrics()
        crashpoint("checkpoint")
        self._checkpoints.save(self.get_state())

    def _checkpoint_quiet(self) -> None:
        """The sealing checkpoint (``_seal`` has just written metrics.json itself)."""
        try:
            self._checkpoint(metrics=False)
        except (SinkFailure, OSError, LiveSessionError):
            return

    def get_state(self) -> dict[str, Any]:
        """Everything needed to resume this session (JSON-compatible)."""
        from .._version import __version__  # noqa: PLC0415 - tiny module, avoids a cycle

        journal_offset = getattr(self._broker, "journal_offset", None)
        return {
            "format": names.CHECKPOINT_FORMAT,
            "version": __version__,
            "broker_journal_offset": journal_offset() if callable(journal_offset) else None,
            "config": self._cfg.to_dict(),
            "fsm_state": self.state.value,
            "failed": self._failed,
            "sealed": self._sealed,
            "reason": self._reason,
            "steps": self._steps,
            "ts_sim": self._ts_sim,
            "grid_ns": self._grid_ns,
            "last_utc": None if self._last_us is None else self._utc_text(self._last_us),
            "intent_seq": self._intent_seq,
            "executions": self._executions,
            "rate": [self._rate_second, self._rate_count],
            "trading": self._trading.value,
            "kill_started_ns": self._kill_started_ns,
            "day": self._day,
            "unmatched": [
                [cid, [report_to_json(r) for r in reports]]
                for cid, reports in self._unmatched.items()
            ],
            "inbox": [report_to_json(r) for r in self._inbox],
            "finished": list(self._finished),
            "reconcile": {
                "pending": dict(sorted(self._recon_pending.items())),
                "escalated": sorted(self._recon_escalated),
                "hold_until_ns": self._recon_hold_until_ns,
            },
            "protect": {cid: p.to_json() for cid, p in sorted(self._protect.items())},
            "oco_filled": sorted(self._oco_filled),
            "recorder": self._recorder.get_state(),
            "book": self._book.get_state(),
            "feed": self._feed.get_state(),
            "strategy": self._strategy.get_state(),
        }

    def restore_state(self, state: dict[str, Any], digests: dict[str, Any]) -> None:
        """Restore a checkpoint made by ``get_state`` (used by resume)."""
        self._machine.restore(SessionState(state["fsm_state"]))
        self._failed = bool(state["failed"])
        self._sealed = bool(state["sealed"])
        self._reason = state["reason"]
        self._steps = state["steps"]
        self._grid_ns = state["grid_ns"]
        self._intent_seq = state["intent_seq"]
        self._executions = state["executions"]
        self._rate_second, self._rate_count = state["rate"]
        self._trading = TradingState(state["trading"])
        self._kill_started_ns = state["kill_started_ns"]
        self._day = state.get("day", state["ts_sim"] // _NS_PER_DAY)
        self._unmatched = {
            cid: [report_from_json(r) for r in reports]
            for cid, reports in state.get("unmatched", ())
        }
        self._inbox = collections.deque(report_from_json(r) for r in state.get("inbox", ()))
        self._finished = dict.fromkeys(state.get("finished", ()))
        recon = state.get("reconcile", {})
        self._recon_pending = dict(recon.get("pending", {}))
        self._recon_escalated = set(recon.get("escalated", ()))
        self._protect = {
            cid: Protection.from_json(p) for cid, p in state.get("protect", {}).items()
        }
        self._oco_filled = set(state.get("oco_filled", ()))
        self._recon_hold_until_ns = max(
            int(recon.get("hold_until_ns", 0)), state["ts_sim"] + self._replay_window_ns()
        )
        self._reconcile_before_step = True
        self._recorder.set_state(state["recorder"], digests)
        self._book.set_state(state["book"])
        self._feed.set_state(state["feed"])
        self._strategy.set_state(state["strategy"])
        self._ts_sim = state["ts_sim"]
        if self._owns_sim_clock:
            clock = self._clock
            assert isinstance(clock, _clock.SimClock)  # noqa: S101 - narrowed for mypy
            clock.set_elapsed(self._ts_sim - self._start_ns)
        last = state["last_utc"]
        self._last_us = None if last is None else _clock.epoch_us(_clock.parse_utc(last))

    # -- helpers -------------------------------------------------------------------------------

    def _start_payload(self) -> dict[str, Any]:
        from .._version import __version__  # noqa: PLC0415 - tiny module, avoids a cycle

        cfg = self._cfg
        return {
            "seed": cfg.seed,
            "symbol": cfg.symbol,
            "broker": str(getattr(self._broker, "kind", "unknown")),
            "clock_mode": cfg.clock_mode,
            "steps_planned": cfg.steps,
            "max_steps": cfg.max_steps,
            "version": __version__,
        }

    def _in(self, state: SessionState) -> bool:
        """Whether the machine is in ``state`` now (a call, so type checkers re-read it)."""
        return self._machine.state is state

    def _require_configured(self) -> None:
        if not self._configured:
            raise LiveSessionError(
                "this orchestrator has no config: pass one to LiveSessionOrchestrator(config) "
                "or call run_dryrun(cfg, ...)"
            )

    def iter_open_orders(self) -> Iterator[Order]:
        """The orders the session considers open."""
        for live in self._book.open.values():
            yield live.order


def reconcile_grace_ns(cfg: DryrunConfig) -> int:
    """How long a difference between book and venue may last before it is escalated.

    ``reconcile_grace_ms``, but never shorter than the report delays the config itself
    announces (the mock's latency, twice for a split fill; the realish broker's late fills
    and latency) plus one step: reports still in flight are no discrepancy.
    """
    slowest = 2 * cfg.fill_model.latency_ms + cfg.step_interval_ms
    if cfg.broker == "realish":
        slowest += cfg.realish.late_fill_ms + 2 * cfg.realish.latency_ms
    return max(cfg.reconcile_grace_ms, slowest) * _NS_PER_MS


def _clock_ns(cfg: DryrunConfig) -> int:
    return _clock.SimClock(cfg.start).monotonic_ns()


def default_broker(cfg: DryrunConfig, *, journal: Path | None = None) -> Broker:
    """The mock broker configured by ``cfg`` (with its venue journal at ``journal``)."""
    if cfg.broker != "mock":
        raise ConfigError(
            f"broker {cfg.broker!r} needs an explicit broker object; the default is 'mock'"
        )
    return MockBroker(
        seed=cfg.seed,
        fill_model=FillModel.from_config(cfg.fill_model),
        price_tick=cfg.price_tick,
        qty_lot=cfg.qty_lot,
        journal=journal,
    )


def default_feed(cfg: DryrunConfig) -> MarketFeed:
    """The feed ``cfg.feed`` names: ``random_walk`` or ``csv:<path>``."""
    if cfg.feed == "random_walk":
        return RandomWalkFeed(
            symbol=cfg.symbol,
            seed=cfg.seed,
            initial_price=cfg.initial_price,
            tick=cfg.price_tick,
            lot=cfg.qty_lot,
            volatility_bps=cfg.volatility_bps,
        )
    if cfg.feed.startswith("csv:"):
        return CsvReplayFeed(
            Path(cfg.feed[4:]), symbol=cfg.symbol, tick=cfg.price_tick, lot=cfg.qty_lot
        )
    raise ConfigError(f"feed must be 'random_walk' or 'csv:<path>', got {cfg.feed!r}")


def default_strategy(cfg: DryrunConfig) -> Strategy:
    """The SMA-crossover demo strategy configured by ``cfg``."""
    sc = cfg.strategy
    return SmaCrossover(
        strategy_id=cfg.strategy_id,
        fast=sc.fast,
        slow=sc.slow,
        order_qty=sc.order_qty,
        protect_pct=sc.protect_pct,
    )
