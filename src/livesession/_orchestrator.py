"""The live session orchestrator: an explicit, bounded, auditable state machine.

Public verbs (``preflight``, ``activate``, ``step``, ``run_n_steps``, ``request_stop``,
``kill``, ``acknowledge``, ``close``) fire the lifecycle machine; nothing else changes
the state. One step in DRYRUN_ACTIVE runs, in order: clock tick, market feed, broker
reports, runtime checks, strategy, safety rails, idempotency reserve, broker, reports,
book, events, checkpoint.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, Final, Self

import attrs

from . import _clock
from ._book import Book, BookView
from ._checks import Check, CheckResult, PreflightContext, default_checks
from ._config import DryrunConfig
from ._decimal import ZERO, quantize
from ._exceptions import (
    BrokerError,
    ConfigError,
    InvalidTransition,
    LiveSessionError,
    OutcomeUnknown,
    Rejected,
    SinkFailure,
    Transient,
)
from ._feeds import CsvReplayFeed, RandomWalkFeed
from ._ids import client_order_id
from ._lifecycle import STATUS_BY_STATE, SessionState, SessionStatus, Trigger
from ._machine import LifecycleMachine
from ._model import (
    AckReport,
    Bar,
    BrokerReport,
    FillReport,
    Order,
    OrderIntent,
    OrderType,
    RejectReport,
    Side,
)
from ._rails import Rail, RiskContext, default_rails
from ._recorder import Recorder, crashpoint
from ._retry import RetryPolicy
from ._sinks import MemoryLineSink, MemoryMetricsSink, as_line_sink, as_metrics_sink
from ._strategy import SmaCrossover
from ._typing import Broker, CheckpointStore, Clock, IdempotencyStore, MarketFeed, Strategy
from .brokers.mock import FillModel, MockBroker
from .stores.memory import MemoryIdempotencyStore

__all__ = ["DryrunResult", "LiveSessionOrchestrator", "TradingState", "make_clock"]

S = SessionState
_NS_PER_SEC: Final = 1_000_000_000
_CHECKPOINT_FORMAT: Final = "livesession-checkpoint/1"
_MAX_HELD_PER_ORDER: Final = 64
_MAX_UNMATCHED_ORDERS: Final = 1024


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
    ) -> None:
        self._configured = False
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
        self._last_utc: Any = None
        self._steps = 0
        self._intent_seq = 0
        self._executions = 0
        self._rate_second = -1
        self._rate_count = 0
        self._failed = False
        self._sealed = False
        self._trading = TradingState.ACTIVE
        self._reason = ""
        self._kill_started_ns: int | None = None
        self._unmatched: dict[str, list[BrokerReport]] = {}
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
            return self.result()
        if self._machine.may_fire(Trigger.ACTIVATE):
            self.activate()
        while self.state is S.DRYRUN_ACTIVE and self._steps < steps:
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
        """Start trading in dry-run mode (PREFLIGHT_OK -> DRYRUN_ACTIVE)."""
        self._require_configured()
        self._guarded(lambda: self._transition(Trigger.ACTIVATE, "activated"))
        self._guarded(self._checkpoint)

    def step(self) -> None:
        """Run one bounded step; needs DRYRUN_ACTIVE."""
        self._require_configured()
        if self.state is not S.DRYRUN_ACTIVE:
            raise InvalidTransition("step", self.state.value)
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
        """Operator acknowledges ERROR_REQUIRES_OPERATOR: STOPPING, cancel, flatten, STOPPED."""
        self._require_configured()
        if self.state is not S.ERROR_REQUIRES_OPERATOR:
            raise InvalidTransition(Trigger.OPERATOR_ACK.value, self.state.value)
        self._guarded(lambda: self._recorder.emit("OPERATOR_ACK", {"operator": operator}))
        self._guarded(lambda: self._transition(Trigger.OPERATOR_ACK, f"acknowledged by {operator}"))
        self._guarded(self._wind_down)

    def reenable_trading(self, operator: str = "operator") -> None:
        """Operator re-enables trading after the execution throttle fired."""
        self._require_configured()
        self._executions = 0
        self._trading = TradingState.ACTIVE
        self._guarded(lambda: self._recorder.emit("TRADING_REENABLED", {"operator": operator}))

    def close(self) -> None:
        """End the session: stop if still running, then seal the artifacts (idempotent)."""
        self._require_configured()
        if self._sealed:
            return
        if self.state in (S.PREFLIGHT_OK, S.DRYRUN_ACTIVE):
            self.request_stop("session closed")
        if self.state is S.INIT:
            self._reason = "closed before preflight"
        if not self._sealed:
            self._seal()
        self._broker.close()

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
        if self.state is not S.DRYRUN_ACTIVE:
            return
        self._steps += 1
        for hook in self.step_hooks:
            hook(self)
        self._end_of_step()
        if self._steps >= self._cfg.max_steps and self.state is S.DRYRUN_ACTIVE:
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

    def _tick(self, ts_ns: int) -> bool:
        """Advance simulated time and read the clock; a clock going back is a fault."""
        if self._owns_sim_clock:
            clock = self._clock
            assert isinstance(clock, _clock.SimClock)  # noqa: S101 - narrowed for mypy
            clock.set_elapsed(ts_ns - self._start_ns)
        now = self._clock.now()
        if self._last_utc is not None and now < self._last_utc:
            self._set_time(max(ts_ns, self._ts_sim), now_override=self._last_utc)
            self._fault(
                "CLOCK_REGRESSION",
                {"previous": _clock.format_utc(self._last_utc), "now": _clock.format_utc(now)},
            )
            return False
        self._set_time(ts_ns, now_override=now)
        return True

    def _set_time(self, ts_ns: int, *, now_override: Any = None) -> None:
        now = now_override if now_override is not None else self._clock.now()
        if now != self._last_utc or self._ts_sim != ts_ns or not self._recorder.ts_utc:
            self._last_utc = now
            self._ts_sim = ts_ns
            self._recorder.set_time(ts_ns, _clock.format_utc(now))

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
        equity = self._book.equity()
        if equity > self._book.day_peak_equity:
            self._book.day_peak_equity = equity
            return
        peak = self._book.day_peak_equity
        limit = self._cfg.risk.daily_loss_pct
        if (
            self._trading is TradingState.ACTIVE
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
                if rejection.rule == "EXECUTION_THROTTLE" and self._trading is TradingState.ACTIVE:
                    self._trading = TradingState.HALTED
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
        self._send(order, seq, reason=intent.reason)

    def _risk_context(self, intent: OrderIntent) -> RiskContext:
        book = self._book
        price = book.last_price.get(intent.symbol, ZERO)
        second = self._ts_sim // _NS_PER_SEC
        if second != self._rate_second:
            self._rate_second = second
            self._rate_count = 0
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
        """Reserve the key durably, then send once; True when the venue has the order."""
        cid = order.client_order_id
        record = self._idem.reserve(cid, order.fingerprint())
        crashpoint("before_send")
        outcome = "submitted"
        if not record.created and self._broker.order_by_client_id(cid) is not None:
            outcome = "recovered"
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
            except (Transient, OutcomeUnknown) as exc:
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
        crashpoint("after_send")
        self._book.add_order(order)
        self._rate_count += 1
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
        self._recorder.emit("ORDER_SUBMITTED", payload)
        self._idem.complete(cid, outcome)
        return True

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
                if self._lookup(cid, policy):
                    return
                if attempt == policy.max_attempts:
                    raise
            else:
                return
            delay = policy.delay_ns(cid, attempt)
            if self._ts_sim + delay - started > policy.max_elapsed_ns:
                raise Transient("retry budget exhausted", client_order_id=cid)
            self._wait(delay)

    def _lookup(self, cid: str, policy: RetryPolicy) -> bool:
        """Bounded polling for an order whose send outcome is unknown."""
        for attempt in range(1, policy.max_attempts + 1):
            if self._broker.order_by_client_id(cid) is not None:
                return True
            self._wait(policy.delay_ns(f"lookup:{cid}", attempt))
        return self._broker.order_by_client_id(cid) is not None

    # -- broker reports ------------------------------------------------------------------------

    def _process_reports(self) -> None:
        reports: list[BrokerReport] = []
        if self._unmatched:
            # Reports that arrived before their order was (re)adopted, e.g. after a resume.
            known = [cid for cid in self._unmatched if cid in self._book.open]
            for cid in known:
                reports.extend(self._unmatched.pop(cid))
        reports.extend(self._broker.poll(self._ts_sim))
        for report in reports:
            if report.client_order_id not in self._book.open:
                self._hold_unmatched(report)
            elif isinstance(report, FillReport):
                self._on_fill(report)
            elif isinstance(report, AckReport):
                self._on_ack(report)
            elif isinstance(report, RejectReport):
                if self._book.close_order(report.client_order_id) is not None:
                    self._recorder.emit(
                        "ORDER_REJECTED",
                        {"client_order_id": report.client_order_id, "reason": report.reason},
                    )
            else:
                closed = self._book.close_order(report.client_order_id)
                if closed is not None:
                    self._recorder.emit(
                        "ORDER_CANCELED",
                        {"client_order_id": report.client_order_id, "filled": str(closed.filled)},
                    )

    def _hold_unmatched(self, report: BrokerReport) -> None:
        """Keep a report for an order the session does not know (yet), bounded."""
        held = self._unmatched.setdefault(report.client_order_id, [])
        if len(held) < _MAX_HELD_PER_ORDER:
            held.append(report)
        while len(self._unmatched) > _MAX_UNMATCHED_ORDERS:
            self._unmatched.pop(next(iter(self._unmatched)))

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

    def _on_fill(self, report: FillReport) -> None:
        """Apply a fill once; duplicates and fills of unknown orders change nothing."""
        book = self._book
        rec = self._recorder
        cid = report.client_order_id
        live = book.open.get(cid)
        if live is None or not book.apply_fill(cid, report.trade_id, report.quantity, report.price):
            return
        order = live.order
        remaining = order.quantity - live.filled
        rec.emit(
            "ORDER_FILLED" if remaining == 0 else "ORDER_PARTIALLY_FILLED",
            {
                "client_order_id": cid,
                "trade_id": report.trade_id,
                "symbol": order.symbol,
                "side": order.side.value,
                "quantity": str(report.quantity),
                "price": str(report.price),
                "filled": str(live.filled),
                "remaining": str(remaining),
            },
        )
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
        if self._kill_started_ns is not None:
            self._check_kill_flat()

    # -- stopping, kill switch, faults ------------------------------------------------------

    def _request_stop_inner(self, reason: str) -> None:
        self._transition(Trigger.REQUEST_STOP, reason)
        self._wind_down()

    def _wind_down(self) -> None:
        """Cancel, flatten and reach STOPPED within ``stop_max_polls`` polls, or fault."""
        if self.state is not S.STOPPING:
            return
        self._cancel_all()
        for _ in range(self._cfg.stop_max_polls):
            self._process_reports()
            if not self._book.open:
                if self._is_flat():
                    break
                self._flatten()
                self._process_reports()
                if not self._book.open and self._is_flat():
                    break
            self._wait(self._interval)
        else:
            self._fault("STOP_INCOMPLETE", {"open_orders": str(len(self._book.open))})
            return
        if self._kill_started_ns is not None:
            self._check_kill_flat()
        self._transition(Trigger.STOPPED, self._reason or "stopped")
        self._seal()

    def _cancel_all(self) -> None:
        for cid in sorted(self._book.open):
            try:
                self._broker.cancel(cid, self._ts_sim)
            except Rejected:
                continue
            except BrokerError:
                continue

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
        self._trading = TradingState.HALTED
        self._kill_started_ns = self._ts_sim
        self._recorder.emit(
            "KILL_SWITCH",
            {"reason": reason, "open_orders": len(self._book.open), "flat": self._is_flat()},
        )
        self._cancel_all()
        self._process_reports()
        if not self._book.open and not self._is_flat():
            self._flatten()
            self._process_reports()
        self._check_kill_flat()

    def _check_kill_flat(self) -> None:
        started = self._kill_started_ns
        if started is None or self._book.open or not self._is_flat():
            return
        self._kill_started_ns = None
        self._recorder.emit("KILL_SWITCH_FLAT", {"time_to_flat_ns": self._ts_sim - started})

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

    # -- checkpoints ---------------------------------------------------------------------------

    def _end_of_step(self) -> None:
        cfg = self._cfg
        if self._checkpoints is None:
            if cfg.durability == "step":
                self._recorder.flush(sync=True)
            return
        every = cfg.checkpoint_every
        if self._steps % every == 0:
            self._checkpoint()

    def _checkpoint(self) -> None:
        if self._checkpoints is None:
            return
        rec = self._recorder
        rec.flush(sync=self._cfg.durability != "none")
        rec.write_metrics()
        crashpoint("checkpoint")
        self._checkpoints.save(self.get_state())

    def _checkpoint_quiet(self) -> None:
        try:
            self._checkpoint()
        except (SinkFailure, OSError, LiveSessionError):
            return

    def get_state(self) -> dict[str, Any]:
        """Everything needed to resume this session (JSON-compatible)."""
        from ._version import __version__  # noqa: PLC0415 - tiny module, avoids a cycle

        return {
            "format": _CHECKPOINT_FORMAT,
            "version": __version__,
            "config": self._cfg.to_dict(),
            "fsm_state": self.state.value,
            "failed": self._failed,
            "sealed": self._sealed,
            "reason": self._reason,
            "steps": self._steps,
            "ts_sim": self._ts_sim,
            "grid_ns": self._grid_ns,
            "last_utc": None if self._last_utc is None else _clock.format_utc(self._last_utc),
            "intent_seq": self._intent_seq,
            "executions": self._executions,
            "rate": [self._rate_second, self._rate_count],
            "trading": self._trading.value,
            "kill_started_ns": self._kill_started_ns,
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
        self._recorder.set_state(state["recorder"], digests)
        self._book.set_state(state["book"])
        self._feed.set_state(state["feed"])
        self._strategy.set_state(state["strategy"])
        self._ts_sim = state["ts_sim"]
        if self._owns_sim_clock:
            clock = self._clock
            assert isinstance(clock, _clock.SimClock)  # noqa: S101 - narrowed for mypy
            clock.set_elapsed(self._ts_sim - self._start_ns)
        self._last_utc = None if state["last_utc"] is None else _clock.parse_utc(state["last_utc"])

    # -- helpers -------------------------------------------------------------------------------

    def _start_payload(self) -> dict[str, Any]:
        from ._version import __version__  # noqa: PLC0415 - tiny module, avoids a cycle

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


def _clock_ns(cfg: DryrunConfig) -> int:
    return _clock.SimClock(cfg.start).monotonic_ns()


def default_broker(cfg: DryrunConfig) -> Broker:
    """The mock broker configured by ``cfg``."""
    if cfg.broker != "mock":
        raise ConfigError(
            f"broker {cfg.broker!r} needs an explicit broker object; the default is 'mock'"
        )
    fm = cfg.fill_model
    return MockBroker(
        seed=cfg.seed,
        fill_model=FillModel(
            latency_ns=fm.latency_ms * 1_000_000,
            partial_fill_ratio=fm.partial_fill_ratio,
            reject_rate=fm.reject_rate,
            slippage_bps=fm.slippage_bps,
        ),
        price_tick=cfg.price_tick,
        qty_lot=cfg.qty_lot,
    )


def default_feed(cfg: DryrunConfig) -> MarketFeed:
    """The feed ``cfg.feed`` names: ``random_walk`` or ``csv:<path>``."""
    from pathlib import Path  # noqa: PLC0415 - only needed for CSV feeds

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
        strategy_id=cfg.strategy_id, fast=sc.fast, slow=sc.slow, order_qty=sc.order_qty
    )
