"""The failure matrix: sessions against a faulty venue, faulty sinks and a clock that goes back.

A hypothesis state machine drives sessions (steps with scripted intents, protective OCO
entries, limit orders) while arming faults: broker timeouts before and after the venue
recorded an order, lookups that time out, duplicate acknowledgements and fills, split and
late fills, rejects, fills that race a cancel, lost cancel reports, a venue that loses an
order, sink writes that fail once or for good, a clock that goes back, a process restart
from the checkpoint state; and operator verbs: kill switch, stop, reduce-only,
re-enable, acknowledge, plus verbs that are illegal in the current state. After every
rule it checks:

- the lifecycle only moves along the table, snapshots and events agree with it, and the
  status follows the state (FAILED, once reached, stays);
- no client order id reaches the venue twice;
- positions equal the sum of distinct fills (book ledger, events, venue deliveries);
- no new order reaches the venue while trading is HALTED (flatten orders aside);
- a STOPPED session has no open order here or at the venue, a flat book, no OCO leg left,
  and its audit log closes with the digests of what was written;
- the audit hash chain verifies, event seq numbers are contiguous, ts_sim never
  decreases, and nothing follows SESSION_STOPPED.

The normal run executes at least 500 examples of at least 50 rules each and prints the
counts; ``HYPOTHESIS_PROFILE=deep`` runs ten times the examples and twice the rules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from livesession import (
    DryrunConfig,
    InvalidTransition,
    LiveSessionOrchestrator,
    MemoryMetricsSink,
    OrderIntent,
    OrderType,
    SessionState,
    SessionStatus,
    Side,
    SimClock,
    TradingState,
    VerbOutcome,
)
from livesession._domain.decimal import quantize
from livesession._domain.lifecycle import STATUS_BY_STATE, TERMINAL_STATES, TRANSITIONS
from livesession._domain.model import Bar, Order
from livesession.stores import MemoryIdempotencyStore
from livesession.testing import mark_verified, verify_session
from livesession.testing.faults import (
    CANCEL_FAULTS,
    LOOKUP_FAULTS,
    REPORT_FAULTS,
    SUBMIT_FAULTS,
    FaultBroker,
)

S = SessionState
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DEEP = os.environ.get("HYPOTHESIS_PROFILE") == "deep"
MIN_EXAMPLES = 500
MIN_RULES = 50
RULES_PER_EXAMPLE = 2 * MIN_RULES if DEEP else MIN_RULES
EXAMPLES = max(MIN_EXAMPLES, settings.default.max_examples)
SECOND = 1_000_000_000
GENESIS = "0" * 64
KILL_STEP_BOUND = 30
KILL_DELAYING_FAULTS = frozenset(SUBMIT_FAULTS + CANCEL_FAULTS + REPORT_FAULTS + LOOKUP_FAULTS)

ACTIONS = (
    "none",
    "buy",
    "sell",
    "buy_protected",
    "sell_protected",
    "limit_buy",
    "limit_sell",
    "close",
)
QUANTITIES = (Decimal("0.001"), Decimal("0.005"), Decimal("0.020"), Decimal("0.300"))
ENVIRONMENT = (
    "events_on_ack",
    "events_once",
    "states_once",
    "audit_once",
    "events_dead",
    "states_dead",
    "audit_dead",
    "clock_back",
)
VERBS = ("kill", "stop", "reduce", "reenable", "acknowledge", "step")
LEGAL_MOVES = frozenset((t.value, a.value, b.value) for t, a, b in TRANSITIONS)


def _reachable() -> dict[SessionState, frozenset[SessionState]]:
    graph: dict[SessionState, set[SessionState]] = {state: set() for state in SessionState}
    for _, source, dest in TRANSITIONS:
        graph[source].add(dest)
    out: dict[SessionState, frozenset[SessionState]] = {}
    for state in SessionState:
        seen, todo = {state}, [state]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        out[state] = frozenset(seen)
    return out


REACHABLE = _reachable()


# -- test doubles -------------------------------------------------------------------------------


class TapSink:
    """A line sink in memory that fails on command: one write (then retried) or for good.

    ``die_on`` makes it fail for good at the first line containing those bytes (a sink
    failing half-way through a batch of broker reports).
    """

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.fail_next = 0
        self.gone = False
        self.die_on: bytes | None = None

    def write_line(self, line: bytes) -> None:
        if self.die_on is not None and self.die_on in line:
            self.gone = True
        if self.gone:
            raise OSError("injected: the sink is gone")
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("injected: one write failed")
        self.lines.append(line)

    def flush(self) -> None:
        """Nothing buffered."""

    def sync(self) -> None:
        """Nothing to make durable."""


class MovableClock(SimClock):
    """Simulated time whose ``now()`` can be moved back by the test."""

    def __init__(self, start: dt.datetime) -> None:
        super().__init__(start)
        self.back = dt.timedelta(0)

    def now(self) -> dt.datetime:
        return super().now() - self.back


class ScriptedStrategy:
    """Does on the next bar what the test asked for, ignoring open orders on purpose."""

    strategy_id = "fm"

    def __init__(self) -> None:
        self.action = "none"
        self.quantity = QUANTITIES[1]

    def on_bar(self, bar: Bar, view: Any) -> tuple[OrderIntent, ...]:
        action, self.action = self.action, "none"
        position: Decimal = view.position(bar.symbol)
        if action == "none" or (action == "close" and not position):
            return ()
        if action == "close":
            side = Side.SELL if position > 0 else Side.BUY
            return (
                OrderIntent(
                    symbol=bar.symbol,
                    side=side,
                    quantity=abs(position),
                    reduce_only=True,
                    reason="close",
                ),
            )
        side = Side.BUY if action in ("buy", "buy_protected", "limit_buy") else Side.SELL
        extra: dict[str, Any] = {}
        if action.endswith("protected"):
            extra = {"take_profit_pct": Decimal("0.004"), "stop_loss_pct": Decimal("0.004")}
        if action.startswith("limit"):
            factor = Decimal("0.998") if side is Side.BUY else Decimal("1.002")
            extra = {
                "order_type": OrderType.LIMIT,
                "limit_price": quantize(bar.close * factor, Decimal("0.01")),
            }
        return (
            OrderIntent(
                symbol=bar.symbol, side=side, quantity=self.quantity, reason=action, **extra
            ),
        )

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        del state


# -- one session and its invariants ----------------------------------------------------------


@attrs.define
class Stats:
    """What the matrix ran, summed over all examples."""

    examples: int = 0
    rules: int = 0
    min_rules: int = 10**9
    max_rules: int = 0
    sessions: int = 0
    session_steps: int = 0
    orders: int = 0
    fills: int = 0
    kill_steps: int = 0
    rule_counts: Counter[str] = attrs.Factory(Counter)
    armed: Counter[str] = attrs.Factory(Counter)
    events: Counter[str] = attrs.Factory(Counter)
    outcomes: Counter[str] = attrs.Factory(Counter)
    verified: int = 0
    unverifiable: int = 0

    def summary(self, wall_s: float) -> str:
        interesting = (
            "KILL_SWITCH",
            "KILL_SWITCH_FLAT",
            "RECONCILED",
            "RECONCILE_ESCALATED",
            "OPERATOR_ACK",
            "TRADING_STATE_CHANGED",
            "TRADING_REENABLED",
            "RISK_REJECTED",
            "ORDER_REJECTED",
            "ORDER_CANCELED",
            "SINK_WRITE_RETRIED",
            "SINK_WRITE_FAILED",
        )
        seen = ", ".join(f"{k} {self.events[k]}" for k in interesting)
        return (
            f"\nfailure matrix: {self.examples} examples, {self.rules} rules "
            f"(per example min {self.min_rules}, max {self.max_rules}); "
            f"{self.sessions} sessions, {self.session_steps} session steps, "
            f"{self.orders} orders at the venue, {self.fills} fills, "
            f"longest kill-to-flat {self.kill_steps} steps; {wall_s:.1f} s\n"
            f"  rules: {dict(sorted(self.rule_counts.items()))}\n"
            f"  faults armed: {dict(sorted(self.armed.items()))}\n"
            f"  events: {seen}\n"
            f"  sessions ended: {dict(sorted(self.outcomes.items()))}\n"
            f"  verified clean: {self.verified}; a sink killed on purpose: {self.unverifiable}"
        )


class Session:
    """One orchestrator on a fault broker, tapped sinks and a movable clock."""

    def __init__(self, index: int, latency_ns: int, quantity: Decimal) -> None:
        self.broker = FaultBroker(latency_ns=latency_ns)
        self.clock = MovableClock(START)
        self.strategy = ScriptedStrategy()
        self.strategy.quantity = quantity
        self.sinks = {"events": TapSink(), "states": TapSink(), "audit": TapSink()}
        self.metrics = MemoryMetricsSink()
        # The idempotency store is durable: one store outlives every restart.
        self.keys = MemoryIdempotencyStore(SimClock(START))
        self.config = DryrunConfig(
            run_id=f"fm{index}",
            strategy_id="fm",
            steps=100_000,
            max_steps=100_000,
            max_sink_retries=1,
            stop_max_polls=40,
            volatility_bps=30,
            reconcile_grace_ms=300_000,
            risk={"max_executions": 25},
        )
        self.orch = self._build()
        self.broker.on_submit = self._on_submit
        self.halted_sends: list[str] = []
        self.cursor = {"events": 0, "states": 0, "audit": 0}
        self.event_seq = 0
        self.snapshot_seq = 0
        self.ts_sim = 0
        self.audit_head = GENESIS
        self.fsm_state = S.INIT.value
        self.event_positions: dict[str, Decimal] = {}
        self.submitted: set[str] = set()
        self.seen_state = S.INIT
        self.failed_seen = False
        self.events: Counter[str] = Counter()
        self.environment_faults = 0
        self.kill_steps = 0
        self.venue_inconsistent = False
        self.flat_claimed = False

    def _build(self) -> LiveSessionOrchestrator:
        return LiveSessionOrchestrator(
            self.config,
            clock=self.clock,
            broker=self.broker,
            strategy=self.strategy,
            event_sink=self.sinks["events"],
            state_sink=self.sinks["states"],
            audit_sink=self.sinks["audit"],
            metrics_sink=self.metrics,
            idempotency=self.keys,
        )

    def restart(self) -> None:
        """Replace the orchestrator by one restored from the old one's checkpoint state."""
        old = self.orch
        state = orjson.loads(orjson.dumps(old.get_state()))
        digests = {name: digest.copy() for name, digest in old.recorder.digests.items()}
        new = self._build()
        new.restore_state(state, digests)
        again = orjson.loads(orjson.dumps(new.get_state()))
        # A resume starts a hold on grace-based decisions; everything else round-trips.
        assert again["reconcile"].pop("hold_until_ns") >= state["reconcile"].pop("hold_until_ns")
        assert again == state, "state does not round-trip"
        mark_verified(old)  # abandoned as a crashed process is; its successor is verified
        self.orch = new

    def _on_submit(self, order: Order) -> None:
        """No new order while HALTED: only the kill switch's flatten orders may pass."""
        orch = self.orch
        if orch.trading_state is not TradingState.HALTED:
            return
        position = orch.book.positions.get(order.symbol, Decimal(0))
        flattens = (
            order.reduce_only
            and order.order_type is OrderType.MARKET
            and order.quantity == abs(position)
            and (order.side is Side.SELL) == (position > 0)
        )
        if not flattens:
            self.halted_sends.append(order.client_order_id)

    def start(self) -> None:
        orch = self.orch
        if orch.preflight():
            orch.activate()

    # -- invariants --------------------------------------------------------------------------

    def check(self) -> None:
        self._check_events()
        self._check_snapshots()
        self._check_audit()
        self._check_lifecycle()
        self._check_orders_and_positions()
        self._check_kill_progress()
        if self.orch.state is S.STOPPED:
            self._check_stopped()

    def _new(self, name: str) -> Iterator[bytes]:
        lines = self.sinks[name].lines
        start = self.cursor[name]
        self.cursor[name] = len(lines)
        return iter(lines[start:])

    def _check_events(self) -> None:
        for line in self._new("events"):
            event = orjson.loads(line)
            assert line == orjson.dumps(event, option=orjson.OPT_SORT_KEYS) + b"\n"
            assert not self.events["SESSION_STOPPED"], "an event after SESSION_STOPPED"
            assert event["seq"] == self.event_seq + 1, "event seq not contiguous"
            self.event_seq = event["seq"]
            assert event["ts_sim"] >= self.ts_sim, "ts_sim went back"
            self.ts_sim = event["ts_sim"]
            kind, payload = event["event_type"], event["payload"]
            self.events[kind] += 1
            if kind == "STATE_CHANGED":
                move = (payload["trigger"], payload["from_state"], payload["to_state"])
                assert move in LEGAL_MOVES, f"illegal move {move}"
                assert payload["from_state"] == self.fsm_state, "moves do not chain"
                self.fsm_state = payload["to_state"]
                _check_status(payload["to_state"], payload["status"])
            elif kind == "ORDER_SUBMITTED":
                cid = payload["client_order_id"]
                assert cid not in self.submitted, f"{cid} submitted twice"
                self.submitted.add(cid)
            elif kind in ("ORDER_FILLED", "ORDER_PARTIALLY_FILLED"):
                assert payload["client_order_id"] in self.submitted, "fill of an unknown order"
                signed = Decimal(payload["quantity"]) * (1 if payload["side"] == "BUY" else -1)
                symbol = payload["symbol"]
                self.event_positions[symbol] = self.event_positions.get(symbol, 0) + signed
            elif kind == "KILL_SWITCH":
                self.flat_claimed = False
            elif kind == "KILL_SWITCH_FLAT":
                self.flat_claimed = True
            elif kind == "TRADING_REENABLED":
                self.flat_claimed = False
            elif kind == "POSITION_CHANGED":
                position = Decimal(payload["position"])
                assert position == self.event_positions.get(payload["symbol"], 0)
        if not self.sinks["events"].gone and self.orch.recorder.event_seq == self.event_seq:
            assert self.fsm_state == self.orch.state.value, "events disagree with the state"

    def _check_snapshots(self) -> None:
        for line in self._new("states"):
            snap = orjson.loads(line)
            assert snap["seq"] == self.snapshot_seq + 1, "snapshot seq not contiguous"
            self.snapshot_seq = snap["seq"]
            if snap["trigger"] not in ("start", "final"):
                move = (snap["trigger"], snap["from_state"], snap["fsm_state"])
                assert move in LEGAL_MOVES, f"illegal snapshot move {move}"
            _check_status(snap["fsm_state"], snap["status"])

    def _check_audit(self) -> None:
        for line in self._new("audit"):
            record = orjson.loads(line)
            assert record["prev_hash"] == self.audit_head, "audit chain broken"
            self.audit_head = hashlib.sha256(line.rstrip(b"\n")).hexdigest()
        chain = self.orch.recorder.chain
        if not self.sinks["audit"].gone:
            assert chain.head == self.audit_head
            assert chain.seq == len(self.sinks["audit"].lines)

    def _check_lifecycle(self) -> None:
        orch = self.orch
        state, status = orch.state, orch.status
        assert state in REACHABLE[self.seen_state], f"{self.seen_state} -> {state}"
        self.seen_state = state
        if self.failed_seen:
            assert status is SessionStatus.FAILED, "FAILED did not stay FAILED"
        if state is S.ERROR_REQUIRES_OPERATOR:
            assert status is SessionStatus.FAILED
        if status is SessionStatus.FAILED:
            self.failed_seen = True
        else:
            assert status is STATUS_BY_STATE[state]

    def _check_kill_progress(self) -> None:
        """A kill switch reaches flat within a bounded number of steps once the venue behaves.

        Counted from the kill or from the last fault that hit the venue, whichever is later;
        while faults that could delay the kill are still armed, there is no bound to check.
        """
        orch, broker = self.orch, self.broker
        started = orch.inspect().kill_started_ns
        if started is None or orch.state is not S.DRYRUN_ACTIVE:
            return
        if any(fault in KILL_DELAYING_FAULTS for fault in broker.armed):
            return
        started = max(started, broker.last_fault_ns)
        waited = (orch.ts_sim - started) // orch.config.step_interval_ns
        self.kill_steps = max(self.kill_steps, waited)
        assert waited <= KILL_STEP_BOUND, f"kill switch not flat after {waited} steps"

    def _check_orders_and_positions(self) -> None:
        orch, broker = self.orch, self.broker
        assert not self.halted_sends, f"sent while HALTED: {self.halted_sends}"
        # Unless the venue itself lost an order, it is truthful and every delay is shorter
        # than the grace period: the reconciler must resolve everything without an operator.
        if not self.venue_inconsistent:
            escalated = orch.inspect().escalated
            assert not escalated, f"escalated: {escalated}"
        if self.flat_claimed and orch.trading_state is TradingState.HALTED:
            # KILL_SWITCH_FLAT was true when said, and HALTED keeps it true.
            for symbol in {t.symbol for t in broker.trades}:
                assert broker.position(symbol) == 0, "KILL_SWITCH_FLAT while not flat"
            assert not broker.open_orders(), "KILL_SWITCH_FLAT with orders open at the venue"
        if broker.recorded:
            cid, count = broker.recorded.most_common(1)[0]
            assert count == 1, f"{cid} reached the venue {count} times"
        book, inside = orch.book, orch.inspect()
        held = inside.held_reports  # reports of orders not (yet) known
        waiting = inside.waiting_fills  # fills received, not applied yet
        delivered: dict[str, Decimal] = {}
        for fill in broker.delivered.values():
            if fill.client_order_id in held or fill.trade_id in waiting:
                continue
            venue = broker.venue_order(fill.client_order_id)
            signed = fill.quantity if venue.side is Side.BUY else -fill.quantity
            delivered[venue.symbol] = delivered.get(venue.symbol, Decimal(0)) + signed
        for symbol in set(book.positions) | set(delivered):
            position = book.positions.get(symbol, Decimal(0))
            assert position == book.ledger.get(symbol, Decimal(0)), "position != ledger"
            assert position == delivered.get(symbol, Decimal(0)), (
                f"position {position} != distinct fills {delivered.get(symbol)}"
            )
            if not self.sinks["events"].gone:
                assert position == self.event_positions.get(symbol, Decimal(0))

    def _check_stopped(self) -> None:
        orch, broker = self.orch, self.broker
        book = orch.book
        assert not book.open_orders, f"open orders after STOPPED: {book.open_orders}"
        assert not orch.inspect().unconfirmed_closed
        assert not any(book.positions.values()), "not flat after STOPPED"
        assert not broker.open_orders(), "orders left open at the venue (orphan OCO leg?)"
        for symbol in {t.symbol for t in broker.trades}:
            assert broker.position(symbol) == 0, "the venue's executions do not add up to flat"
        audit = self.sinks["audit"]
        if not audit.gone and audit.lines:
            codes = [orjson.loads(line)["code"] for line in audit.lines]
            if self.sinks["events"].gone or self.sinks["states"].gone:
                # A contract file lost lines: the run is not sealed (it was, over them).
                assert "C2_DRYRUN_STOP" not in codes, "sealed over a file that lost lines"
                return
            last = orjson.loads(audit.lines[-1])
            assert last["code"] == "C2_DRYRUN_STOP"
            digests = last["payload"]["digests"]
            for name, key in (("events", "events.jsonl"), ("states", "state_snapshots.jsonl")):
                written = hashlib.sha256(b"".join(self.sinks[name].lines)).hexdigest()
                assert digests[key] == written, f"{key} digest does not match"


def _check_status(fsm_state: str, status: str) -> None:
    expected = STATUS_BY_STATE[S(fsm_state)].value
    assert status in (expected, SessionStatus.FAILED.value), f"{fsm_state} with {status}"
    if fsm_state == S.ERROR_REQUIRES_OPERATOR.value:
        assert status == SessionStatus.FAILED.value


# -- the state machine ------------------------------------------------------------------------


class FailureMatrix(RuleBasedStateMachine):
    """Sessions, faults and operator verbs; every invariant after every rule."""

    stats = Stats()

    def __init__(self) -> None:
        super().__init__()
        self.session: Session | None = None
        self.index = 0
        self.rules_run = 0
        self.clean = True

    # -- helpers ---------------------------------------------------------------------------

    @property
    def orch(self) -> LiveSessionOrchestrator:
        assert self.session is not None
        return self.session.orch

    def _count(self, name: str) -> None:
        self.rules_run += 1
        self.stats.rule_counts[name] += 1

    def _open_session(self, latency_s: int, quantity: Decimal) -> None:
        self._retire_session()
        self.index += 1
        self.session = Session(self.index, latency_s * SECOND, quantity)
        self.stats.sessions += 1
        self.session.start()

    def _retire_session(self) -> None:
        session = self.session
        if session is None:
            return
        self.stats.session_steps += session.orch.steps_done
        self.stats.orders += sum(session.broker.recorded.values())
        self.stats.fills += len(session.broker.delivered)
        self.stats.kill_steps = max(self.stats.kill_steps, session.kill_steps)
        self.stats.events.update(session.events)
        self.stats.outcomes[f"{session.orch.state.value}/{session.orch.status.value}"] += 1
        # Every session that ended verifies, unless a sink died for good on purpose (what
        # a dead sink lost cannot be checked; that is the fault the rule injected): then
        # the lines it never wrote are all that verify finds wrong.
        if any(sink.gone for sink in session.sinks.values()):
            problems = verify_session(session.orch)
            assert problems, "a run whose sink died verifies"
            assert all(": never written: the " in line for line in problems), "\n".join(problems)
            self.stats.unverifiable += 1
        else:
            problems = verify_session(session.orch)
            assert not problems, "\n".join(problems)
            self.stats.verified += 1
        mark_verified(session.orch)

    def _active(self) -> bool:
        return self.session is not None and self.orch.state is S.DRYRUN_ACTIVE

    # -- rules -------------------------------------------------------------------------------

    @initialize(
        latency_s=st.sampled_from((0, 30, 90)),
        quantity=st.sampled_from(QUANTITIES),
    )
    def start(self, latency_s: int, quantity: Decimal) -> None:
        """Open the first session."""
        self._count("start")
        self._open_session(latency_s, quantity)

    @precondition(lambda self: self._active())
    @rule(action=st.sampled_from(ACTIONS), quantity=st.sampled_from(QUANTITIES))
    def step(self, action: str, quantity: Decimal) -> None:
        """One session step, with what the strategy does on it."""
        self._count("step")
        assert self.session is not None
        self.session.strategy.action = action
        self.session.strategy.quantity = quantity
        self.orch.step()

    @precondition(lambda self: self._active())
    @rule(n=st.integers(min_value=1, max_value=4))
    def idle(self, n: int) -> None:
        """A few steps in which the strategy does nothing (reports come due)."""
        self._count("idle")
        for _ in range(n):
            if self.orch.state is S.DRYRUN_ACTIVE:
                self.orch.step()

    @rule(
        fault=st.sampled_from(SUBMIT_FAULTS + CANCEL_FAULTS + REPORT_FAULTS + LOOKUP_FAULTS),
        times=st.sampled_from((1, 1, 2, 6)),
    )
    def arm(self, fault: str, times: int) -> None:
        """Arm a venue fault for its next calls."""
        self._count("arm")
        assert self.session is not None
        self.session.broker.arm(fault, times)
        self.stats.armed[fault] += times

    @precondition(
        lambda self: (
            self.session is not None
            and self.orch.state not in TERMINAL_STATES
            and not self.session.environment_faults
        )
    )
    @rule(kind=st.sampled_from(ENVIRONMENT))
    def environment(self, kind: str) -> None:
        """Once per session: a sink write fails (once, or for good), or the clock goes back."""
        self._count("environment")
        assert self.session is not None
        self.session.environment_faults += 1
        self.stats.armed[kind] += 1
        if kind == "clock_back":
            self.session.clock.back += dt.timedelta(hours=1)
            return
        name, _, mode = kind.partition("_")
        sink = self.session.sinks[name]
        if mode == "dead":
            sink.gone = True
        elif mode == "on_ack":
            sink.die_on = b'"ORDER_ACCEPTED"'
        else:
            sink.fail_next = 1

    @precondition(
        lambda self: (
            self._active()
            and not self.session.venue_inconsistent
            and any(not order.filled_quantity for order in self.session.broker.open_orders())
        )
    )
    @rule()
    def venue_forgets(self) -> None:
        """Once per session: the venue loses an open order (only an operator can sort it out)."""
        self._count("venue_forgets")
        assert self.session is not None
        if self.session.broker.forget_one() is not None:
            self.session.venue_inconsistent = True
            self.stats.armed["venue_forgets"] += 1

    @precondition(lambda self: self._active())
    @rule(
        action=st.sampled_from(("buy_protected", "sell_protected", "limit_buy", "sell")),
        fault=st.sampled_from(
            (None, "fill_race", "cancel_transient", "timeout_after", "late_fill", "lookup_down")
        ),
        verb=st.sampled_from(("kill", "stop", "reduce", "step")),
    )
    def race(self, action: str, fault: str | None, verb: str) -> None:
        """A step that sends an order, a fault, and an operator verb while reports are in flight."""
        self._count(f"race:{verb}")
        assert self.session is not None
        self.session.strategy.action = action
        if fault == "timeout_after":  # the send itself times out, and so do its lookups
            self.session.broker.arm("timeout_after")
            self.session.broker.arm("lookup_down", 6)
        self.orch.step()
        if fault not in (None, "timeout_after"):
            self.session.broker.arm(fault)
            self.stats.armed[fault] += 1
        if self.orch.state is S.DRYRUN_ACTIVE:
            self.operator(verb)
            self.rules_run -= 1  # one rule, however many verbs it used

    @precondition(lambda self: self._active())
    @rule()
    def restart(self) -> None:
        """The process restarts: a new orchestrator resumes from ``get_state`` (as JSON)."""
        self._count("restart")
        assert self.session is not None
        self.session.restart()

    @rule(verb=st.sampled_from(VERBS))
    def operator(self, verb: str) -> None:
        """An operator verb; in a state that forbids it, it must raise and change nothing."""
        self._count(f"operator:{verb}")
        orch = self.orch
        state = orch.state
        may_trade = state in (S.PREFLIGHT_OK, S.DRYRUN_ACTIVE)
        legal = {
            "kill": state in (S.DRYRUN_ACTIVE, S.STOPPING),
            "stop": may_trade,
            "reduce": may_trade and orch.trading_state is not TradingState.HALTED,
            "reenable": may_trade and orch.inspect().kill_started_ns is None,
            "acknowledge": state is S.ERROR_REQUIRES_OPERATOR,
            "step": state is S.DRYRUN_ACTIVE,
        }[verb]
        call = {
            "kill": lambda: orch.kill("matrix"),
            "stop": lambda: orch.request_stop("matrix"),
            "reduce": lambda: orch.reduce_only("matrix"),
            "reenable": lambda: orch.reenable_trading("ops"),
            "acknowledge": lambda: orch.acknowledge("ops"),
            "step": orch.step,
        }[verb]
        if legal:
            done = call()
            assert done is None or done.outcome is not VerbOutcome.NOT_APPLICABLE, done
            return
        seq = orch.recorder.event_seq
        trading = orch.trading_state
        if verb == "step":
            with pytest.raises(InvalidTransition):
                call()
        else:  # an operator verb never raises for the state: it says it did nothing
            refused = call()
            assert refused is not None
            assert refused.outcome is not VerbOutcome.APPLIED, refused
        assert (orch.state, orch.trading_state) == (state, trading), "a refused verb changed state"
        assert orch.recorder.event_seq == seq, "a refused verb emitted events"

    @precondition(lambda self: self.session is not None and self.orch.state in TERMINAL_STATES)
    @rule(latency_s=st.sampled_from((0, 30)), quantity=st.sampled_from(QUANTITIES))
    def new_session(self, latency_s: int, quantity: Decimal) -> None:
        """The session ended: start another one."""
        self._count("new_session")
        self._open_session(latency_s, quantity)

    # -- invariants and the end of an example --------------------------------------------------

    @invariant()
    def safety(self) -> None:
        """Every invariant of the module docstring, on the current session."""
        if self.session is not None:
            self.clean = False
            self.session.check()
            self.clean = True

    def teardown(self) -> None:
        """Pad to the minimum rule count with real rules, then stop the session and check.

        For the stop the venue recovers (armed faults are disarmed): an operator must then
        be able to end any session with a stop and at most two acknowledgements.
        """
        if not self.clean or self.session is None:
            return
        while self.rules_run < MIN_RULES:
            state = self.orch.state
            if state is S.DRYRUN_ACTIVE:
                self.step("none", QUANTITIES[0])
            elif state is S.ERROR_REQUIRES_OPERATOR:
                self.operator("acknowledge")
            elif state in TERMINAL_STATES:
                self.new_session(0, QUANTITIES[0])
            else:
                self.operator("kill")
            self.safety()
        assert self.session is not None
        self.session.broker.armed.clear()
        for _ in range(3):
            state = self.orch.state
            if state in (S.PREFLIGHT_OK, S.DRYRUN_ACTIVE):
                self.orch.request_stop("end of example")
            elif state is S.ERROR_REQUIRES_OPERATOR:
                self.orch.acknowledge("ops")
            self.safety()
        # An operator can always end a session: stop, and at most two acknowledgements.
        assert self.orch.state in TERMINAL_STATES, f"still {self.orch.state} after three tries"
        self._retire_session()
        stats = self.stats
        stats.examples += 1
        stats.rules += self.rules_run
        stats.min_rules = min(stats.min_rules, self.rules_run)
        stats.max_rules = max(stats.max_rules, self.rules_run)


MATRIX_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=RULES_PER_EXAMPLE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class TestFailureMatrix:
    def test_invariants_hold_under_faults(self, capsys):
        """Every invariant holds after every rule, in at least 500 examples of 50+ rules."""
        FailureMatrix.stats = Stats()
        started = time.perf_counter()
        run_state_machine_as_test(FailureMatrix, settings=MATRIX_SETTINGS)
        stats = FailureMatrix.stats
        with capsys.disabled():
            print(stats.summary(time.perf_counter() - started))  # noqa: T201 - the counts are the evidence
        assert stats.examples >= MIN_EXAMPLES
        assert stats.min_rules >= MIN_RULES
        assert stats.verified > stats.unverifiable, "most sessions must be verified"


def test_a_send_to_retry_after_trading_halted_is_given_up():
    """Found by the deep campaign (``nox -s failure_matrix``), written out: a buy's send
    timed out before the venue (``timeout_before``), the lookups that followed failed
    (``lookup_down``) until the broker was unhealthy and trading HALTED, the last lookup
    said ``NOT_AT_VENUE``, and the retry loop sent the buy again, a new exposure while
    HALTED (``sent while HALTED``). A send to retry that would add exposure is given up
    once trading is HALTED (``ORDER_REJECTED``, ``SEND_FAILED``)."""
    state = FailureMatrix()
    state.start(latency_s=0, quantity=Decimal("0.001"))
    state.safety()
    state.race(action="buy_protected", fault="fill_race", verb="kill")
    state.safety()
    state.arm(fault="timeout_before", times=1)
    state.safety()
    state.arm(fault="lookup_down", times=6)
    state.safety()
    state.idle(n=2)
    state.safety()
    state.operator(verb="reenable")
    state.safety()
    state.step(action="buy", quantity=Decimal("0.001"))
    state.safety()
    rejected = [
        orjson.loads(line)["payload"]
        for line in state.session.sinks["events"].lines
        if b'"ORDER_REJECTED"' in line
    ]
    assert [r["reason"] for r in rejected] == ["SEND_FAILED"]
    state.teardown()


def test_a_protective_leg_to_retry_after_trading_halted_is_given_up():
    """Found by the deep campaign (``nox -s failure_matrix``, fresh draws), written out: a
    protected buy filled, its stop loss's sends failed (``transient``), and the take
    profit's first failure made the broker unhealthy and trading HALTED; the retry loop
    resent the take profit all the same (it is reduce-only) and it rested at the venue
    while the kill switch (``PROTECTION_LOST``) flattened (``sent while HALTED``). HALTED
    places no leg: one whose send is to be retried is given up (``ORDER_REJECTED``,
    ``SEND_FAILED``), and the kill switch flattens what it left unprotected.

    Since sends keep their own row of failures (the buy's timed-out send, its lookup
    answering, begins it), the stop loss's second failed send halts trading: the stop loss
    is the leg given up, and the take profit is never sent (``RISK_REJECTED``)."""
    state = FailureMatrix()
    state.start(latency_s=0, quantity=Decimal("0.001"))
    state.idle(n=10)
    state.arm(fault="transient", times=1)
    state.idle(n=1)
    state.step(action="none", quantity=Decimal("0.001"))
    state.idle(n=4)
    state.arm(fault="timeout_after", times=1)
    state.idle(n=1)
    state.arm(fault="timeout_after", times=1)
    state.idle(n=4)
    state.step(action="limit_buy", quantity=Decimal("0.001"))
    state.step(action="none", quantity=Decimal("0.001"))
    state.arm(fault="timeout_before", times=1)
    state.arm(fault="transient", times=6)
    state.step(action="buy_protected", quantity=Decimal("0.001"))
    state.safety()
    events = [orjson.loads(line) for line in state.session.sinks["events"].lines]
    legs = [
        e["payload"]
        for e in events
        if e["event_type"] == "ORDER_REJECTED" and "fill_event_id" in e["payload"]
    ]
    assert [leg["reason"] for leg in legs] == ["SEND_FAILED"]
    (refused,) = [e["payload"] for e in events if e["event_type"] == "RISK_REJECTED"]
    assert refused["reason"].startswith("no new exit order: trading is HALTED")
    kinds = [e["event_type"] for e in events]
    assert kinds.index("TRADING_STATE_CHANGED") < kinds.index("KILL_SWITCH")
    assert kinds[-1] == "KILL_SWITCH_FLAT"
    state.teardown()
