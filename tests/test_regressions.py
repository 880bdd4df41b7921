"""Regression tests: one per bug the failure matrix (or the work around it) found.

Each test names the bug it pins down; the docstring says what must hold now.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import (
    DryrunConfig,
    LiveSessionOrchestrator,
    MockBroker,
    Order,
    OrderType,
    SessionState,
    SessionStatus,
    Side,
    SimClock,
    VerbOutcome,
)
from livesession._domain.model import Bar, FillReport
from livesession.stores import MemoryIdempotencyStore
from livesession.testing import FaultBroker

from _helpers import Sinks, hold_at_venue, session

D = Decimal
SECOND = 1_000_000_000


def _running(broker, script, **cfg):
    orch, sinks = session(
        feed=ScriptedFeed(["40000.00"]), strategy=ScriptedStrategy(script), broker=broker, **cfg
    )
    orch.preflight()
    orch.activate()
    return orch, sinks


def _resting_limit() -> dict:
    return {"order_type": OrderType.LIMIT, "limit_price": D("39000.00")}


class _DiesOnAck:
    """An events sink that dies when it is asked to write the first ORDER_ACCEPTED."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.dead = False

    def write_line(self, line: bytes) -> None:
        if self.dead or b'"ORDER_ACCEPTED"' in line:
            self.dead = True
            raise OSError("disk gone")
        self.lines.append(line)

    def flush(self) -> None:
        """Nothing buffered."""

    def sync(self) -> None:
        """Nothing to sync."""


class _DiesOn(_DiesOnAck):
    """A sink that dies when it is asked to write the first line holding ``marker``."""

    def __init__(self, marker: bytes) -> None:
        super().__init__()
        self.marker = marker

    def write_line(self, line: bytes) -> None:
        if self.dead or self.marker in line:
            self.dead = True
            raise OSError("disk gone")
        self.lines.append(line)


class TestRegressions:
    @pytest.mark.broken_run("a sink fails for good on purpose; what it lost cannot verify")
    def test_reports_survive_a_sink_failure_mid_batch(self):
        """Bug: reports polled in one batch after the one whose event hit a dead sink were
        lost (a fill never reached the book). Now they wait in the inbox, the operator's
        acknowledgement applies them, and the session flattens what the venue executed."""
        broker = FaultBroker()
        sinks = Sinks()
        kwargs = sinks.kwargs()
        kwargs["event_sink"] = _DiesOnAck()
        orch = LiveSessionOrchestrator(
            DryrunConfig(run_id="t", strategy_id="scripted"),
            feed=ScriptedFeed(["40000.00"]),
            strategy=ScriptedStrategy(at({1: [buy("0.010")]})),
            broker=broker,
            **kwargs,
        )
        orch.preflight()
        orch.activate()
        orch.step()  # ack and fill arrive together; the ack's event kills the sink
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        orch.acknowledge("ops-1")
        assert orch.state is SessionState.STOPPED
        assert broker.position("BTC/USDT") == 0
        assert not any(orch.book.positions.values())
        assert "C2_SINK_WRITE_FAILED" in sinks.audit_codes()

    @pytest.mark.broken_run("the audit sink dies on purpose; the run cannot verify")
    @pytest.mark.parametrize("order", ["limit", "market"])
    def test_an_order_whose_timeout_the_audit_could_not_record_is_still_wound_down(self, order):
        """Bugs (both found by the failure matrix): the audit sink died while the session
        recorded a send that timed out (ORDER_OUTCOME_UNKNOWN). The failure left the send
        before the book tracked the order, so the operator's acknowledgement stopped the
        session "flat" while the venue held the order (a resting limit) or its fill (a
        market order). Now the book tracks it in doubt first, with an ORDER_SUBMITTED
        (send_outcome UNKNOWN) that its reports link to: the reconciler adopts it during
        the wind-down, and it is cancelled, or its fill is applied and flattened."""
        broker = FaultBroker()
        sinks = Sinks()
        kwargs = sinks.kwargs()
        kwargs["audit_sink"] = _DiesOn(b'"C2_ORDER_OUTCOME_UNKNOWN"')
        intent = buy("0.001", **_resting_limit()) if order == "limit" else buy("0.001")
        orch = LiveSessionOrchestrator(
            DryrunConfig(run_id="t", strategy_id="scripted", max_sink_retries=1),
            feed=ScriptedFeed(["40000.00"]),
            strategy=ScriptedStrategy(at({1: [intent]})),
            broker=broker,
            **kwargs,
        )
        orch.preflight()
        orch.activate()
        broker.arm("timeout_after")  # the venue takes the order; the call times out
        broker.arm("lookup_down", 6)  # and no lookup can say
        orch.step()
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        (submitted,) = sinks.events_of("ORDER_SUBMITTED")
        cid = submitted["payload"]["client_order_id"]
        assert submitted["payload"]["send_outcome"] == "UNKNOWN"
        assert orch.book.open_orders == (cid,)  # tracked, in doubt
        broker.armed.clear()
        orch.acknowledge("ops")
        assert orch.state is SessionState.STOPPED
        assert not broker.open_orders()
        assert broker.position("BTC/USDT") == 0
        assert not any(orch.book.positions.values())
        (adopted,) = sinks.events_of("RECONCILED")
        assert (adopted["payload"]["client_order_id"], adopted["payload"]["action"]) == (
            cid,
            "ADOPTED",
        )
        submitted_ids = {
            e["payload"]["client_order_id"] for e in sinks.events_of("ORDER_SUBMITTED")
        }
        fills = sinks.events_of("ORDER_FILLED")
        assert all(f["payload"]["client_order_id"] in submitted_ids for f in fills)
        if order == "limit":
            assert sinks.events_of("ORDER_CANCELED")[0]["payload"]["client_order_id"] == cid
        else:
            assert [f["payload"]["reason"] for f in sinks.events_of("ORDER_SUBMITTED")][
                -1
            ] == "flatten"

    def test_kill_switch_flattens_once_in_flight_cancels_confirm(self):
        """Bug: with venue latency the kill switch cancelled, found the cancels unconfirmed,
        and never flattened afterwards (HALTED skipped everything). Now every later step
        finishes the job: flat within two venue round trips."""
        broker = FaultBroker(latency_ns=90 * SECOND)
        orch, sinks = _running(
            broker, at({1: [buy("0.020")], 2: [buy("0.010", **_resting_limit())]})
        )
        orch.run_n_steps(3)
        orch.kill("drill")
        orch.run_n_steps(4)
        assert sinks.events_of("KILL_SWITCH_FLAT")
        assert broker.position("BTC/USDT") == 0
        assert not broker.open_orders()

    def test_fill_that_races_a_cancel_is_applied_once(self):
        """Bug: a fill reported after its order's cancel report was held as unmatched
        forever, so the book missed a position the venue had. Now the cancelled order waits
        for the venue's final word, the late fill is applied once (duplicates ignored)."""
        broker = FaultBroker()
        orch, sinks = _running(broker, at({1: [buy("0.010", **_resting_limit())]}))
        orch.step()
        broker.arm("fill_race")
        broker.arm("duplicate_fill")
        orch.request_stop("end")
        assert orch.state is SessionState.STOPPED
        late = [
            e for e in sinks.events_of("ORDER_PARTIALLY_FILLED") if e["payload"].get("after_cancel")
        ]
        assert len(late) == 1
        assert broker.position("BTC/USDT") == 0
        assert not any(orch.book.positions.values())

    def test_kill_switch_flat_waits_for_a_raced_fill(self):
        """Bug: KILL_SWITCH_FLAT was declared while a fill that raced the cancel was still
        on its way, and the position it brought stayed after "flat". Now flat means the
        venue confirmed every cancelled order's final fills."""
        broker = FaultBroker()
        orch, sinks = _running(broker, at({1: [buy("0.010", **_resting_limit())]}))
        orch.step()
        broker.arm("fill_race")
        orch.kill("drill")
        orch.run_n_steps(4)
        events = [orjson.loads(line) for line in sinks.events.lines]
        flat_at = next(n for n, e in enumerate(events) if e["event_type"] == "KILL_SWITCH_FLAT")
        assert not [e for e in events[flat_at:] if e["event_type"] == "POSITION_CHANGED"]
        assert broker.position("BTC/USDT") == 0

    def test_an_order_the_venue_took_is_not_reported_as_failed(self):
        """Bug: a send that timed out after the venue recorded the order, followed by lookups
        that timed out too, was reported as SEND_FAILED; the order's fills then had no order
        to land on and the book missed the venue's position. Now the order is tracked in
        doubt, never resent, adopted on the venue's first report, and its fill counts."""
        broker = FaultBroker()
        orch, sinks = _running(broker, at({1: [buy("0.010")]}))
        broker.arm("timeout_after")
        broker.arm("lookup_down", 6)
        orch.step()
        assert orch.state is SessionState.DRYRUN_ACTIVE
        assert not sinks.events_of("ORDER_REJECTED")
        cid = sinks.events_of("ORDER_SUBMITTED")[0]["payload"]["client_order_id"]
        assert broker.recorded[cid] == 1
        assert sinks.events_of("RECONCILED")[0]["payload"]["action"] == "ADOPTED"
        assert orch.book.positions["BTC/USDT"] == broker.position("BTC/USDT") == D("0.010")

    def test_reenable_after_stop_is_refused(self):
        """Bug: reenable_trading() after STOPPED wrote TRADING_REENABLED after
        SESSION_STOPPED, breaking the artifact contract. Now it is refused and writes nothing."""
        orch, sinks = _running(FaultBroker(), at({}))
        orch.request_stop("done")
        assert orch.reenable_trading("ops-1").outcome is VerbOutcome.NOT_APPLICABLE
        assert orjson.loads(sinks.events.lines[-1])["event_type"] == "SESSION_STOPPED"

    def test_mock_venue_skips_a_sibling_cancelled_on_the_same_bar(self):
        """Bug: when one bar touched both OCO legs, the venue cancelled the second while
        iterating and then failed with KeyError on it. Now the cancelled sibling is skipped."""
        venue = MockBroker()
        hold_at_venue(venue, "0.010")  # the legs are reduce-only: there is a long to protect
        group = "lsentry"
        legs = [
            Order(
                client_order_id=f"ls{name}",
                symbol="BTC/USDT",
                side=Side.SELL,
                quantity=D("0.010"),
                order_type=kind,
                limit_price=D(price),
                reduce_only=True,
                oco_group=group,
            )
            for name, kind, price in (
                ("sl", OrderType.STOP, "39600"),
                ("tp", OrderType.LIMIT, "40400"),
            )
        ]
        for leg in legs:
            venue.submit(leg, 0)
        venue.on_market(_bar(1, high="41000", low="39000"))
        fills = [r for r in venue.poll(10) if isinstance(r, FillReport)]
        assert [f.client_order_id for f in fills] == ["lssl"]

    def test_acknowledge_ends_a_session_with_an_escalated_order(self):
        """Bug: an order escalated as missing at the venue stayed open through the
        operator's acknowledgement, so every wind-down ended in STOP_INCOMPLETE and the
        operator could never stop. Now the acknowledged order is dropped (and recorded)."""
        broker = FaultBroker()
        orch, sinks = _running(broker, at({1: [buy("0.010", **_resting_limit())]}))
        orch.step()
        (cid,) = orch.book.open_orders
        broker.forget(cid)
        orch.run_n_steps(6)
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        orch.acknowledge("ops-1")
        assert orch.state is SessionState.STOPPED
        assert orch.status is SessionStatus.FAILED
        dropped = sinks.events_of("RECONCILED")[-1]["payload"]
        assert (dropped["action"], dropped["client_order_id"]) == ("DROPPED", cid)
        assert dropped["operator"] == "ops-1"

    def test_a_stop_that_runs_out_of_polls_applies_reports_before_giving_up(self):
        """Bug (found by the deep matrix): when the wind-down ran out of polls it reconciled
        without polling the reports that came due during its last wait, so a fill that had
        arrived was escalated as not seen and later dropped. Now it polls first: the fill
        counts, the stop fails as STOP_INCOMPLETE, and the acknowledged retry ends flat."""
        broker = FaultBroker(latency_ns=30 * SECOND)
        orch, sinks = _running(broker, at({1: [buy("0.010")]}), stop_max_polls=1)
        orch.step()
        orch.request_stop("end")
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert orch.result().reason == "STOP_INCOMPLETE"
        assert not sinks.events_of("RECONCILE_ESCALATED")
        assert orch.book.positions["BTC/USDT"] == D("0.010")
        orch.acknowledge("ops-1")
        while orch.state is SessionState.ERROR_REQUIRES_OPERATOR:
            orch.acknowledge("ops-1")
        assert orch.state is SessionState.STOPPED
        assert broker.position("BTC/USDT") == 0

    @pytest.mark.broken_run(
        "the resumed session writes the run's tail into fresh sinks: a partial run by design"
    )
    def test_a_lost_order_after_a_resume_is_escalated_within_the_grace(self):
        """Bug (found by the deep matrix): after a resume every grace-based decision waited
        out the replay window (over two hours here), so a protective leg the venue had lost
        kept the kill switch from flattening all that time. Only what a venue that is
        ahead can explain waits now; an order the venue does not know escalates in grace."""
        broker = FaultBroker()
        protect = {"take_profit_pct": D("0.01"), "stop_loss_pct": D("0.01")}
        keys = MemoryIdempotencyStore(
            SimClock(DryrunConfig(run_id="t", strategy_id="s").start)
        )  # both sessions share the durable keys
        orch, _ = _running(broker, at({1: [buy("0.010", **protect)]}), idempotency=keys)
        orch.step()
        state = orch.get_state()
        digests = {name: digest.copy() for name, digest in orch.recorder.digests.items()}
        resumed, sinks = session(
            feed=ScriptedFeed(["40000.00"]),
            strategy=ScriptedStrategy(at({})),
            broker=broker,
            idempotency=keys,
        )
        resumed.restore_state(state, digests)
        broker.forget(broker.open_orders()[0].client_order_id)
        resumed.kill("drill")
        steps = 0
        while resumed.state is SessionState.DRYRUN_ACTIVE:
            resumed.step()
            steps += 1
            assert steps <= 6, "still waiting for the replay window"
        assert sinks.events_of("RECONCILE_ESCALATED")
        resumed.acknowledge("ops-1")
        assert resumed.state is SessionState.STOPPED
        assert broker.position("BTC/USDT") == 0

    def test_resumed_venue_does_not_trigger_a_resting_order_one_bar_early(self, tmp_path: Path):
        """Bug: after a crash the replayed mock venue already held a resting order sent in
        the crashed step and let the re-run bar trigger it, one bar earlier than the
        uninterrupted run did (OCO runs were not byte-identical after resume). Now only bars
        after the one current at placement trigger a resting order."""
        journal = tmp_path / "journal.jsonl"
        venue = MockBroker(journal=journal)
        venue.on_market(_bar(100, high="40000", low="40000"))
        stop = Order(
            client_order_id="lsstop",
            symbol="BTC/USDT",
            side=Side.SELL,
            quantity=D("0.010"),
            order_type=OrderType.STOP,
            limit_price=D("39500"),
        )
        venue.submit(stop, 100)
        venue.close()
        replayed = MockBroker(journal=journal)
        replayed.on_market(_bar(100, high="40000", low="39000"))  # the re-run bar
        assert not [r for r in replayed.poll(1000) if isinstance(r, FillReport)]
        replayed.on_market(_bar(200, high="40000", low="39000"))
        assert [r for r in replayed.poll(1000) if isinstance(r, FillReport)]
        replayed.close()


def _bar(ts: int, *, high: str, low: str) -> Bar:
    return Bar(
        symbol="BTC/USDT",
        ts_ns=ts,
        open=D(low),
        high=D(high),
        low=D(low),
        close=D(low),
        volume=D(1),
    )


class TestResumeAndLookupFixes:
    def test_resume_in_final_stop_fills_the_flatten_at_the_last_price(self, tmp_path):
        """A crash in the final stop, right after the last checkpoint, resumes to identical events.

        The resumed mock venue used to price the flatten order at the price of the last
        request it had journaled, not the session's last bar.
        """
        import os
        import subprocess
        import sys

        def run(out, extra_env=None, *args):
            return subprocess.run(
                [sys.executable, "-m", "livesession.cli", *args, "-q"],
                env={**os.environ, **(extra_env or {})},
                cwd=tmp_path,
                check=False,
            ).returncode

        base = ["dryrun", "--run-id", "r", "--seed", "3", "--steps", "200", "--durability", "none"]
        assert run(None, None, *base, "--out", str(tmp_path / "a")) == 0
        assert (
            run(
                None, {"LIVESESSION_CRASH_AT": "torn_states:4"}, *base, "--out", str(tmp_path / "b")
            )
            != 0
        )
        assert run(None, None, "resume", str(tmp_path / "b" / "r")) == 0
        a = (tmp_path / "a" / "r" / "events.jsonl").read_bytes()
        b = (tmp_path / "b" / "r" / "events.jsonl").read_bytes()
        assert b'"reason":"flatten"' in a
        assert a == b

    def test_outcome_unknown_resend_uses_the_confirming_lookup(self):
        """With a broker that confirms absence only via lookup(), the one legitimate resend goes out."""
        from livesession import MockBroker, OutcomeUnknown

        from _helpers import session

        class _ConfirmingVenue(MockBroker):
            """Loses the first request of each order, and refuses a resend until lookup()."""

            simulated = True  # a broker of the test's own declares itself

            def __init__(self) -> None:
                super().__init__(seed=3)
                self.lost: set[str] = set()
                self.blocked: set[str] = set()
                self.lookups = 0

            def submit(self, order, now_ns):
                cid = order.client_order_id
                if cid in self.blocked:
                    raise OutcomeUnknown(
                        "call lookup() before sending it again", client_order_id=cid
                    )
                if cid not in self.lost:
                    self.lost.add(cid)
                    self.blocked.add(cid)
                    raise OutcomeUnknown("connection reset before the answer", client_order_id=cid)
                super().submit(order, now_ns)

            def lookup(self, cid, attempts=None):
                self.lookups += 1
                found = self.order_by_client_id(cid)
                if found is None:
                    self.blocked.discard(cid)
                return found

        venue = _ConfirmingVenue()
        orch, sinks = session(broker=venue, steps=150)
        orch.run_to_end(150)
        submitted = sinks.events_of("ORDER_SUBMITTED")
        assert submitted
        assert venue.lookups > 0
        assert all(count == 1 for count in venue.submissions.values())
        assert len(venue.submissions) == len(submitted)
        assert not sinks.events_of("ORDER_REJECTED")
