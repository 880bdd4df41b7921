"""A user's own broker: what preflight lets trade, and what the session makes of its calls.

Each test is one of the prober's repros (round 34, a desk's broker plug-in): a
``MockBroker`` subclass that misbehaves the way a desk's adapter did. Every run directory
made here is verified at teardown (the conftest), in-memory runs explicitly.
"""

from __future__ import annotations

import html
import io
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import attrs
import orjson
import pytest

from livesession import (
    DryrunConfig,
    DryrunResult,
    FillReport,
    LiveSessionError,
    MockBroker,
    OrderIntent,
    SessionState,
    SessionStatus,
    Side,
    TradingState,
    Transient,
)
from livesession._artifacts.metrics import MetricsCollector
from livesession._artifacts.runread import iter_records
from livesession._cli_runs import trading_line
from livesession._cli_summary import (
    broker_failures_line,
    exposure_line,
    failure_line,
    left_at_venue,
    result_json,
)
from livesession._reconcile.reconciler import position_doubts
from livesession._risk.checks import PreflightContext, UserBrokerCheck
from livesession._rundir import create_run, resume_run
from livesession._session.broker_guard import guard_broker
from livesession._support.logging import configure_logging, disable_logging
from livesession._support.text import md_text
from livesession._typing import JournaledVenue, PositionVenue
from livesession.evidence import write_evidence
from livesession.evidence._outcome import outcome, outcome_lines
from livesession.report import render_report
from livesession.status import Verdict, run_status
from livesession.verify import verify_run

from _helpers import session
from crash_harness import cli

D = Decimal


class RealAccount(MockBroker):
    """The desk's adapter, built on the mock: kind "mock" inherited, declared NOT simulated."""

    simulated = False

    def __init__(self) -> None:
        super().__init__(seed=1)
        self.sent: list[str] = []

    def submit(self, order: Any, now_ns: int) -> None:
        self.sent.append(order.client_order_id)
        super().submit(order, now_ns)


class TestTheLiveGate:
    """Before, preflight passed a broker by its kind "mock" first, so a MockBroker subclass
    declaring ``simulated = False`` passed with live trading off and sent 14 orders."""

    def test_a_broker_declared_not_simulated_is_refused_whatever_its_kind(self):
        broker = RealAccount()
        orch, sinks = session(broker=broker)
        assert orch.preflight() is False
        assert orch.status is SessionStatus.REJECTED
        assert "C2_REJECT_BROKER_NOT_SIMULATED" in sinks.audit_codes()
        assert orch.result().detail == (
            "broker RealAccount (kind 'mock') declares simulated = False, and live trading "
            "is off (enabled = true and the live override)"
        )
        orch.close()
        assert broker.sent == []

    def test_a_caller_s_broker_that_declares_nothing_is_refused(self):
        class Quiet(MockBroker):
            pass

        orch, sinks = session(broker=Quiet(seed=1))
        assert orch.preflight() is False
        assert "C2_REJECT_BROKER_NOT_SIMULATED" in sinks.audit_codes()
        assert "Quiet (kind 'mock') does not declare simulated" in orch.result().detail
        orch.close()

    def test_it_trades_only_with_live_trading_explicitly_enabled(self):
        orch, _ = session(broker=RealAccount(), enabled=True, live_override=True)
        assert orch.preflight() is True
        orch.close()

    @pytest.mark.parametrize(
        ("given", "reasons"),
        [
            ({"live_override": True}, "BROKER_NOT_SIMULATED"),
            ({"enabled": True}, "LIVE_ENABLED,BROKER_NOT_SIMULATED"),
        ],
        ids=["override-alone", "enabled-alone"],
    )
    def test_one_half_of_the_live_gate_is_not_enough(self, given, reasons):
        """The live override without ``enabled = true`` (which leaves live_trading_disabled
        passing), or ``enabled`` without the override: the broker is refused."""
        broker = RealAccount()
        orch, _ = session(broker=broker, **given)
        assert orch.preflight() is False
        assert orch.result().reason == reasons
        orch.close()
        assert broker.sent == []

    def test_the_user_broker_check_wants_both_halves_too(self):
        check = UserBrokerCheck({"ref": "desk.venue:RealAccount"})
        for enabled, override, passed in [
            (False, True, False),
            (True, False, False),
            (True, True, True),
        ]:
            ctx = PreflightContext(
                config=DryrunConfig(run_id="t", enabled=enabled),
                broker=RealAccount(),
                audit_sink_present=True,
                live_override=override,
            )
            assert check(ctx).passed is passed, (enabled, override)
            said = "declared NOT simulated" if passed else "declares simulated = False"
            assert said in check(ctx).detail
        undeclared = PreflightContext(
            config=DryrunConfig(run_id="t", enabled=True),
            broker=MockBroker(seed=1),  # kind "mock", but a caller's (guarded): says nothing
            audit_sink_present=True,
            live_override=True,
            own_broker=False,
        )
        result = check(undeclared)
        assert (result.passed, result.reason) == (False, "USER_BROKER_NOT_SIMULATED")
        assert "does not declare simulated" in result.detail

    def test_livesession_s_own_brokers_and_declared_ones_still_pass(self):
        class Declared(MockBroker):
            simulated = True

        for broker in (MockBroker(seed=1), Declared(seed=1)):
            orch, _ = session(broker=broker)
            assert orch.preflight() is True, orch.result().detail
            orch.close()

    def test_a_run_directory_records_one_refusal_under_user_broker(self, tmp_path: Path):
        """create_run runs the ``user_broker`` check too: the refusal is said once, as
        docs/plugins.md has it (``USER_BROKER_NOT_SIMULATED``)."""
        broker = RealAccount()
        run = create_run(DryrunConfig(run_id="gate", steps=20), tmp_path, broker=broker)
        assert run.preflight() is False
        run.close()
        result = run.result()
        assert (result.status, result.reason) == (
            SessionStatus.REJECTED,
            "USER_BROKER_NOT_SIMULATED",
        )
        assert broker.sent == []
        lines = (tmp_path / "gate" / "audit.jsonl").read_bytes().splitlines()
        codes = [orjson.loads(line)["code"] for line in lines]
        assert codes.count("C2_REJECT_USER_BROKER_NOT_SIMULATED") == 1
        assert "C2_REJECT_BROKER_NOT_SIMULATED" not in codes

    @pytest.mark.parametrize("made", ["MockBroker", "RealishBroker", "FaultBroker"])
    def test_livesession_s_own_broker_handed_to_create_run_passes_audited_as_such(
        self, tmp_path: Path, made: str
    ):
        """Bug: ``create_run(cfg, out, broker=MockBroker(...))``, as docs/embedding.md shows
        it, was REJECTED (``user_broker ... does not declare simulated``), though
        docs/plugins.md has livesession's own brokers known by their kind, and the same
        object passed through ``broker_factory`` and ``LiveSessionOrchestrator``. Exactly
        one of livesession's own simulated classes now passes ``user_broker``, audited as
        such; a subclass still declares (``Quiet``, below)."""
        from livesession.brokers.realish import RealishBroker
        from livesession.testing import FaultBroker

        brokers = {
            "MockBroker": lambda: MockBroker(seed=5, qty_lot=D("0.001")),
            "RealishBroker": lambda: RealishBroker(seed=5),
            "FaultBroker": FaultBroker,
        }
        run = create_run(DryrunConfig(run_id="own", steps=300), tmp_path, broker=brokers[made]())
        assert run.run_to_end(300).status is SessionStatus.COMPLETED
        run.close()
        checks = {
            record["payload"]["check"]: record["payload"]
            for record in iter_records(tmp_path / "own" / "events.jsonl")
            if record["event_type"] == "PREFLIGHT_CHECK"
        }
        assert checks["user_broker"]["passed"] is True
        kind = "realish" if made == "RealishBroker" else "mock"
        assert checks["user_broker"]["detail"].endswith(
            f"{made}, livesession's own simulated venue (kind {kind!r})"
        )

    def test_a_subclass_of_livesession_s_own_broker_handed_in_still_declares(self, tmp_path: Path):
        class Quiet(MockBroker):
            pass

        run = create_run(DryrunConfig(run_id="quiet", steps=20), tmp_path, broker=Quiet(seed=5))
        result = run.run_to_end(20)
        run.close()
        assert (result.status, result.reason) == (
            SessionStatus.REJECTED,
            "USER_BROKER_NOT_SIMULATED",
        )
        assert "Quiet does not declare simulated" in result.detail


class Quiet(MockBroker):
    """A desk's broker on the mock that declares nothing: the caller's own, refused."""


@pytest.mark.parametrize(
    ("broker", "said"),
    [
        (
            lambda: MockBroker(seed=5, qty_lot=D("0.001")),
            "livesession's own simulated venue (kind 'mock'): livesession.brokers.mock.MockBroker",
        ),
        (lambda: Quiet(seed=5), f"no simulated declaration: {__name__}.Quiet"),
    ],
    ids=["own", "subclass"],
)
def test_the_evidence_says_the_broker_as_its_user_broker_check_judged_it(
    tmp_path: Path, broker: Any, said: str
) -> None:
    """Bug: the evidence's plug-in summary of a run given an exact ``MockBroker`` said
    ``no simulated declaration``, while its audited ``user_broker`` check passed it as
    livesession's own simulated venue. It says what the check said now; a subclass that
    declares nothing (refused) reads as before. The evidence writes its own two files only:
    the run's bytes are as they were."""
    run = create_run(DryrunConfig(run_id="ev", steps=40), tmp_path, broker=broker())
    run.run_to_end(40)
    run.close()
    run_dir = tmp_path / "ev"
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    write_evidence(run_dir)
    manifest = orjson.loads((run_dir / "manifest.json").read_bytes())
    assert manifest["plugins"]["broker"]["summary"] == (
        f"user-supplied broker, {said} (object supplied in-process)"
    )
    after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert {name: after[name] for name in before} == before
    assert sorted(set(after) - set(before)) == sorted(
        ["manifest.json", next(run_dir.glob("EV-*.md")).name]
    )


class Desk(MockBroker):
    """A desk's simulated adapter on the mock, misbehaving in the one way a test asks."""

    simulated = True

    def __init__(self, *, journal: Path | None = None, **faults: Any) -> None:
        super().__init__(seed=1, price_tick=D("0.01"), qty_lot=D("0.001"), journal=journal)
        self.faults = faults
        self.offsets = 0

    def journal_offset(self) -> int:
        self.offsets += 1
        if self.offsets > self.faults.get("offsets_ok", self.offsets):
            raise OSError("journal disk gone")
        return super().journal_offset()

    def positions(self) -> Any:
        fault = self.faults.get("positions")
        if isinstance(fault, BaseException):
            raise fault
        held = super().positions()
        return fault(held) if callable(fault) else held


def _run(tmp_path: Path, run_id: str, broker: Any, **config: Any) -> tuple[Path, Any]:
    """A create_run session on ``broker`` to its end; the run directory and the result."""
    cfg = DryrunConfig(**{"run_id": run_id, "steps": 150, **config})
    run = create_run(cfg, tmp_path, broker=broker)
    result = run.run_to_end(cfg.steps)
    run.close()
    return tmp_path / run_id, result


def _events(run_dir: Path, event_type: str) -> list[dict[str, Any]]:
    lines = (run_dir / "events.jsonl").read_bytes().splitlines()
    return [e["payload"] for e in map(orjson.loads, lines) if e["event_type"] == event_type]


def _checkpoint(run_dir: Path) -> dict[str, Any]:
    return orjson.loads((run_dir / "checkpoint.json").read_bytes())


class TestOptionalReads:
    """Before, ``positions()`` was called raw: a raise at activation ended ``dryrun`` with
    "livesession: error: positions endpoint down" (exit 2) and a run directory whose
    events and audit were empty; a list answer was an AttributeError traceback (exit 1)."""

    @pytest.mark.parametrize(
        ("fault", "said"),
        [
            (ConnectionError("positions endpoint down"), "positions raised ConnectionError"),
            (lambda held: list(held.items()), "positions returned a list where a mapping"),
            (lambda held: {"BTC/USDT": 0.0}, "positions gave 'BTC/USDT' a float, not a finite"),
            (lambda held: {"BTC/USDT": D("NaN")}, "positions gave 'BTC/USDT' NaN, not a finite"),
        ],
        ids=["raises", "list", "float", "nan"],
    )
    def test_a_positions_read_that_fails_or_answers_wrongly_is_transient(self, fault, said):
        guarded = guard_broker(Desk(positions=fault))
        assert isinstance(guarded, PositionVenue)
        with pytest.raises(Transient, match=said):
            cast("PositionVenue", guarded).positions()

    @pytest.mark.parametrize(
        "fault",
        [ConnectionError("positions endpoint down"), lambda held: list(held.items())],
        ids=["raises", "list"],
    )
    def test_a_session_counts_it_as_a_failed_call_and_seals_its_run(self, tmp_path, fault):
        run_dir, result = _run(tmp_path, "positions", Desk(positions=fault))
        assert result.status is SessionStatus.COMPLETED, result.detail
        assert result.trading is TradingState.HALTED  # never reconciled: nothing sent since
        (unhealthy,) = _events(run_dir, "BROKER_UNHEALTHY")
        assert (unhealthy["operation"], unhealthy["error"]) == ("reconcile", "Transient")
        assert _checkpoint(run_dir)["sealed"] is True  # status and resume see the seal
        # The summary says why trading is HALTED (it said plain "HALTED", as if by nothing).
        metrics = MetricsCollector()
        for line in (run_dir / "events.jsonl").read_bytes().splitlines():
            event = orjson.loads(line)
            metrics.on_event(event["event_type"], event["payload"])
        assert trading_line(result, metrics) == "HALTED (broker unhealthy 1)"
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations


class TestJournalOffsetAtACheckpoint:
    """Before, ``journal_offset()`` raising OSError at the step-100 checkpoint ended
    ``dryrun`` with "the sealing checkpoint could not be written ... once the file system
    has room again" (exit 2): verify said sealed FAILED, status crashed and resumable, and
    a resume cut the sealed audit to ``.torn`` and ran again."""

    @pytest.mark.parametrize(
        ("offsets_ok", "every", "steps"),
        [(1, 100, 100), (0, 100, 0), (1, 1000, 150)],
        ids=["step-100", "activation", "the-stop"],
    )
    def test_it_is_the_broker_s_fault_sealed_and_named(self, tmp_path, offsets_ok, every, steps):
        broker = Desk(offsets_ok=offsets_ok)
        run_dir, result = _run(tmp_path, "journal", broker, checkpoint_every=every)
        assert (result.status, result.reason) == (SessionStatus.FAILED, "BROKER_CALL_FAILED")
        assert result.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert result.detail == "Transient: journal_offset raised OSError: journal disk gone"
        assert result.trading is TradingState.HALTED
        checkpoint = _checkpoint(run_dir)
        assert (checkpoint["sealed"], checkpoint["failed"]) == (True, True)
        assert checkpoint["broker_journal_offset"] is None  # nobody resumes a sealed run
        assert checkpoint["steps"] == steps
        standing = run_status(run_dir)
        assert standing.sealed
        assert standing.verdict is Verdict.NEEDS_OPERATOR
        with pytest.raises(LiveSessionError, match="nothing to resume"):
            resume_run(run_dir)
        assert not list(run_dir.glob("*.torn"))
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations

    @pytest.mark.parametrize(
        ("answer", "said"),
        [("12", "returned a str where an int"), (True, "returned a bool"), (-1, "returned -1")],
    )
    def test_a_wrong_offset_is_a_failed_read(self, answer: object, said: str):
        class Says(Desk):
            def journal_offset(self) -> Any:
                return answer

        guarded = cast("JournaledVenue", guard_broker(Says()))
        with pytest.raises(Transient, match=f"^journal_offset {said}"):
            guarded.journal_offset()

    def test_the_cli_says_so_once_and_exits_4(self, tmp_path: Path):
        plug = tmp_path / "deskjournal"
        plug.mkdir()
        (plug / "__init__.py").write_text("")
        (plug / "venue.py").write_text(
            "from livesession import MockBroker\n\n\n"
            "class Venue(MockBroker):\n"
            "    simulated = True\n"
            "    calls = 0\n\n"
            "    def journal_offset(self):\n"
            "        self.calls += 1\n"
            "        if self.calls > 1:\n"
            "            raise OSError('journal disk gone')\n"
            "        return super().journal_offset()\n\n\n"
            "def make():\n"
            "    return Venue()\n"
        )
        config = tmp_path / "j.toml"
        config.write_text('run_id = "j"\nsteps = 150\nbroker = "deskjournal.venue:make"\n')
        proc = cli("dryrun", "-c", config, "--out", tmp_path / "runs", "-q", cwd=tmp_path)
        assert proc.returncode == 4, proc.stderr
        (line,) = proc.stderr.splitlines()
        assert line.startswith(
            "livesession: failed: BROKER_CALL_FAILED (Transient: journal_offset raised "
            "OSError: journal disk gone); sealed FAILED in ERROR_REQUIRES_OPERATOR"
        ), line


class Flip:
    """Buys 0.010 on bar 1 of every 4 when flat, sells it back 2 bars later (the repro's)."""

    strategy_id = "flip"

    def __init__(self) -> None:
        self.n = 0

    def on_bar(self, bar: Any, view: Any) -> list[OrderIntent]:
        self.n += 1
        held = view.position(bar.symbol)
        if self.n % 4 == 1 and held == 0 and not view.has_open_orders(bar.symbol):
            return [OrderIntent(symbol=bar.symbol, side=Side.BUY, quantity=D("0.010"))]
        if self.n % 4 == 3 and held > 0:
            return [OrderIntent(symbol=bar.symbol, side=Side.SELL, quantity=held, reduce_only=True)]
        return []

    def get_state(self) -> dict[str, Any]:
        return {"n": self.n}

    def set_state(self, state: Any) -> None:
        self.n = int(state["n"])


class InMemory(MockBroker):
    """A paper venue that keeps its orders and positions in memory (no journal)."""

    simulated = True

    def __init__(self) -> None:
        super().__init__(seed=1)


class TestAResumeOnAVenueThatLostItsState:
    """Before, a run crashed after its checkpoint (long 0.010) and resumed on a fresh
    in-memory venue (flat) failed every resume with IdempotencyConflict ("... once what the
    line names is put right, ... resume can continue it"), while status said resumable: the
    re-run no longer repeated the crashed one, and sent another order under a used key."""

    def test_the_conflict_faults_and_seals_the_run(self, tmp_path: Path):
        cfg = DryrunConfig(run_id="mem", strategy_id="flip", steps=80, checkpoint_every=6)
        crashed = create_run(cfg, tmp_path, broker=InMemory(), strategy=Flip())

        def crash(inner: Any) -> None:
            if inner.steps_done == 10:  # after bar 9's buy reserved its key
                raise KeyboardInterrupt

        crashed.step_hooks.append(crash)
        crashed.preflight()
        crashed.activate()
        with pytest.raises(KeyboardInterrupt):
            crashed.run_n_steps(80)
        crashed.close()  # seals nothing: a crash at the step-6 checkpoint (long 0.010)
        run_dir = tmp_path / "mem"
        assert run_status(run_dir).verdict is Verdict.CRASHED

        resumed = resume_run(run_dir, broker=InMemory(), strategy=Flip())
        result = resumed.run_to_end(cfg.steps, operator="cli")
        resumed.close()
        assert (result.status, result.reason) == (SessionStatus.FAILED, "IDEMPOTENCY_CONFLICT")
        assert result.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert "is already reserved with different order parameters" in result.detail
        assert _checkpoint(run_dir)["sealed"] is True
        standing = run_status(run_dir)
        assert (standing.verdict, standing.resumable) == (Verdict.NEEDS_OPERATOR, False)
        with pytest.raises(LiveSessionError, match="nothing to resume"):
            resume_run(run_dir, broker=InMemory(), strategy=Flip())
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations


class Ghost(Desk):
    """Reports one fill for an order this session never sent (another desk's, a venue bug)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_ghost = False

    def poll(self, now_ns: int) -> Any:
        reports = list(super().poll(now_ns))
        if reports and not self.sent_ghost:
            self.sent_ghost = True
            reports.append(
                FillReport(
                    client_order_id=GHOST_ID,
                    ts_ns=now_ns,
                    trade_id="GHOST-1",
                    quantity=D("0.500"),
                    price=D("42000.00"),
                )
            )
        return reports


GHOST_ID = "ls" + "0" * 30


class TestAFillOfAnOrderTheRunNeverSent:
    """Before, such a fill was held as "unmatched" in checkpoint.json and nothing else: no
    event, no audit record, no line; the run said flat while the venue had traded 0.500."""

    def test_it_faults_the_session_naming_the_trade(self, tmp_path: Path):
        run_dir, result = _run(tmp_path, "ghost", Ghost(), steps=300)
        assert (result.status, result.reason) == (SessionStatus.FAILED, "BROKER_REPORT_INVALID")
        assert result.detail == (
            f"the venue's fill 'GHOST-1' of {GHOST_ID}: the run never sent an order with that "
            "client order id"
        )
        (faulted,) = [e for e in _events(run_dir, "STATE_CHANGED") if e["trigger"] == "fault"]
        assert faulted["detail"]["trade_id"] == "GHOST-1"
        assert faulted["detail"]["client_order_id"] == GHOST_ID
        audit = (run_dir / "audit.jsonl").read_bytes()
        assert b"C2_OPERATOR_REQUIRED" in audit
        assert b"GHOST-1" in audit
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations


class OverFill(Desk):
    """The venue fills twice the order's quantity (its own bug): its position is twice."""

    def poll(self, now_ns: int) -> Any:
        return [
            attrs.evolve(r, quantity=r.quantity * 2) if isinstance(r, FillReport) else r
            for r in super().poll(now_ns)
        ]


def _said_in_doubt(
    run_dir: Path, result: DryrunResult, doubt: str, orders: str = "1 open order"
) -> None:
    """The summary, ``--json``, ``DryrunResult`` and ``status`` all put the position in
    doubt with ``doubt``, never plain "flat"."""
    assert result.position_in_doubt == doubt
    line = exposure_line(result)
    assert line == f"flat in the book, {orders}; in doubt: {doubt} (not booked)"
    said = result_json(result, run_dir, 0.1, MetricsCollector(), code=4)
    assert said["position_in_doubt"] == doubt
    standing = run_status(run_dir)
    assert standing.position_in_doubt == doubt
    assert standing.to_json()["position_in_doubt"] == doubt
    (position,) = [row for row in standing.lines() if row.startswith("position")]
    assert position.split(None, 1)[1] == f"flat in the book; in doubt: {doubt} (not booked)"


class TestAPositionInDoubt:
    """Before, after BROKER_REPORT_INVALID (a fill of 0.020 where 0.010 was left) the
    dryrun summary and ``status`` said "position flat" (``--json``: ``positions {}``),
    though the venue had reported a fill: the venue may hold a position the book lacks."""

    def test_the_summary_status_and_json_name_the_unbooked_fill(self, tmp_path: Path):
        run_dir, result = _run(tmp_path, "over", OverFill(), steps=300)
        assert result.reason == "BROKER_REPORT_INVALID"
        assert not any(result.positions.values())  # the book's: the fill was not booked
        assert exposure_line(result).startswith("flat in the book, 1 open order; in doubt: ")
        (faulted,) = [e for e in _events(run_dir, "STATE_CHANGED") if e["trigger"] == "fault"]
        trade_id, cid = faulted["detail"]["trade_id"], faulted["detail"]["client_order_id"]
        unbooked = (
            f"the venue's fill {trade_id!r} of {cid}: its quantity 0.020 is more than the "
            "0.010 left of the order"
        )
        _said_in_doubt(run_dir, result, unbooked)

    def test_a_run_whose_fills_were_all_booked_is_not_in_doubt(self, tmp_path: Path):
        run_dir, result = _run(tmp_path, "plain", Desk(), steps=60)
        assert result.position_in_doubt == ""
        assert run_status(run_dir).position_in_doubt == ""
        assert "in doubt" not in exposure_line(result)


class Repeats(Desk):
    """Sends a fill's trade id twice: split in two parts (0.004 and the rest), once again
    whole after it (``later``), or once again as it was (a re-delivery)."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how
        self.again: list[FillReport] = []

    def poll(self, now_ns: int) -> Any:
        out: list[Any] = list(self.again)
        self.again = []
        for report in super().poll(now_ns):
            if not isinstance(report, FillReport):
                out.append(report)
            elif self.how == "split":
                out.append(attrs.evolve(report, quantity=D("0.004")))
                out.append(attrs.evolve(report, quantity=report.quantity - D("0.004")))
            else:
                out.append(report)
                changed = self.how == "later"
                self.again.append(
                    attrs.evolve(report, price=report.price + D("1")) if changed else report
                )
        return out


class TestATradeIdRepeated:
    """Before, a repeat of a trade id among one order's fills was dropped as a duplicate
    whatever its numbers: the venue split a fill of 0.010 in 0.004 and 0.006 under one id,
    the 0.006 vanished as DUPLICATE_REPORT and the reconciler later failed the run
    FILL_NOT_SEEN. docs/plugins.md said such a repeat faults the session."""

    def test_one_with_other_numbers_faults_naming_the_trade(self, tmp_path: Path):
        run_dir, result = _run(tmp_path, "split", Repeats("split"), steps=300)
        assert (result.status, result.reason) == (SessionStatus.FAILED, "BROKER_REPORT_INVALID")
        (faulted,) = [e for e in _events(run_dir, "STATE_CHANGED") if e["trigger"] == "fault"]
        trade_id = faulted["detail"]["trade_id"]
        assert faulted["detail"]["problem"].startswith(
            "its trade id repeats a fill of the order booked as 0.004 at "
        )
        assert "with other numbers (0.006 at " in faulted["detail"]["problem"]
        assert f"the venue's fill {trade_id!r}" in result.detail
        assert _events(run_dir, "DUPLICATE_REPORT") == []
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations

    def test_one_after_its_order_is_done_is_held_to_the_same_numbers(self, tmp_path: Path):
        run_dir, result = _run(tmp_path, "later", Repeats("later"), steps=300)
        assert result.reason == "BROKER_REPORT_INVALID"
        assert "with other numbers (0.010 at " in result.detail
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations

    def test_a_re_delivery_with_the_same_numbers_is_still_a_duplicate(self, tmp_path: Path):
        run_dir, result = _run(tmp_path, "again", Repeats("again"), steps=300)
        assert result.status is SessionStatus.COMPLETED, result.detail
        assert _events(run_dir, "DUPLICATE_REPORT")
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations


class Elsewhere:
    """Asks once for 0.010 of ETH/USDT: a symbol the allowlist names, the feed does not."""

    strategy_id = "elsewhere"

    def __init__(self) -> None:
        self.asked = False

    def on_bar(self, bar: Any, view: Any) -> list[OrderIntent]:
        if self.asked:
            return []
        self.asked = True
        return [OrderIntent(symbol="ETH/USDT", side=Side.BUY, quantity=D("0.010"))]

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Any) -> None:
        pass


def test_an_allowlist_beyond_the_feed_s_symbol_gives_it_no_market_and_config_md_says_so():
    """The prober's allowlist named symbols no feed prices: each order for one was refused
    NO_MARKET_PRICE, which docs/config.md's allowlist row did not say."""
    strategy = Elsewhere()
    orch, sinks = session(strategy=strategy, allowlist=("BTC/USDT", "ETH/USDT"), steps=5)
    orch.run_to_end(5)
    (refused,) = sinks.events_of("RISK_REJECTED")
    assert (refused["payload"]["rule"], refused["payload"]["symbol"]) == (
        "NO_MARKET_PRICE",
        "ETH/USDT",
    )
    config_md = (Path(__file__).parent.parent / "docs" / "config.md").read_text()
    (row,) = [line for line in config_md.splitlines() if line.startswith("| `allowlist` |")]
    assert "NO_MARKET_PRICE" in row
    assert "only the symbol its feed prices" in row


class PollDown(Desk):
    """A venue whose report feed is down (``poll`` raises) while its order lookups answer."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def poll(self, now_ns: int) -> Any:
        raise self.error


_POLL_ERRORS = {
    "transient": Transient("report stream disconnected"),
    "unexpected": ValueError("venue SDK bug: unexpected field 'x'"),
}


class TestFillsTheVenueMadeThatTheBookNeverSaw:
    """Before, a venue that filled the order while its polls failed (the reconciler saw it:
    RECONCILE_ESCALATED, FILL_NOT_SEEN, venue_filled 0.010) sealed FAILED with the summary,
    ``status`` and the result saying ``position flat, 1 open order`` and no doubt at all."""

    @pytest.mark.parametrize("error", sorted(_POLL_ERRORS))
    def test_the_summary_status_and_json_say_the_position_is_in_doubt(
        self, tmp_path: Path, error: str
    ):
        run_dir, result = _run(tmp_path, error, PollDown(_POLL_ERRORS[error]), steps=300)
        assert (result.status, result.reason) == (SessionStatus.FAILED, "RECONCILE_MISMATCH")
        assert not any(result.positions.values())  # the book's: no fill report came
        (escalated,) = _events(run_dir, "RECONCILE_ESCALATED")
        (item,) = escalated["discrepancies"]
        assert (item["kind"], item["local_filled"], item["venue_filled"]) == (
            "FILL_NOT_SEEN",
            "0",
            "0.010",
        )
        doubt = (
            f"the venue's fills of {item['client_order_id']}: 0.010 filled at the venue, 0 in "
            "the book (FILL_NOT_SEEN)"
        )
        _said_in_doubt(run_dir, result, doubt)
        found = outcome(run_dir, iter_records(run_dir / "events.jsonl"))
        assert found["position_in_doubt"] == doubt
        (seal,) = [
            line for line in outcome_lines(found, run_dir) if line.startswith("- At the seal")
        ]
        assert seal.startswith(
            f"- At the seal: position flat in the book (in doubt: {md_text(doubt)}, not booked);"
        )
        report = html.unescape(render_report(run_dir))
        assert f"flat in the book; in doubt: {doubt} (not booked)" in report
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations

    def test_the_failed_polls_are_counted_and_named_in_the_log_and_summary(self, tmp_path: Path):
        """Before, the failed polls appeared nowhere: no event, no session log line (even at
        debug), and the summary said ``retries 0 (sink 0, broker 0)``. Each failed call is
        counted by operation now, and logged (the first, then each tenfold, at warning)."""
        log = io.StringIO()
        configure_logging(log, level=logging.WARNING)
        secret = "api_key=sk-live-0123456789abcdef"
        try:
            run_dir, result = _run(
                tmp_path, "down", PollDown(Transient(f"stream down {secret}")), steps=300
            )
        finally:
            disable_logging()
        polls = result.broker_failures["poll"]
        assert polls > 1  # one each step its order was open, until the escalation
        assert set(result.broker_failures) == {"poll"}  # the reconciler's queries answered
        (line,) = broker_failures_line(result)
        assert line == f"broker      {polls} failed calls (poll {polls})"
        said = result_json(result, run_dir, 0.1, MetricsCollector(), code=4)
        assert said["broker_failures"] == {"poll": polls}
        records = [orjson.loads(line) for line in log.getvalue().splitlines()]
        failed = [r for r in records if r["event"] == "broker_call_failed"]
        assert [r["failed"] for r in failed] == [n for n in (1, 10, 100, 1000) if n <= polls]
        assert {(r["level"], r["operation"], r["error"], r["run_id"]) for r in failed} == {
            ("warning", "poll", "Transient", "down")
        }
        assert "sk-live-0123456789abcdef" not in log.getvalue()
        assert all("stream down" in r["message"] for r in failed)
        checkpoint = _checkpoint(run_dir)
        assert checkpoint["broker_health"]["failed_calls"] == {"poll": polls}

    @pytest.mark.parametrize(
        ("grace_ms", "reason"),
        [(300_000, "RECONCILE_MISMATCH"), (10**12, "STOP_INCOMPLETE")],
        ids=["in_doubt", "stop_incomplete"],
    )
    def test_stop_s_line_does_not_send_the_operator_to_close_the_book_s_position(
        self, tmp_path: Path, grace_ms: int, reason: str
    ):
        """`livesession stop` of a run sealed FAILED by its wind-down said `still open 1
        order(s), position none; close them at the venue`: the book's numbers. The venue had
        filled that order (its report never came: the polls failed; the cancel it refused
        as not open), so it held 0.010 the line called none, and the order was no longer
        open. The line says the orders and position are the book's, which the venue did not
        confirm, names the fills in doubt when the reconciler saw them, and sends the
        operator to the venue's own open orders and positions."""
        broker = PollDown(_POLL_ERRORS["transient"])
        run_dir, result = _run(
            tmp_path, "stopped", broker, steps=300, reconcile_grace_ms=grace_ms, stop_max_polls=3
        )
        assert (result.status, result.reason) == (SessionStatus.FAILED, reason)
        assert broker.positions() == {"BTC/USDT": D("0.010")}  # the venue's
        assert not any(result.positions.values())  # the book's
        doubt = run_status(run_dir).position_in_doubt
        # Named either way: escalated (RECONCILE_MISMATCH) or, past the wind-down's polls,
        # still within its grace (STOP_INCOMPLETE): the venue reports its position.
        (cid,) = result.open_orders
        assert doubt == (
            f"the venue's fills of {cid}: 0.010 filled at the venue, 0 in the book (FILL_NOT_SEEN)"
        )
        line = left_at_venue(run_dir)
        assert "close them" not in line
        assert "still open" not in line
        in_doubt = f" (in doubt: {doubt} (not booked))" if doubt else ""
        assert line == (
            f"the wind-down did not finish: the book still holds 1 open order(s), position "
            f"flat{in_doubt}, which the venue did not confirm: check the venue's own open "
            "orders and positions and close what is still there (RUNBOOK: When a session is "
            f"in ERROR_REQUIRES_OPERATOR), the run is sealed and cannot be resumed: {run_dir}"
        )
        # Sealed: trading is over, whatever state it was left in (status said `ACTIVE`).
        # The polls that failed every step halted it (BROKER_UNHEALTHY) either way.
        (trading,) = [row for row in run_status(run_dir).lines() if row.startswith("trading")]
        assert trading == (
            "trading     HALTED at the end by a broker halt (the venue failed or fell silent): "
            "new orders were refused from the halt on"
        )
        assert [h["operation"] for h in _events(run_dir, "BROKER_UNHEALTHY")] == ["poll"]
        # dryrun's own line: a STOP_INCOMPLETE ran a wind-down, whose cancels and flatten
        # may be at the venue (it said "without a wind-down"); the fault while trading did not.
        said = failure_line(result, run_dir)
        assert ("without a wind-down" in said) is (reason == "RECONCILE_MISMATCH")
        assert ("after a wind-down the venue did not confirm" in said) is (
            reason == "STOP_INCOMPLETE"
        )

    def test_a_run_whose_calls_all_answered_says_nothing_of_failures(self, tmp_path: Path):
        _, result = _run(tmp_path, "plain", Desk(), steps=60)
        assert result.broker_failures == {}
        assert broker_failures_line(result) == []


class TestAVenueThatHoldsAnotherPosition:
    """Before, a venue reporting another net position than the book's (the reconciler
    escalated it: RECONCILE_ESCALATED, POSITION_MISMATCH, venue 0.500, book 0.000) sealed
    FAILED with the summary saying ``position flat, no open orders`` and ``status``,
    ``report`` and ``evidence`` putting nothing in doubt, while the run failed for that very
    position."""

    def test_every_tool_says_the_venues_position_is_in_doubt(self, tmp_path: Path):
        extra = {"BTC/USDT": D("0.500")}
        broker = Desk(positions=lambda held: {**held, **extra})
        run_dir, result = _run(tmp_path, "held", broker, steps=300)
        assert (result.status, result.reason) == (SessionStatus.FAILED, "RECONCILE_MISMATCH")
        assert not any(result.positions.values())
        (escalated,) = _events(run_dir, "RECONCILE_ESCALATED")
        (item,) = escalated["discrepancies"]
        assert item["kind"] == "POSITION_MISMATCH"
        doubt = (
            f"the venue holds BTC/USDT 0.500, the book {item['local_position']} (POSITION_MISMATCH)"
        )
        _said_in_doubt(run_dir, result, doubt, orders="no open orders")
        found = outcome(run_dir, iter_records(run_dir / "events.jsonl"))
        assert found["position_in_doubt"] == doubt
        report = html.unescape(render_report(run_dir))
        assert f"in the book; in doubt: {doubt} (not booked)" in report
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations

    def test_another_symbols_position_on_a_shared_account_is_not_this_runs(self, tmp_path: Path):
        """A desk runs one session per symbol on one account: a venue reporting the
        account's positions showed this BTC/USDT session the ETH/USDT session's 2.5, which
        it escalated (POSITION_MISMATCH, sealed FAILED) though it can never trade ETH/USDT.
        Its own symbol's difference still escalates (the test above)."""
        extra = {"ETH/USDT": D("2.5")}
        broker = Desk(positions=lambda held: {**held, **extra})
        run_dir, result = _run(tmp_path, "shared", broker, steps=300)
        assert _events(run_dir, "RECONCILE_ESCALATED") == []
        assert (result.status, result.reason) == (SessionStatus.COMPLETED, "")

    def test_fills_in_flight_are_named(self):
        said = position_doubts(
            [
                {
                    "kind": "POSITION_MISMATCH",
                    "symbol": "ETH/USDT",
                    "venue_position": "-1.0",
                    "local_position": "0",
                    "fills_in_flight": "0.5",
                },
                {"kind": "ORDER_MISSING_AT_VENUE", "client_order_id": "ls1"},
            ]
        )
        assert said == (
            "the venue holds ETH/USDT -1.0, the book 0 and 0.5 in flight (POSITION_MISMATCH)"
        )
