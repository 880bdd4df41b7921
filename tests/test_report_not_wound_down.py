"""The report's header says a run was left in ERROR_REQUIRES_OPERATOR without a wind-down.

Bug: a run whose reconciliation escalated (an order at the venue the session never sent)
is sealed FAILED in ERROR_REQUIRES_OPERATOR, not wound down: its orders and position may
still be at the venue. The evidence says so (``left in ERROR_REQUIRES_OPERATOR, not wound
down: the venue may still hold its orders and position (a person must look)``), as do
``status`` and the CLI's last line; the report's header read ``8 of 12 steps, faulted:
RECONCILE_MISMATCH``, as a strategy error's, which is cancelled, flattened and stopped.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import DryrunConfig, DryrunResult, OrderType, Side, create_run
from livesession._artifacts import names
from livesession._artifacts.runread import iter_records
from livesession._cli_summary import failure_line, left_at_venue
from livesession._domain.clock import SimClock
from livesession._domain.model import BrokerReport, FillReport, Order
from livesession._rundir.halts import MID_WIND_DOWN, WOUND_DOWN
from livesession._rundir.seal import TAKEN_OVER, describe_seal
from livesession._rundir.statuswords import describe_orders
from livesession.evidence._outcome import outcome
from livesession.evidence._verdict import run_ended
from livesession.leases import FileLease
from livesession.report import render_report
from livesession.status import Verdict, run_status
from livesession.testing import FaultBroker

from _helpers import START

_LEFT = (
    "; left in ERROR_REQUIRES_OPERATOR, not wound down: the venue may still hold its orders "
    "and position (a person must look)"
)


class _SimulatedFaultBroker(FaultBroker):
    simulated = True


def _foreign() -> Order:
    """An order no session sent, to plant at the venue."""
    return Order(
        client_order_id="lsforeign", symbol="BTC/USDT", side=Side.BUY, quantity=Decimal("0.5")
    )


def _header(run: Path) -> str:
    return render_report(run).split("</header>", 1)[0]


def _foreign_run(
    tmp_path: Path, run_id: str, steps: int, planted_after: int, *, resting: bool = False
) -> DryrunResult:
    """A run that buys at step 1; an order no session sent appears at the venue after
    ``planted_after`` steps, and is escalated once its grace ran out.

    ``resting``: the buy is a limit order below the market that rests, and the venue
    refuses every cancel from the plant on: the wind-down cannot cancel it.
    """
    broker = _SimulatedFaultBroker()
    cfg = DryrunConfig(run_id=run_id, strategy_id="scripted", steps=steps)
    rest = {"order_type": OrderType.LIMIT, "limit_price": Decimal("38500.00")} if resting else {}
    strategy = ScriptedStrategy(at({1: [buy("0.010", **rest)]}))
    feed = ScriptedFeed(["40000.00"] * steps)
    with create_run(cfg, tmp_path, broker=broker, feed=feed, strategy=strategy) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(planted_after)
        broker.plant(_foreign())
        if resting:
            broker.arm("cancel_transient", times=1000)
        return session.run_to_end(steps)


def test_a_run_left_for_an_operator_says_it_was_not_wound_down(tmp_path: Path) -> None:
    _foreign_run(tmp_path, "left", steps=12, planted_after=2)  # escalated while trading
    header = _header(tmp_path / "left")
    assert f"8 of 12 steps, faulted: RECONCILE_MISMATCH{_LEFT}</p>" in header


class _Raises:
    strategy_id = "scripted"

    def on_bar(self, bar: object, view: object) -> list[object]:
        raise ValueError("bad close")

    def get_state(self) -> dict[str, object]:
        return {}

    def set_state(self, state: dict[str, object]) -> None:
        pass


def test_a_wound_down_fault_says_no_such_thing(tmp_path: Path) -> None:
    cfg = DryrunConfig(run_id="wound", strategy_id="scripted", steps=4)
    feed = ScriptedFeed(["40000.00"] * 4)
    with create_run(cfg, tmp_path, feed=feed, strategy=_Raises()) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(4)  # faulted on the first bar
        session.acknowledge("ops-1")  # cancel, flatten, stop: wound down
    header = _header(tmp_path / "wound")
    assert "1 of 4 steps, faulted: STRATEGY_ERROR (ValueError: bad close)</p>" in header
    assert "not wound down" not in header


def test_a_wind_down_the_venue_did_not_confirm_is_not_said_unwound(tmp_path: Path) -> None:
    """Bug: a run whose stop (or end) wound down but ran out of polls before the venue
    confirmed it (``STOP_INCOMPLETE``: a fill the venue reports late) was told ``left in
    ERROR_REQUIRES_OPERATOR, not wound down`` by the report's header and the evidence, where
    the CLI's own line says ``after a wind-down the venue did not confirm (its cancels and
    flatten may be there)`` and RUNBOOK that such a stop wound down: a reviewer read that
    nothing was cancelled. Both say the wind-down the venue did not confirm now."""
    late = {"late_fill_rate": "1", "late_fill_ms": 86_400_000, "transient_rate": "0"}
    cfg = DryrunConfig.from_mapping(
        {
            "run_id": "unconfirmed",
            "strategy_id": "scripted",
            "steps": 6,
            "broker": "realish",
            "stop_max_polls": 2,
            "realish": late | {"timeout_rate": "0"},
        }
    )
    strategy = ScriptedStrategy(at({1: [buy("0.010")]}))
    feed = ScriptedFeed(["40000.00"] * 6)
    with create_run(cfg, tmp_path, feed=feed, strategy=strategy) as session:
        result = session.run_to_end(6)  # the end's wind-down: the buy's fill comes too late
    assert result.reason == "STOP_INCOMPLETE"
    left = (
        "left in ERROR_REQUIRES_OPERATOR after a wind-down the venue did not confirm (its "
        "cancels and flatten may be there): the venue may still hold its orders and position "
        "(a person must look)"
    )
    run_dir = tmp_path / "unconfirmed"
    assert f"6 of 6 steps, faulted: STOP_INCOMPLETE; {left}</p>" in _header(run_dir)
    # The order the book still holds open at the seal, as `status` lists it. Before, Key
    # metrics said only "final positions flat in the book; in doubt: ...", not the order.
    standing = run_status(run_dir)
    assert len(standing.open_orders) == 1
    shown = describe_orders(standing.open_orders, standing.open_orders_as_of)
    assert f"<td>final open orders</td><td>{shown}</td>" in render_report(run_dir)
    assert run_ended(outcome(run_dir, iter_records(run_dir / names.EVENTS))) == {
        "ended": "FAILED",
        "said": f"FAILED: STOP_INCOMPLETE after 6 of 6 steps; {left}",
    }


_WOUND_DOWN = (
    "after a wind-down (its orders cancelled, the book flat) that found the venue holding what "
    "the book does not"
)
_MID_WIND_DOWN = (
    "during a wind-down, before its orders were all cancelled and the book flat, on finding the "
    "venue holding what the book does not"
)
_LOOK = "a person must look (RUNBOOK: When a session is in ERROR_REQUIRES_OPERATOR): the run "
_NAMED = (
    "(RECONCILE_ESCALATED in events.jsonl names it): check the venue's open orders and positions"
)
_SAID = {  # how far the wind-down had got: its words, status's next step, what the venue holds
    "done": (
        _WOUND_DOWN,
        (
            f"{_LOOK}was wound down (its orders cancelled, the book flat), then found the venue "
            f"holding what the book does not {_NAMED}"
        ),
        "a person must look at the venue's open orders and positions",
    ),
    "mid": (
        _MID_WIND_DOWN,
        (
            f"{_LOOK}was winding down, its orders not all cancelled or the book not flat, when "
            f"it found the venue holding what the book does not {_NAMED}, its own among them"
        ),
        "the venue may still hold its orders and position (a person must look)",
    ),
}


class TestEscalatedInItsWindDown:
    """Bug: a run whose wind-down had cancelled its orders and flattened the book, and whose
    reconciler then escalated a difference with the venue (an order the session never sent),
    was said to be left ``without a wind-down`` by the CLI's last line and ``not wound down``
    by the report's header and the evidence, and ``status`` advised as for one: a reviewer
    read that nothing was cancelled nor flattened. Each now says it was wound down and the
    venue holds what the book does not, and still sends a person to the venue.

    Bug (``mid``): so was one whose wind-down was under way, its resting order not cancelled
    yet (the venue refused the cancels), when the reconciler escalated: a reviewer read that
    no stop had begun. Each says the escalation came during the wind-down, before it was
    done; the evidence's ``outcome`` holds ``winding_down: true``.
    """

    @pytest.fixture(params=sorted(_SAID))
    def escalated(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> tuple[Path, str, DryrunResult]:
        """The order no session sent was placed at the venue within the reconciler's grace
        of the run's end: the wind-down escalates it (``RECONCILE_MISMATCH`` from STOPPING),
        once it cancelled and flattened (``done``), or with its own resting order's cancels
        refused (``mid``)."""
        mid = request.param == "mid"
        result = _foreign_run(tmp_path, "late", steps=10, planted_after=9, resting=mid)
        assert (result.reason, result.state.value) == (
            "RECONCILE_MISMATCH",
            "ERROR_REQUIRES_OPERATOR",
        )
        assert len(result.open_orders) == mid  # its own order, still resting at the venue
        assert dict(result.positions) in ({"BTC/USDT": Decimal("0.000")}, {})
        return tmp_path / "late", request.param, result

    def test_the_cli_line(self, escalated: tuple[Path, str, DryrunResult]) -> None:
        run_dir, how, result = escalated
        assert failure_line(result, run_dir) == (
            "RECONCILE_MISMATCH (discrepancies=1, kinds=ORDER_UNKNOWN_LOCALLY); sealed FAILED "
            f"in ERROR_REQUIRES_OPERATOR {_SAID[how][0]}: check the venue's open orders and "
            f"positions (RUNBOOK): {run_dir}"
        )

    def test_status(self, escalated: tuple[Path, str, DryrunResult]) -> None:
        run_dir, how, _ = escalated
        standing = run_status(run_dir)
        assert standing.verdict is Verdict.NEEDS_OPERATOR
        assert standing.next_step() == _SAID[how][1]

    def test_the_report_header(self, escalated: tuple[Path, str, DryrunResult]) -> None:
        run_dir, how, _ = escalated
        header = _header(run_dir)
        assert "not wound down" not in header
        words, _, look = _SAID[how]
        assert (
            f"10 of 10 steps, faulted: RECONCILE_MISMATCH; left in ERROR_REQUIRES_OPERATOR "
            f"{words}: {look}</p>".replace("'", "&#x27;")
        ) in header

    def test_the_evidence(self, escalated: tuple[Path, str, DryrunResult]) -> None:
        run_dir, how, _ = escalated
        found = outcome(run_dir, iter_records(run_dir / names.EVENTS))
        flags = {"done": (True, None), "mid": (None, True)}[how]
        assert (found.get("wound_down"), found.get("winding_down")) == flags
        words, _, look = _SAID[how]
        assert run_ended(found)["said"] == (
            f"FAILED: RECONCILE_MISMATCH after 10 of 10 steps; left in ERROR_REQUIRES_OPERATOR "
            f"{words}: {look}"
        )


class _StoppingBroker(_SimulatedFaultBroker):
    """Once ``stopping``, its next poll adds a fill the book cannot apply (off the lot); once
    ``journal_lost``, it cannot say where its journal stands (a broker of the caller's)."""

    stopping = False
    journal_lost = False
    offset = 0

    def journal_offset(self) -> int:
        if self.journal_lost:
            raise OSError("journal disk gone")
        self.offset += 1
        return self.offset

    def poll(self, now_ns: int) -> list[BrokerReport]:
        reports = list(super().poll(now_ns))
        if self.stopping:
            self.stopping = False
            cid = next(iter(self.recorded))  # the run's one order
            off_lot = {"trade_id": "off-lot", "quantity": Decimal("0.0105"), "price": _LIMIT}
            reports.append(FillReport(client_order_id=cid, ts_ns=now_ns, **off_lot))
        return reports


class _StatelessAtTheStop(ScriptedStrategy):
    """Its state fails the second time it is asked once ``failing``: at the stop's own
    checkpoint, which the stop takes once STOPPING (the first is asked while trading)."""

    failing = 0

    def get_state(self) -> dict[str, Any]:
        if self.failing:
            self.failing += 1
            if self.failing > 2:
                raise ValueError("state lost")
        return super().get_state()


_LIMIT = Decimal("38500.00")
_DONE_BOOK = (
    "during a wind-down, once its orders were cancelled and the book flat, before it was done"
)
_MID_BOOK = "during a wind-down, before its orders were all cancelled and the book flat"
_MAY_HOLD = "the venue may still hold its orders and position (a person must look)"
_FAULTED = {  # how each fault came in the wind-down: reason, what it says, how far it got
    "report, wound down": ("BROKER_REPORT_INVALID", _DONE_BOOK, WOUND_DOWN),
    "report, mid": ("BROKER_REPORT_INVALID", _MID_BOOK, MID_WIND_DOWN),
    "strategy": ("STRATEGY_ERROR", _DONE_BOOK, WOUND_DOWN),
    "journal": ("BROKER_CALL_FAILED", _MID_BOOK, MID_WIND_DOWN),
    "lease": ("LEASE_LOST", _MID_BOOK, MID_WIND_DOWN),
}


class TestFaultedInItsWindDown:
    """Bug: a run whose stop (or end) was winding down when another fault than a
    reconciler's escalation sealed it in ERROR_REQUIRES_OPERATOR (a fill report the book
    cannot apply, the strategy's state or the broker's journal offset failing at the stop's
    checkpoint, a lease another
    session took over) was said to be left ``without a wind-down`` by the CLI's last line,
    ``not wound down`` by the report's header and the evidence, and ``status`` advised as
    for one (for a lost lease: ``stopped without cancelling or flattening``): a reviewer
    read that no stop had begun. Each says how far the wind-down had got now, in the same
    words, read from the fault's snapshot (``from_state`` ``STOPPING``, the book)."""

    @pytest.fixture(params=sorted(_FAULTED))
    def faulted(self, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str, str]:
        """A run buys at step 1 (a limit order below the market: it rests); after its ten
        steps the run's end winds down and the fault comes in it. ``mid``: the venue refuses
        the resting order's cancels, so it is still open when the fault comes."""
        case = request.param
        reason, _, how = _FAULTED[case]
        broker = _StoppingBroker()
        cfg = DryrunConfig(run_id="r", strategy_id="scripted", steps=10, lease_ttl_ms=1000)
        strategy = _StatelessAtTheStop(
            at({1: [buy("0.010", order_type=OrderType.LIMIT, limit_price=_LIMIT)]})
        )
        lease_clock = SimClock(START)
        leased = {"lease": True, "lease_clock": lease_clock} if case == "lease" else {}
        feed = ScriptedFeed(["40000.00"] * 10)
        with create_run(
            cfg, tmp_path, broker=broker, feed=feed, strategy=strategy, **leased
        ) as session:
            assert session.preflight()
            session.activate()
            session.run_n_steps(10)
            if how == MID_WIND_DOWN:
                broker.arm("cancel_transient", times=1000)
            if case.startswith("report"):
                broker.stopping = True
            elif case == "strategy":
                strategy.failing = 1
            elif case == "journal":  # at the stop's checkpoint, its order resting
                broker.journal_lost = True
            else:  # the lease lapses, and another session takes it over
                lease_clock.advance(5_000_000_000)
                other = FileLease(
                    tmp_path / ".leases" / "default__scripted.lease", "default", "scripted"
                )
                now_ns = int(lease_clock.now().timestamp()) * 1_000_000_000
                assert other.acquire("other@host", now_ns, 60_000_000_000)
            result = session.run_to_end(10)
        run_dir = tmp_path / "r"
        assert (result.reason, result.state.value) == (reason, "ERROR_REQUIRES_OPERATOR")
        line = failure_line(result, run_dir)
        return run_dir, case, line

    def test_the_cli_line(self, faulted: tuple[Path, str, str]) -> None:
        _, case, line = faulted
        assert f"; sealed FAILED in ERROR_REQUIRES_OPERATOR {_FAULTED[case][1]}: " in line
        assert "without a wind-down" not in line

    def test_the_stop_line(self, faulted: tuple[Path, str, str]) -> None:
        """Bug: ``livesession stop``'s line of such a run (``left_at_venue``), and what
        ``stop``, ``kill``, ``ack`` and ``resume`` say of it once sealed (``describe_seal``),
        told the operator to close what the venue still holds even after a lost lease, when
        that is the new holder's: each now says what the CLI's last line and ``status`` say."""
        run_dir, case, line = faulted
        said = (left_at_venue(run_dir), describe_seal(run_dir, advise=True))
        if _FAULTED[case][0] != "LEASE_LOST":
            assert not any(TAKEN_OVER in one for one in said)
            return
        assert said[0] == f"{TAKEN_OVER}: {run_dir}"
        assert said[1].endswith(f"in ERROR_REQUIRES_OPERATOR: no signal settles it; {TAKEN_OVER}")
        assert f"{TAKEN_OVER}: {run_dir}" in line  # the CLI's last line says the same
        assert not any("close what is still there" in one for one in said)
        assert TAKEN_OVER.startswith("another session took the lease over and owns the venue's")

    def test_status(self, faulted: tuple[Path, str, str]) -> None:
        run_dir, case, _ = faulted
        reason, words, how = _FAULTED[case]
        own = ", its own among them" if how == MID_WIND_DOWN else ""
        said = (
            f"a person must look (RUNBOOK: When a session is in ERROR_REQUIRES_OPERATOR): the "
            f"run faulted ({reason}) {words}: check the venue's open orders and positions{own}"
        )
        found = run_status(run_dir).next_step()
        if reason == "LEASE_LOST":  # the venue's are the new holder's: not to be closed
            assert (
                f"this run lost its lease (the lease line says how) and stopped {words}, " in found
            )
            assert "without cancelling or flattening" not in found
            return
        assert found == said

    def test_the_report_header(self, faulted: tuple[Path, str, str]) -> None:
        run_dir, case, _ = faulted
        reason, words, _ = _FAULTED[case]
        header = _header(run_dir)
        assert "not wound down" not in header
        why = {  # the fault's error and message, as the evidence's "Run ended" names them
            "journal": " (Transient: journal_offset raised OSError: journal disk gone)",
            "strategy": " (ValueError: state lost)",
        }.get(case, "")  # the other faults record no error and message
        said = f"faulted: {reason}{why}; left in ERROR_REQUIRES_OPERATOR {words}: {_MAY_HOLD}</p>"
        assert said in header

    def test_the_evidence(self, faulted: tuple[Path, str, str]) -> None:
        run_dir, case, _ = faulted
        reason, words, how = _FAULTED[case]
        found = outcome(run_dir, iter_records(run_dir / names.EVENTS))
        assert (found.get("wound_down"), found.get("winding_down")) == (
            {WOUND_DOWN: (True, None), MID_WIND_DOWN: (None, True)}[how]
        )
        said = run_ended(found)["said"]
        assert said.startswith(f"FAILED: {reason}")
        assert said.endswith(
            f" after 10 of 10 steps; left in ERROR_REQUIRES_OPERATOR {words}: {_MAY_HOLD}"
        )
