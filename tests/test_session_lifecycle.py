"""The session lifecycle's own interface: transitions, faults, fail-closed, the seal."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import orjson
import pytest

from livesession._artifacts.recorder import Recorder
from livesession._domain.lifecycle import SessionState, SessionStatus, Trigger
from livesession._exceptions import InvalidTransition, SinkFailure
from livesession._session.book import Book
from livesession._session.lifecycle import SessionLifecycle

from _helpers import Sinks

S = SessionState
T = Trigger


class BreakableSink:
    """A line sink that raises once ``broken`` is set."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.broken = False

    def write_line(self, line: bytes) -> None:
        if self.broken:
            raise OSError("disk gone")
        self.lines.append(line)

    def flush(self) -> None:
        """Nothing to flush."""

    def sync(self) -> None:
        """Nothing to sync."""


class CallsSink(BreakableSink):
    """A line sink that logs its calls. ``fail`` names the call that fails: ``write`` of a
    line holding ``fail_after``, or ``flush`` or ``sync`` once the sink holds such a line."""

    def __init__(self, *, fail: str = "", fail_after: bytes = b"") -> None:
        super().__init__()
        self.calls: list[str] = []
        self._fail, self._after = fail, fail_after

    def _failing(self, call: str) -> bool:
        return self._fail == call and any(self._after in line for line in self.lines)

    def write_line(self, line: bytes) -> None:
        self.calls.append("write")
        if self._fail == "write" and self._after in line:
            raise OSError("disk gone")
        super().write_line(line)

    def flush(self) -> None:
        self.calls.append("flush")
        if self._failing("flush"):
            raise OSError("disk gone")

    def sync(self) -> None:
        self.calls.append("sync")
        if self._failing("sync"):
            raise OSError("disk gone")


class BreakableMetrics:
    """A metrics sink that refuses its document once ``broken`` is set."""

    def __init__(self) -> None:
        self.content = b""
        self.broken = False

    def replace(self, content: bytes) -> None:
        if self.broken:
            raise OSError("no space left")
        self.content = content


class Harness:
    """A lifecycle over a recorder on memory sinks, a real book and counted callables."""

    def __init__(
        self,
        *,
        states_sink: object | None = None,
        events_sink: object | None = None,
        audit_sink: object | None = None,
        metrics_sink: object | None = None,
    ) -> None:
        self.sinks = Sinks()
        self.recorder = Recorder(
            run_id="t",
            strategy_id="s",
            events=events_sink if events_sink is not None else self.sinks.events,
            states=states_sink if states_sink is not None else self.sinks.states,
            audit=audit_sink if audit_sink is not None else self.sinks.audit,
            metrics=metrics_sink if metrics_sink is not None else self.sinks.metrics,
        )
        self.book = Book(initial_cash=Decimal(100000))
        self.steps = 0
        self.halts = 0
        self.lifecycle = SessionLifecycle(
            self.recorder, self.book, steps=lambda: self.steps, halt=self._halt
        )

    def _halt(self) -> None:
        self.halts += 1

    def changes(self) -> list[tuple[str, str, str]]:
        return [
            (e["payload"]["from_state"], e["payload"]["to_state"], e["payload"]["trigger"])
            for e in self.sinks.events_of("STATE_CHANGED")
        ]

    def activate(self) -> None:
        self.lifecycle.transition(T.PREFLIGHT_PASSED, "")
        self.lifecycle.transition(T.ACTIVATE, "")

    def stopped(self, reason: str = "STEPS_DONE") -> None:
        self.activate()
        self.lifecycle.transition(T.REQUEST_STOP, "done")
        self.lifecycle.transition(T.STOPPED, "done")
        self.lifecycle.reason = reason

    def heard(self) -> list[tuple[str, object]]:
        """What the audit's observers (the alert tap) hear: code and status."""
        heard: list[tuple[str, object]] = []
        self.recorder.audit_observers.append(
            lambda code, payload, _ts, _seq: heard.append((code, payload.get("status")))
        )
        return heard


def _holds_stop(sink: BreakableSink) -> bool:
    return any(b"C2_DRYRUN_STOP" in line for line in sink.lines)


class TestTransition:
    def test_a_new_lifecycle_is_at_init(self):
        h = Harness()
        lc = h.lifecycle
        assert (lc.state, lc.status, lc.failed, lc.sealed, lc.reason) == (
            S.INIT,
            SessionStatus.INIT,
            False,
            False,
            "",
        )
        assert h.sinks.events.lines == []

    def test_a_transition_writes_state_changed_and_a_snapshot(self):
        h = Harness()
        h.steps = 3
        h.lifecycle.transition(T.PREFLIGHT_PASSED, "checks passed", {"checks": "4"})
        (event,) = h.sinks.events_of("STATE_CHANGED")
        assert event["payload"] == {
            "from_state": "INIT",
            "to_state": "PREFLIGHT_OK",
            "trigger": "preflight_passed",
            "status": "RUNNING",
            "reason": "checks passed",
            "detail": {"checks": "4"},
        }
        (snap,) = h.sinks.snapshots()
        assert {k: snap[k] for k in ("fsm_state", "from_state", "trigger", "step", "status")} == {
            "fsm_state": "PREFLIGHT_OK",
            "from_state": "INIT",
            "trigger": "preflight_passed",
            "step": 3,
            "status": "RUNNING",
        }
        assert (snap["positions"], snap["open_orders"], snap["equity"]) == ({}, [], "100000")
        assert h.lifecycle.in_(S.PREFLIGHT_OK)

    def test_no_detail_no_detail_key(self):
        h = Harness()
        h.lifecycle.transition(T.PREFLIGHT_PASSED, "ok")
        assert "detail" not in h.sinks.events_of("STATE_CHANGED")[0]["payload"]

    def test_an_illegal_trigger_writes_nothing(self):
        h = Harness()
        assert not h.lifecycle.may_fire(T.ACTIVATE)
        with pytest.raises(InvalidTransition):
            h.lifecycle.transition(T.ACTIVATE, "")
        assert h.lifecycle.state is S.INIT
        assert h.sinks.events.lines == []
        assert h.sinks.states.lines == []


class TestFault:
    def test_a_fault_while_trading_marks_failed_and_needs_the_operator(self):
        h = Harness()
        h.activate()
        h.lifecycle.fault("INVARIANT_POSITION", {"symbol": "BTC/USDT"})
        lc = h.lifecycle
        assert (lc.state, lc.status, lc.failed, lc.reason) == (
            S.ERROR_REQUIRES_OPERATOR,
            SessionStatus.FAILED,
            True,
            "INVARIANT_POSITION",
        )
        last = h.sinks.events_of("STATE_CHANGED")[-1]["payload"]
        assert last == {
            "from_state": "DRYRUN_ACTIVE",
            "to_state": "ERROR_REQUIRES_OPERATOR",
            "trigger": "fault",
            "status": "FAILED",
            "reason": "INVARIANT_POSITION",
            "detail": {"symbol": "BTC/USDT"},
        }
        assert h.sinks.snapshots()[-1]["fsm_state"] == "ERROR_REQUIRES_OPERATOR"

    def test_a_fault_before_trading_goes_through_stopping(self):
        h = Harness()
        h.lifecycle.transition(T.PREFLIGHT_PASSED, "")
        h.lifecycle.fault("LEASE_LOST")
        assert h.changes()[1:] == [
            ("PREFLIGHT_OK", "STOPPING", "request_stop"),
            ("STOPPING", "ERROR_REQUIRES_OPERATOR", "fault"),
        ]
        assert h.lifecycle.state is S.ERROR_REQUIRES_OPERATOR
        assert [e["payload"]["status"] for e in h.sinks.events_of("STATE_CHANGED")[1:]] == [
            "FAILED",
            "FAILED",
        ]

    def test_a_fault_with_nowhere_to_go_still_marks_failed(self):
        h = Harness()
        h.lifecycle.fault("EARLY")
        assert (h.lifecycle.state, h.lifecycle.status, h.lifecycle.reason) == (
            S.INIT,
            SessionStatus.FAILED,
            "EARLY",
        )
        assert h.sinks.events.lines == []

    def test_a_fault_keeps_its_exception_and_a_later_fault_without_one_keeps_it_too(self):
        h = Harness()
        h.activate()
        boom = ValueError("the strategy broke")
        h.lifecycle.fault("STRATEGY_ERROR", cause=boom)
        assert h.lifecycle.cause is boom
        h.lifecycle.fault("SINK_WRITE_FAILED")
        assert h.lifecycle.cause is boom

    def test_a_fault_puts_its_records_out_to_the_files_and_syncs_none(self):
        """A session may wait for a person at a fault, and status reads the snapshot on disk:
        each file the fault wrote is flushed then. None is synced (durability none never
        syncs; the step's group commit does, when durable)."""
        sinks = [CallsSink(), CallsSink(), CallsSink()]
        h = Harness(events_sink=sinks[0], states_sink=sinks[1], audit_sink=sinks[2])
        h.activate()
        for sink in sinks:
            sink.calls.clear()
        h.lifecycle.fault("INVARIANT_POSITION")
        # STATE_CHANGED, its snapshot and C2_OPERATOR_REQUIRED, each flushed once
        assert [sink.calls for sink in sinks] == [["write", "flush"]] * 3


class TestGuarded:
    def test_a_guarded_action_runs(self):
        h = Harness()
        ran = []
        h.lifecycle.guarded(lambda: ran.append(1))
        assert ran == [1]
        assert (h.halts, h.lifecycle.failed) == (0, False)

    def test_a_sink_failure_fails_the_session_closed(self):
        states = BreakableSink()
        h = Harness(states_sink=states)
        h.activate()
        states.broken = True
        h.lifecycle.guarded(lambda: h.lifecycle.snapshot("probe", S.DRYRUN_ACTIVE))
        lc = h.lifecycle
        assert h.halts == 1
        assert (lc.failed, lc.reason, lc.state) == (
            True,
            "SINK_WRITE_FAILED",
            S.ERROR_REQUIRES_OPERATOR,
        )
        assert h.recorder.dead == {"states"}
        (failed,) = h.sinks.events_of("SINK_WRITE_FAILED")
        assert failed["payload"]["sinks"] == ["states"]
        assert "states sink failed" in failed["payload"]["error"]
        assert "C2_SINK_WRITE_FAILED" in h.sinks.audit_codes()
        assert h.changes()[-1] == ("DRYRUN_ACTIVE", "ERROR_REQUIRES_OPERATOR", "fault")

    def test_other_errors_are_not_swallowed(self):
        h = Harness()

        def boom() -> None:
            raise ValueError("not a sink")

        with pytest.raises(ValueError, match="not a sink"):
            h.lifecycle.guarded(boom)
        assert (h.halts, h.lifecycle.failed) == (0, False)

    def test_fail_closed_records_the_reason_once(self):
        h = Harness()
        h.activate()
        h.lifecycle.fail_closed(SinkFailure("first"))
        h.lifecycle.fail_closed(SinkFailure("second"))
        assert len(h.sinks.events_of("SINK_WRITE_FAILED")) == 1
        assert h.halts == 2  # trading is stopped every time, the record is written once

    def test_each_sink_dying_in_turn_still_brings_a_session_not_yet_trading_to_the_operator(
        self,
    ):
        """Each nested failure kills one more sink, and fail_closed tries again: the events
        sink dies at SINK_WRITE_FAILED, the states sink at the snapshot of the stop, and the
        fault still reaches ERROR_REQUIRES_OPERATOR, which the audit records. The result's
        detail names both lost files."""
        events, states = BreakableSink(), BreakableSink()
        h = Harness(events_sink=events, states_sink=states)
        h.lifecycle.transition(T.PREFLIGHT_PASSED, "")
        events.broken = states.broken = True
        h.lifecycle.fail_closed(SinkFailure("the first"))
        lc = h.lifecycle
        assert (lc.state, lc.status, lc.reason) == (
            S.ERROR_REQUIRES_OPERATOR,
            SessionStatus.FAILED,
            "SINK_WRITE_FAILED",
        )
        assert h.recorder.dead == {"events", "states"}
        assert h.sinks.audit_codes() == ["C2_OPERATOR_REQUIRED"]
        assert lc.detail == (
            "events sink failed at line 2 (OSError: disk gone); "
            "states sink failed at line 2 (OSError: disk gone)"
        )


class TestSeal:
    def test_seal_writes_the_closing_records_once(self):
        h = Harness()
        h.activate()
        h.lifecycle.transition(T.REQUEST_STOP, "done")
        h.lifecycle.transition(T.STOPPED, "done")
        h.lifecycle.reason = "STEPS_DONE"
        h.steps = 12
        assert h.lifecycle.seal(durable=False) is True
        (stopped,) = h.sinks.events_of("SESSION_STOPPED")
        assert stopped["payload"] == {
            "status": "COMPLETED",
            "fsm_state": "STOPPED",
            "steps": 12,
            "reason": "STEPS_DONE",
            "equity": "100000",
            "pnl": "0",
        }
        final = h.sinks.snapshots()[-1]
        assert (final["trigger"], final["from_state"], final["fsm_state"]) == (
            "final",
            "STOPPED",
            "STOPPED",
        )
        assert h.sinks.audit_codes()[-1] == "C2_DRYRUN_STOP"
        stop = orjson.loads(h.sinks.audit.lines[-1])["payload"]
        assert stop["status"] == "COMPLETED"
        assert stop["steps"] == 12
        # the digests cover everything written before them, the final snapshot included
        assert stop["digests"] == {
            "events.jsonl": hashlib.sha256(h.sinks.events.getvalue()).hexdigest(),
            "state_snapshots.jsonl": hashlib.sha256(h.sinks.states.getvalue()).hexdigest(),
        }
        assert h.sinks.metrics_doc()["run_id"] == "t"
        assert h.lifecycle.sealed

    def test_a_second_seal_writes_nothing(self):
        h = Harness()
        assert h.lifecycle.seal(durable=True) is True
        written = (len(h.sinks.events.lines), len(h.sinks.states.lines), len(h.sinks.audit.lines))
        assert h.lifecycle.seal(durable=True) is False
        assert (
            len(h.sinks.events.lines),
            len(h.sinks.states.lines),
            len(h.sinks.audit.lines),
        ) == written
        assert h.sinks.audit_codes().count("C2_DRYRUN_STOP") == 1

    def test_a_sink_failing_at_the_seal_marks_failed_and_the_rest_goes_out(self):
        """The final snapshot is lost: the rest goes out, but a run whose snapshots lost a
        line is not sealed (it used to be: C2_DRYRUN_STOP over incomplete evidence).
        metrics.json and the result say which file was lost where; the alert tap still
        hears the stop, FAILED."""
        states = BreakableSink()
        h = Harness(states_sink=states)
        heard: list[tuple[str, object]] = []
        h.recorder.audit_observers.append(
            lambda code, payload, _ts, _seq: heard.append((code, payload.get("status")))
        )
        states.broken = True
        assert h.lifecycle.seal(durable=False) is True
        assert h.lifecycle.failed
        assert h.sinks.events_of("SESSION_STOPPED")
        assert "C2_DRYRUN_STOP" not in h.sinks.audit_codes()
        assert heard[-1] == ("C2_DRYRUN_STOP", "FAILED")
        metrics = h.sinks.metrics_doc()
        assert (metrics["states_sink_failed_at"], metrics["states_sink_error"]) == (
            1,
            "OSError: disk gone",
        )
        (stopped,) = h.sinks.events_of("SESSION_STOPPED")  # written before the loss
        assert (metrics["status"], metrics["state_snapshots"]) == (stopped["payload"]["status"], 0)
        assert h.lifecycle.detail == "states sink failed at line 1 (OSError: disk gone)"

    @pytest.mark.parametrize("durable", [False, True])
    def test_the_seal_syncs_its_files_only_when_durable(self, durable):
        sinks = [CallsSink(), CallsSink(), CallsSink()]
        h = Harness(events_sink=sinks[0], states_sink=sinks[1], audit_sink=sinks[2])
        h.stopped()
        for sink in sinks:
            sink.calls.clear()
        h.lifecycle.seal(durable=durable)
        assert _holds_stop(sinks[2])
        for sink in sinks:
            assert "flush" in sink.calls
            assert ("sync" in sink.calls) is durable
            assert sink.calls[-1] == ("sync" if durable else "flush")

    @pytest.mark.parametrize(("reason", "said"), [("", "SINK_WRITE_FAILED"), ("KILL", "KILL")])
    def test_a_snapshot_lost_at_the_seal_is_the_reason_of_a_run_without_one(self, reason, said):
        states = BreakableSink()
        h = Harness(states_sink=states)
        h.stopped(reason)
        states.broken = True
        h.lifecycle.seal(durable=False)
        assert (h.lifecycle.failed, h.lifecycle.reason) == (True, said)

    @pytest.mark.parametrize(("reason", "said"), [("", "SINK_WRITE_FAILED"), ("KILL", "KILL")])
    def test_metrics_refused_at_the_seal_withholds_the_seal(self, reason, said):
        """metrics.json counts the stop record it precedes: refused (a full disk), the run
        is not sealed, and it failed."""
        metrics = BreakableMetrics()
        h = Harness(metrics_sink=metrics)
        h.stopped(reason)
        heard = h.heard()
        metrics.broken = True
        assert h.lifecycle.seal(durable=False) is True
        lc = h.lifecycle
        assert (lc.failed, lc.status, lc.reason) == (True, SessionStatus.FAILED, said)
        assert "C2_DRYRUN_STOP" not in h.sinks.audit_codes()
        assert heard == [("C2_DRYRUN_STOP", "FAILED")]

    @pytest.mark.parametrize(("reason", "said"), [("", "SINK_WRITE_FAILED"), ("KILL", "KILL")])
    def test_an_audit_refusing_the_stop_record_leaves_the_run_unsealed_and_failed(
        self, reason, said
    ):
        """metrics.json was written counting the stop record: the audit refused it, so
        metrics.json is written again without it, and the run failed, not merely unsynced."""
        audit = CallsSink(fail="write", fail_after=b"C2_DRYRUN_STOP")
        h = Harness(audit_sink=audit)
        h.stopped(reason)
        h.lifecycle.seal(durable=False)
        lc = h.lifecycle
        assert not _holds_stop(audit)
        assert (lc.failed, lc.status, lc.reason, lc.unsynced) == (
            True,
            SessionStatus.FAILED,
            said,
            "",
        )
        assert lc.detail == "audit sink failed at record 1 (OSError: disk gone)"
        assert h.sinks.metrics_doc()["audit_events"] == 0

    @pytest.mark.parametrize("call", ["flush", "sync"])
    @pytest.mark.parametrize("faulted", [False, True])
    def test_a_stop_record_written_but_not_flushed_or_synced_is_sealed_unsynced(
        self, call, faulted
    ):
        """The audit file holds C2_DRYRUN_STOP, so every tool reads the run sealed: its
        flush or sync failing then changes neither the status nor the detail of the run
        (a completed run stays completed, a failed one failed with its fault's detail); the
        result says the file is not known to be on disk."""
        audit = CallsSink(fail=call, fail_after=b"C2_DRYRUN_STOP")
        h = Harness(audit_sink=audit)
        if faulted:
            h.activate()
            h.lifecycle.fault("INVARIANT_POSITION", {"symbol": "BTC/USDT"})
        else:
            h.stopped()
        h.lifecycle.seal(durable=True)
        lc = h.lifecycle
        assert _holds_stop(audit)
        assert (lc.failed, lc.status) == (
            (True, SessionStatus.FAILED) if faulted else (False, SessionStatus.COMPLETED)
        )
        assert lc.detail == ("symbol=BTC/USDT" if faulted else "")
        assert lc.unsynced == "the sync of audit.jsonl failed (OSError: disk gone)"


class TestCheckpoint:
    def test_state_round_trips_into_a_fresh_lifecycle(self):
        h = Harness()
        h.activate()
        h.lifecycle.fault("BOOM")
        h.lifecycle.seal(durable=False)
        state = h.lifecycle.get_state()
        assert state == {
            "fsm_state": "ERROR_REQUIRES_OPERATOR",
            "failed": True,
            "sealed": True,
            "reason": "BOOM",
        }
        fresh = Harness()
        fresh.lifecycle.set_state(orjson.loads(orjson.dumps(state)))
        assert fresh.lifecycle.get_state() == state
        assert fresh.lifecycle.status is SessionStatus.FAILED
        assert fresh.lifecycle.seal(durable=False) is False  # sealed stays sealed
        assert fresh.sinks.events.lines == []  # restoring records nothing

    def test_a_restored_machine_fires_from_the_restored_state(self):
        h = Harness()
        h.activate()
        fresh = Harness()
        fresh.lifecycle.set_state(h.lifecycle.get_state())
        assert fresh.lifecycle.may_fire(T.REQUEST_STOP)
        fresh.lifecycle.transition(T.REQUEST_STOP, "stop")
        assert fresh.changes() == [("DRYRUN_ACTIVE", "STOPPING", "request_stop")]
