"""Hand-built run directories that follow ARTIFACTS.md, independent of the real writer.

``RunBuilder`` keeps a tiny book (cash, positions, open orders) and writes events, state
snapshots, the hash-chained audit log and metrics exactly as the contract says, so the
verifier, the report and the Prometheus export can be tested without the orchestrator.
Tests may also drive a builder by hand to produce runs that are well-formed (chained,
digested, canonical) but wrong in one specific way. As the writer does, each audited event
is recorded with the event's own payload and time (``copy``).
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from pathlib import Path

from livesession._artifacts.timings import STEP_BUCKETS_SECONDS
from livesession._domain.ids import client_order_id, stable_id
from livesession._domain.lifecycle import STATUS_BY_STATE, TRANSITIONS, SessionState, Trigger

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
BAR_NS = 60 * 10**9
LOT = Decimal("0.001")

SCENARIOS = ("completed", "preflight_failed", "fault", "resumed")


def canonical(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def ts_utc(ts_ns: int) -> str:
    moment = EPOCH + dt.timedelta(microseconds=ts_ns // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class RunBuilder:
    """Builds one run in memory; ``write`` puts the four artifacts in a directory."""

    def __init__(
        self,
        *,
        run_id: str = "run-test-1",
        strategy_id: str = "sma_cross",
        symbol: str = "BTCUSDT",
        cash: str = "10000.00",
    ) -> None:
        self.run_id = run_id
        self.strategy_id = strategy_id
        self.symbol = symbol
        self.cash = Decimal(cash)
        self.ts_ns = 0
        self.state = SessionState.INIT.value
        self.status = "INIT"
        self.failed = False
        self.step = 0
        self.positions: dict[str, Decimal] = {}
        self.open_orders: dict[str, dict[str, Any]] = {}
        self.order_events: dict[str, str] = {}  # client order id -> its ORDER_SUBMITTED id
        self.last_close: dict[str, Decimal] = {}
        self.events: list[dict[str, Any]] = []
        self.snapshots: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []
        self.rejects: dict[str, int] = {}
        self.intents = 0
        self.trades = 0
        self.step_ms: list[float] = []
        """Each step's wall time, for timings.json's step_duration histogram."""

    # the book

    def equity(self) -> Decimal:
        """Exact, as the session's book keeps it: verify holds every equity to the fills."""
        return self.cash + sum(
            (qty * self.last_close.get(sym, Decimal(0)) for sym, qty in self.positions.items()),
            Decimal(0),
        )

    # the three streams

    def event(self, event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        seq = len(self.events) + 1
        record = {
            "schema": "C2_DRYRUN_V1",
            "seq": seq,
            "event_id": stable_id(self.run_id, self.strategy_id, event_type, seq, payload),
            "run_id": self.run_id,
            "strategy_id": self.strategy_id,
            "event_type": event_type,
            "ts_sim": self.ts_ns,
            "ts_utc": ts_utc(self.ts_ns),
            "payload": payload,
        }
        self.events.append(record)
        return record

    def snapshot(self, trigger: str, from_state: str) -> None:
        self.snapshots.append(
            {
                "schema": "C2_STATE_V1",
                "seq": len(self.snapshots) + 1,
                "run_id": self.run_id,
                "strategy_id": self.strategy_id,
                "ts_sim": self.ts_ns,
                "ts_utc": ts_utc(self.ts_ns),
                "status": self.status,
                "fsm_state": self.state,
                "trigger": trigger,
                "from_state": from_state,
                "step": self.step,
                "positions": {sym: str(qty) for sym, qty in sorted(self.positions.items())},
                "open_orders": [
                    {"client_order_id": coid, "symbol": order["symbol"]}
                    for coid, order in sorted(self.open_orders.items())
                ],
                "equity": str(self.equity()),
            }
        )

    def record(self, code: str, payload: dict[str, Any]) -> None:
        """Append an audit record stamped now (a copy of an event: ``copy``)."""
        self.audit.append(
            {
                "schema": "C2_AUDIT_V1",
                "run_id": self.run_id,
                "seq": len(self.audit) + 1,
                "ts": ts_utc(self.ts_ns),
                "code": code,
                "payload": payload,
                "prev_hash": "",  # filled in by write(), which hashes the raw lines
            }
        )

    def copy(self, code: str, event: dict[str, Any]) -> None:
        """Audit ``event`` as ``code``: the record carries its payload, at its time."""
        self.record(code, dict(event["payload"]))

    # session verbs

    def start(self) -> None:
        self.copy(
            "C2_DRYRUN_START",
            self.event("SESSION_STARTED", {"mode": "dry_run", "symbol": self.symbol}),
        )
        self.snapshot("start", self.state)

    def move(self, trigger: Trigger, *, to_state: str | None = None) -> None:
        """Fire ``trigger``; ``to_state`` forces a destination (for building bad runs)."""
        if to_state is None:
            moves = {(t, s.value): d.value for t, s, d in TRANSITIONS}
            to_state = moves[(trigger, self.state)]
        source, self.state = self.state, to_state
        self.failed = self.failed or STATUS_BY_STATE[SessionState(to_state)].value == "FAILED"
        self.status = "FAILED" if self.failed else STATUS_BY_STATE[SessionState(to_state)].value
        changed = self.event(
            "STATE_CHANGED", {"from_state": source, "to_state": to_state, "trigger": trigger.value}
        )
        if to_state == SessionState.ERROR_REQUIRES_OPERATOR.value:
            self.copy("C2_OPERATOR_REQUIRED", changed)
        self.snapshot(trigger.value, source)

    def preflight(self, *, passed: bool = True) -> None:
        for check in ("config", "clock", "broker"):
            ok = passed or check != "broker"
            event = self.event(
                "PREFLIGHT_CHECK",
                {"check": check, "passed": ok, "reason": "" if ok else "UNREACHABLE"},
            )
            if not ok:
                self.copy("C2_REJECT_UNREACHABLE", event)
        if passed:
            self.move(Trigger.PREFLIGHT_PASSED)
        else:
            self.rejects["UNREACHABLE"] = self.rejects.get("UNREACHABLE", 0) + 1
            self.move(Trigger.PREFLIGHT_FAILED)

    def bar(self, close: str) -> None:
        self.ts_ns += BAR_NS
        self.step += 1
        price = Decimal(close)
        self.last_close[self.symbol] = price
        self.event(
            "BAR",
            {
                "symbol": self.symbol,
                "open": str(price - 5),
                "high": str(price + 10),
                "low": str(price - 10),
                "close": close,
                "volume": "12.500",
            },
        )
        self.step_ms.append(0.4 + (self.step % 5) / 10)

    def order(self, side: str, quantity: str) -> str:
        self.intents += 1
        coid = client_order_id(self.run_id, self.strategy_id, self.intents)
        signal = self.event("SIGNAL", {"symbol": self.symbol, "side": side, "reason": "cross"})
        payload = {
            "client_order_id": coid,
            "symbol": self.symbol,
            "side": side,
            "quantity": quantity,
            "order_type": "MARKET",
            "signal_id": signal["event_id"],
        }
        self.order_events[coid] = self.event("ORDER_SUBMITTED", payload)["event_id"]
        self.open_orders[coid] = payload
        self.event(
            "ORDER_ACCEPTED",
            {
                "client_order_id": coid,
                "venue_order_id": f"v{self.intents}",
                "order_event_id": self.order_events[coid],
            },
        )
        return coid

    def fill(
        self, coid: str, quantity: str, *, last: bool = True, extra: dict[str, Any] | None = None
    ) -> None:
        order = self.open_orders[coid]
        qty, price = Decimal(quantity), self.last_close[self.symbol]
        sign = 1 if order["side"] == "BUY" else -1
        self.trades += 1
        fill = {
            "client_order_id": coid,
            "trade_id": f"t{self.trades}",
            "symbol": self.symbol,
            "side": order["side"],
            "quantity": quantity,
            "price": str(price),
            **(extra or {}),  # a test's field the contract does not have
        }
        if coid in self.order_events:  # a test may fill an order it never submitted
            fill["order_event_id"] = self.order_events[coid]
        self.event("ORDER_FILLED" if last else "ORDER_PARTIALLY_FILLED", fill)
        self.cash -= sign * qty * price
        position = self.positions.get(self.symbol, Decimal(0)) + sign * qty
        self.positions[self.symbol] = position
        self.event(
            "POSITION_CHANGED",
            {
                "symbol": self.symbol,
                "position": str(position),
                "avg_price": str(price),
                "cash": str(self.cash),
                "equity": str(self.equity()),
            },
        )
        if last:
            del self.open_orders[coid]

    def broker_reject(self, coid: str, reason: str) -> None:
        rejected = self.event(
            "ORDER_REJECTED",
            {"client_order_id": coid, "reason": reason, "order_event_id": self.order_events[coid]},
        )
        self.copy(f"C2_REJECT_{reason}", rejected)
        self.rejects[reason] = self.rejects.get(reason, 0) + 1
        del self.open_orders[coid]

    def risk_reject(self, rule: str, side: str, quantity: str) -> None:
        """A refused intent; ``rule`` in upper case (``max_notional``: ``MAX_NOTIONAL``), as
        the session's rules are, since the audit writes it into a record code."""
        rule = rule.upper()
        self.intents += 1
        signal = self.event("SIGNAL", {"symbol": self.symbol, "side": side, "reason": "cross"})
        rejected = self.event(
            "RISK_REJECTED",
            {
                "signal_id": signal["event_id"],
                "rule": rule,
                "reason": f"{rule} exceeded",
                "symbol": self.symbol,
                "side": side,
                "quantity": quantity,
                "limit": "0.050",
            },
        )
        self.copy(f"C2_REJECT_{rule}", rejected)
        self.rejects[rule] = self.rejects.get(rule, 0) + 1

    def sink_retry(self) -> None:
        retried = self.event("SINK_WRITE_RETRIED", {"sink": "events", "attempt": 1})
        self.copy("C2_SINK_WRITE_RETRY", retried)

    def stop(self) -> None:
        self.event("SESSION_STOPPED", {"status": self.status, "steps": self.step})
        self.snapshot("final", self.state)

    # output

    def write(self, run_dir: Path, *, metrics_indent: bool = True, timings: bool = True) -> Path:
        run_dir.mkdir(parents=True, exist_ok=True)
        events = b"".join(canonical(e) + b"\n" for e in self.events)
        snapshots = b"".join(canonical(s) + b"\n" for s in self.snapshots)
        self.record(
            "C2_DRYRUN_STOP",
            {
                "status": self.status,
                "digests": {
                    "events.jsonl": hashlib.sha256(events).hexdigest(),
                    "state_snapshots.jsonl": hashlib.sha256(snapshots).hexdigest(),
                },
            },
        )
        audit_lines: list[bytes] = []
        prev = "0" * 64
        for record in self.audit:
            line = canonical({**record, "prev_hash": prev})
            audit_lines.append(line)
            prev = hashlib.sha256(line).hexdigest()
        metrics = {
            "schema": "C2_DRYRUN_METRICS_V1",
            "run_id": self.run_id,
            "status": self.status,
            "steps": sum(1 for e in self.events if e["event_type"] == "BAR"),
            "events_emitted": len(self.events),
            "audit_events": len(audit_lines),
            "state_snapshots": len(self.snapshots),
            "sink_retries": sum(1 for e in self.events if e["event_type"] == "SINK_WRITE_RETRIED"),
            "orders_submitted": sum(1 for e in self.events if e["event_type"] == "ORDER_SUBMITTED"),
            "fills": sum(
                1
                for e in self.events
                if e["event_type"] in ("ORDER_FILLED", "ORDER_PARTIALLY_FILLED")
            ),
            "rejects_by_reason": dict(sorted(self.rejects.items())),
            "events_by_type": dict(
                sorted(collections.Counter(e["event_type"] for e in self.events).items())
            ),
            "audit_head": prev,
        }
        option = orjson.OPT_SORT_KEYS | (orjson.OPT_INDENT_2 if metrics_indent else 0)
        (run_dir / "events.jsonl").write_bytes(events)
        (run_dir / "state_snapshots.jsonl").write_bytes(snapshots)
        (run_dir / "audit.jsonl").write_bytes(b"".join(line + b"\n" for line in audit_lines))
        (run_dir / "metrics.json").write_bytes(orjson.dumps(metrics, option=option) + b"\n")
        if timings:
            seconds = [ms / 1000 for ms in self.step_ms]
            histogram = {
                "buckets_s": list(STEP_BUCKETS_SECONDS),
                "counts": [sum(s <= bound for s in seconds) for bound in STEP_BUCKETS_SECONDS],
                "count": len(seconds),
                "sum_s": sum(seconds),
            }
            (run_dir / "timings.json").write_bytes(orjson.dumps({"step_duration": histogram}))
        return run_dir


def trade_some(builder: RunBuilder, bars: int = 12, *, resume_at: int | None = None) -> None:
    """Run ``bars`` bars with a buy in two fills, a risk block, a broker reject and a sell.

    ``resume_at`` adds a ``C2_RESUME`` audit record before that bar, as a resumed run has.
    """
    for i in range(bars):
        if i == resume_at:
            builder.record("C2_RESUME", {"from_event_seq": len(builder.events)})
        builder.bar(f"{42000 + 25 * i - (40 if i % 4 == 3 else 0)}.50")
        if i == 2:
            coid = builder.order("BUY", "0.010")
            builder.fill(coid, "0.004", last=False)
            builder.fill(coid, "0.006")
        elif i == 4:
            builder.risk_reject("max_notional", "BUY", "5.000")
        elif i == 6:
            builder.sink_retry()
        elif i == 7:
            coid = builder.order("SELL", "0.004")
            builder.broker_reject(coid, "INSUFFICIENT_BALANCE")
        elif i == 9:
            coid = builder.order("SELL", "0.004")
            builder.fill(coid, "0.004")


def build_run(
    run_dir: Path,
    *,
    scenario: str = "completed",
    run_id: str = "run-test-1",
    strategy_id: str = "sma_cross",
    bars: int = 12,
    metrics_indent: bool = True,
    timings: bool = True,
) -> Path:
    """Write a complete, valid run of ``scenario`` (one of ``SCENARIOS``) into ``run_dir``."""
    builder = RunBuilder(run_id=run_id, strategy_id=strategy_id)
    builder.start()
    if scenario == "preflight_failed":
        builder.preflight(passed=False)
    else:
        builder.preflight()
        builder.move(Trigger.ACTIVATE)
        trade_some(builder, bars, resume_at=bars // 2 if scenario == "resumed" else None)
        if scenario == "fault":
            builder.move(Trigger.FAULT)  # audited C2_OPERATOR_REQUIRED
            builder.move(Trigger.OPERATOR_ACK)
        else:
            builder.move(Trigger.REQUEST_STOP)
        builder.move(Trigger.STOPPED)
    builder.stop()
    return builder.write(run_dir, metrics_indent=metrics_indent, timings=timings)


def grown_run(run_dir: Path, extra: int, kind: bytes = b'"BAR"') -> Path:
    """A factory run with ``extra`` more lines of ``kind`` (copies of its first one).

    A long run's events for the memory tests of the readers (it breaks the run's digests).
    """
    run = build_run(run_dir)
    events = run / "events.jsonl"
    line = next(line for line in events.read_bytes().splitlines(True) if kind in line)
    with events.open("ab") as f:
        f.write(line * extra)
    return run
