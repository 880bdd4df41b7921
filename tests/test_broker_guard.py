"""A broker of the caller's, held to the broker contract (``GuardedBroker``), and the step's
last resort for an exception nothing else handled (``UNEXPECTED_ERROR``).

Before, a plugged-in broker raising ``KeyError`` from ``submit`` or returning dicts from
``poll`` escaped the step as a traceback and left the run unsealed. Every run made here is
verified (the conftest checks each run directory at teardown; in-memory runs explicitly).
"""

from __future__ import annotations

import asyncio
import inspect
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy, sell
from livesession import (
    DryrunConfig,
    LiveSessionOrchestrator,
    OutcomeUnknown,
    Rejected,
    SessionState,
    SessionStatus,
    TradingState,
    Transient,
)
from livesession._domain.model import (
    AckReport,
    CancelReport,
    FillReport,
    RejectReport,
    Side,
    VenueOrder,
    VenueOrderStatus,
)
from livesession._rundir import create_run
from livesession._session.broker_guard import GuardedBroker, guard_broker
from livesession._typing import (
    ConfirmingLookup,
    DeclaredSimulation,
    JournaledVenue,
    MarkableVenue,
    PositionVenue,
    ResumableVenue,
)
from livesession.brokers.mock import MockBroker
from livesession.evidence._operator import recorded_actions
from livesession.verify import verify_run
from test_run_failures import _verify_memory

from _helpers import Sinks

D = Decimal
SECRET = "hunter2-Zq8vX1"
CID = "cid-1"


def _mock(**kw: Any) -> MockBroker:
    return MockBroker(seed=1, price_tick=D("0.01"), qty_lot=D("0.001"), **kw)


class UserBroker(MockBroker):
    """A caller's broker: the mock, with the misbehaviour a test asks for."""

    simulated = True

    def __init__(self, **faults: Any) -> None:
        super().__init__(seed=1, price_tick=D("0.01"), qty_lot=D("0.001"))
        self.faults = faults
        self.submits = 0
        self.bars = 0
        self.sent: list[str] = []  # the client order ids the venue took, in order

    def on_market(self, bar: Any) -> None:
        self.bars += 1
        if self.faults.get("market_at") == self.bars:
            raise ZeroDivisionError("bad mark")
        super().on_market(bar)

    def submit(self, order: Any, now_ns: int) -> None:
        self.submits += 1
        if self.faults.get("submit_at") == self.submits:
            if self.faults.get("sent"):
                self._send(order, now_ns)
            raise KeyError(f"session token={SECRET}")
        self._send(order, now_ns)

    def _send(self, order: Any, now_ns: int) -> None:
        super().submit(order, now_ns)
        self.sent.append(order.client_order_id)

    def poll(self, now_ns: int) -> Any:
        reports = super().poll(now_ns)
        if reports and "poll" in self.faults:
            return self.faults["poll"]
        if "fill" in self.faults:  # rewrite each fill the way the test asks
            return [
                attrs.evolve(r, **self.faults["fill"](r)) if isinstance(r, FillReport) else r
                for r in reports
            ]
        return reports


class FillsEverything:
    """A simulated venue that fills every order whole at the last close, reduce-only or not,
    stop or limit alike (a paper venue of the simplest kind)."""

    kind = "paper"
    simulated = True

    def __init__(self, *, late_reduce_only: bool = False) -> None:
        self.close_price = D(0)
        self.owed: list[Any] = []
        self.later: list[Any] = []  # with late_reduce_only: a reduce-only fill, a poll later
        self.late_reduce_only = late_reduce_only
        self.orders: list[Any] = []
        self.cancels = 0

    def on_market(self, bar: Any) -> None:
        self.close_price = bar.close

    def submit(self, order: Any, now_ns: int) -> None:
        self.orders.append(order)
        cid, n = order.client_order_id, len(self.orders)
        self.owed.append(AckReport(client_order_id=cid, ts_ns=now_ns, venue_order_id=f"p{n}"))
        late = self.late_reduce_only and order.reduce_only and order.order_type.value != "MARKET"
        (self.later if late else self.owed).append(
            FillReport(
                client_order_id=cid,
                ts_ns=now_ns,
                trade_id=f"T{n}",
                quantity=order.quantity,
                price=self.close_price,
            )
        )

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self.cancels += 1  # too late: it filled at once (or will, a poll later)

    def poll(self, now_ns: int) -> Any:
        owed, self.owed, self.later = self.owed, self.later, []
        return owed

    def open_orders(self) -> Any:
        return []

    def order_by_client_id(self, client_order_id: str) -> Any:
        for order in self.orders:
            if order.client_order_id == client_order_id:
                return VenueOrder.of(order, filled=order.quantity, status=VenueOrderStatus.FILLED)
        return None

    def close(self) -> None:
        pass


class Bare:
    """The broker protocol and nothing else, each answer set by the test."""

    kind = "mock"

    def __init__(self, **answers: Any) -> None:
        self.answers = answers

    def _answer(self, name: str) -> Any:
        answer = self.answers.get(name)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def on_market(self, bar: Any) -> None:
        self._answer("on_market")

    def submit(self, order: Any, now_ns: int) -> None:
        self._answer("submit")

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self._answer("cancel")

    def poll(self, now_ns: int) -> Any:
        return self._answer("poll")

    def open_orders(self) -> Any:
        return self._answer("open_orders")

    def order_by_client_id(self, client_order_id: str) -> Any:
        return self._answer("order_by_client_id")

    def close(self) -> None:
        pass


def _order() -> Any:
    from livesession._domain.model import Order

    return Order(client_order_id=CID, symbol="BTC/USDT", side=Side.BUY, quantity=D("1"))


_VENUE_ORDER = VenueOrder(
    client_order_id=CID,
    symbol="BTC/USDT",
    side=Side.BUY,
    quantity=D("1"),
    filled_quantity=D("0"),
    status=VenueOrderStatus.NEW,
)


class TestWhatIsGuarded:
    def test_livesession_s_own_brokers_are_not_wrapped(self):
        mock = _mock()
        assert guard_broker(mock) is mock

    def test_a_caller_s_broker_is_wrapped_once(self):
        mine = UserBroker()
        guarded = guard_broker(mine)
        assert isinstance(guarded, GuardedBroker)
        assert guarded.inner is mine
        assert guard_broker(guarded) is guarded

    def test_its_attributes_and_declared_abilities_show_through(self):
        guarded = GuardedBroker(UserBroker())
        assert guarded.kind == "mock"
        assert guarded.simulated is True
        assert isinstance(guarded, DeclaredSimulation)
        assert isinstance(guarded, JournaledVenue)
        assert guarded.journal_offset() == 0
        assert not isinstance(GuardedBroker(Bare()), JournaledVenue)

    def test_they_show_through_where_python_3_12_looks_for_them(self):
        """Bug (Python 3.12 and 3.13): ``isinstance`` with a runtime-checkable protocol
        looks attributes up statically (``inspect.getattr_static``), not through
        ``__getattr__``: a caller's broker that declares ``simulated = True`` was refused
        by preflight (``BROKER_NOT_SIMULATED``), its optional abilities went unused. Each
        is found the way 3.12 looks, on 3.11 too; what the broker lacks is not."""
        guarded = GuardedBroker(UserBroker())
        for protocol, name in (
            (DeclaredSimulation, "simulated"),
            (JournaledVenue, "journal_offset"),
            (PositionVenue, "positions"),
            (MarkableVenue, "mark"),
            (ResumableVenue, "resume_at"),
        ):
            assert inspect.getattr_static(guarded, name) is not None, name
            assert isinstance(guarded, protocol), name
        bare = GuardedBroker(Bare())
        for name in ("simulated", "journal_offset", "positions", "lookup"):
            with pytest.raises(AttributeError):
                inspect.getattr_static(bare, name)
        assert not isinstance(bare, (DeclaredSimulation, PositionVenue, ConfirmingLookup))
        assert (guarded.simulated, guarded.positions()) == (True, {})
        assert repr(bare).startswith("GuardedBroker(")

    def test_a_broker_s_private_names_stay_its_own(self):
        """Only its public names show through: a broker that wraps another in ``_inner`` (a
        name the wrapper uses) is wrapped as any other."""

        class Wrapping(Bare):
            def __init__(self) -> None:
                super().__init__(order_by_client_id=_VENUE_ORDER)
                self._inner = Bare()

        wrapping = Wrapping()
        guarded = GuardedBroker(wrapping)
        assert guarded.inner is wrapping
        assert guarded.order_by_client_id(CID) == _VENUE_ORDER
        with pytest.raises(AttributeError):
            inspect.getattr_static(guarded, "_answer")

    def test_close_reaches_the_wrapped_broker(self):
        closed: list[bool] = []

        class Closing(Bare):
            def close(self) -> None:
                closed.append(True)

        GuardedBroker(Closing()).close()
        assert closed == [True]


class TestTranslation:
    @pytest.mark.parametrize("call", ["submit", "cancel"])
    def test_a_change_outside_the_taxonomy_is_outcome_unknown(self, call: str):
        guarded = GuardedBroker(Bare(**{call: KeyError(f"password={SECRET}")}))
        act = {
            "submit": lambda: guarded.submit(_order(), 0),
            "cancel": lambda: guarded.cancel(CID, 0),
        }
        with pytest.raises(OutcomeUnknown) as caught:
            act[call]()
        assert caught.value.client_order_id == CID
        assert str(caught.value) == f"{call} raised KeyError: 'password=***'"
        assert SECRET not in str(caught.value)

    def test_a_base_exception_but_an_interrupt_is_translated_too(self):
        """An ``asyncio.CancelledError`` from a broker built on asyncio escaped the guard
        (it caught ``Exception``) and tore the session; Ctrl-C and ``sys.exit`` still pass."""
        cancelled = asyncio.CancelledError("order task cancelled")
        with pytest.raises(OutcomeUnknown, match=r"^submit raised CancelledError: order task"):
            GuardedBroker(Bare(submit=cancelled)).submit(_order(), 0)
        with pytest.raises(Transient, match=r"^poll raised CancelledError: order task"):
            GuardedBroker(Bare(poll=cancelled)).poll(0)
        for interrupt in (KeyboardInterrupt(), SystemExit(3)):
            with pytest.raises(type(interrupt)):
                GuardedBroker(Bare(submit=interrupt)).submit(_order(), 0)

    @pytest.mark.parametrize(
        ("reason", "code"),
        [
            ("NO_FUNDS", "NO_FUNDS"),
            ("Insufficient balance", "INSUFFICIENT_BALANCE"),
            (f"AUTH_FAILED password={SECRET}", "AUTH_FAILED_PASSWORD"),
            ("x" * 80, "X" * 48),
            ("", "REJECTED"),
        ],
    )
    def test_a_refusal_s_reason_is_made_a_code(self, reason: str, code: str):
        """Before, free text went into ORDER_REJECTED, the metrics and the audit's record
        code (C2_REJECT_<reason>, which verify refuses), secrets and all."""
        guarded = GuardedBroker(Bare(submit=Rejected(f"said {reason}", reason=reason)))
        with pytest.raises(Rejected) as caught:
            guarded.submit(_order(), 0)
        assert caught.value.reason == code
        assert SECRET not in str(caught.value)
        report = RejectReport(client_order_id=CID, ts_ns=0, reason=reason)
        (seen,) = GuardedBroker(Bare(poll=[report])).poll(0)
        assert isinstance(seen, RejectReport)
        assert seen.reason == code

    @pytest.mark.parametrize(
        "error", [Transient("t"), OutcomeUnknown("o"), Rejected("r", reason="NO_FUNDS")]
    )
    def test_the_taxonomy_passes_through(self, error: Exception):
        guarded = GuardedBroker(Bare(submit=error, poll=error))
        with pytest.raises(type(error)) as caught:
            guarded.submit(_order(), 0)
        assert caught.value is error
        with pytest.raises(type(error)):
            guarded.poll(0)

    @pytest.mark.parametrize(
        ("call", "answer", "said"),
        [
            ("poll", RuntimeError("down"), "poll raised RuntimeError: down"),
            ("poll", None, "poll returned a NoneType where a sequence of broker report"),
            ("poll", [{"fill": 1}], "poll returned a dict where a broker report belongs"),
            ("poll", {"a": 1}, "poll returned a dict where a sequence of broker report"),
            ("open_orders", None, "open_orders returned a NoneType where a sequence of"),
            ("open_orders", ["x"], "open_orders returned a str where a VenueOrder belongs"),
            ("order_by_client_id", {}, "returned a dict where a VenueOrder or None belongs"),
        ],
    )
    def test_a_read_that_fails_or_answers_wrongly_is_transient(self, call, answer, said):
        guarded = GuardedBroker(Bare(**{call: answer}))
        with pytest.raises(Transient) as caught:
            getattr(guarded, call)(*(() if call == "open_orders" else (0,)))
        assert said in str(caught.value)

    def test_good_answers_come_through(self):
        ack = AckReport(client_order_id=CID, ts_ns=1, venue_order_id="v1")
        guarded = GuardedBroker(
            Bare(poll=(r for r in [ack]), open_orders=[_VENUE_ORDER], order_by_client_id=None)
        )
        assert guarded.poll(0) == (ack,)  # any iterable, as a tuple
        assert guarded.open_orders() == (_VENUE_ORDER,)
        assert guarded.order_by_client_id(CID) is None

    def test_positions_held_under_anything_but_a_symbol_are_a_failed_read(self):
        class Holding(Bare):
            def positions(self) -> Any:
                return {1: D("1")}

        with pytest.raises(Transient, match=r"^positions returned a int where a symbol \(str\)"):
            GuardedBroker(Holding()).positions()  # type: ignore[attr-defined]

    def test_an_optional_lookup_is_guarded_too(self):
        class Looking(Bare):
            def lookup(self, client_order_id: str, attempts: int | None = None) -> Any:
                raise OSError("socket closed")

        guarded = GuardedBroker(Looking())
        assert isinstance(guarded, ConfirmingLookup)
        with pytest.raises(Transient, match="lookup raised OSError: socket closed"):
            guarded.lookup(CID, attempts=1)


# -- in a session ------------------------------------------------------------------------------


def _config(run_id: str, steps: int = 30) -> DryrunConfig:
    return DryrunConfig(run_id=run_id, strategy_id="scripted", steps=steps, seed=5)


def _events(run_dir: Path, event_type: str) -> list[dict[str, Any]]:
    lines = (run_dir / "events.jsonl").read_bytes().splitlines()
    return [e for e in map(orjson.loads, lines) if e["event_type"] == event_type]


def _run(tmp_path: Path, run_id: str, broker: Any, script: Any) -> tuple[Path, Any]:
    cfg = _config(run_id)
    session = create_run(
        cfg, tmp_path, broker=broker, strategy=ScriptedStrategy(script), feed=ScriptedFeed(["100"])
    )
    result = session.run_to_end(cfg.steps, operator="cli")
    session.close()
    verdict = verify_run(tmp_path / run_id)
    assert verdict.ok, verdict.violations
    return tmp_path / run_id, result


def _protected_session(tmp_path: Path, run_id: str, broker: Any) -> LiveSessionOrchestrator:
    """An active session whose strategy buys 0.010 with an OCO pair (1 %) on bar 2."""
    protected = buy("0.010", take_profit_pct=D("0.01"), stop_loss_pct=D("0.01"))
    session = create_run(
        _config(run_id),
        tmp_path,
        broker=broker,
        strategy=ScriptedStrategy(at({2: [protected]})),
        feed=ScriptedFeed(["100"]),
    )
    session.preflight()
    session.activate()
    return session


class TestInASession:
    @pytest.mark.parametrize("sent", [False, True], ids=["not-sent", "sent"])
    def test_a_submit_raising_keyerror_sends_the_order_once(self, tmp_path: Path, sent: bool):
        """Outcome unknown: looked up first; resent only when the venue does not have it."""
        broker = UserBroker(submit_at=1, sent=sent)
        run_dir, result = _run(tmp_path, "submit", broker, at({2: [buy("0.010")]}))
        assert result.status is SessionStatus.COMPLETED
        (unknown,) = _events(run_dir, "ORDER_OUTCOME_UNKNOWN")
        (resolved,) = _events(run_dir, "ORDER_OUTCOME_RESOLVED")
        cid = unknown["payload"]["client_order_id"]
        assert resolved["payload"]["client_order_id"] == cid
        assert broker.sent.count(cid) == 1  # never twice
        retried = _events(run_dir, "BROKER_CALL_RETRIED")
        assert len(retried) == (0 if sent else 1)
        for path in run_dir.iterdir():
            if path.suffix in (".jsonl", ".json"):
                assert SECRET.encode() not in path.read_bytes(), path.name

    def test_a_poll_answering_dicts_is_a_failed_read_and_the_reconciler_notices(
        self, tmp_path: Path
    ):
        broker = UserBroker(poll=[{"fill": 1}])
        run_dir, result = _run(tmp_path, "poll", broker, at({2: [buy("0.010")]}))
        assert (result.status, result.reason) == (SessionStatus.FAILED, "RECONCILE_MISMATCH")
        assert result.state is SessionState.ERROR_REQUIRES_OPERATOR  # no wind-down: a person
        assert _events(run_dir, "RECONCILE_ESCALATED") or _events(run_dir, "RECONCILED")

    @pytest.mark.parametrize(
        ("fill", "problem"),
        [
            (
                lambda f: {"quantity": f.quantity * 2},
                "its quantity 0.020 is more than the 0.010 left of the order",
            ),
            (lambda f: {"quantity": D(0)}, "its quantity is 0, not a positive number"),
            (lambda f: {"price": D("NaN")}, "its price is NaN, not a positive number"),
            (
                lambda f: {"price": float(f.price)},
                "its price is a float (100.0), not a Decimal",
            ),
            (lambda f: {"trade_id": ""}, "its trade_id is '', not a non-empty string"),
            (
                lambda f: {"price": f"password={SECRET}"},
                "its price is a str ('password=***'), not a Decimal",
            ),
            (
                lambda f: {"symbol": "ETH/USDT"},
                "the venue reported it under symbol 'ETH/USDT', not the order's 'BTC/USDT'",
            ),
        ],
        ids=["overfill", "zero", "nan", "float", "no-trade-id", "secret", "other-symbol"],
    )
    def test_a_fill_the_book_cannot_take_calls_the_operator_and_names_it(
        self, tmp_path: Path, fill: Any, problem: str
    ):
        """Before, an overfill was dropped without a word (the reconciler then blamed a
        missing order), a float price ended UNEXPECTED_ERROR (TypeError), and a zero fill
        was recorded, which verify refuses. The venue and the session disagree about a
        position: nothing is applied, nothing is flattened, an operator is called."""
        broker = UserBroker(fill=fill)
        run_dir, result = _run(tmp_path, "fill", broker, at({2: [buy("0.010")]}))
        assert (result.status, result.reason) == (SessionStatus.FAILED, "BROKER_REPORT_INVALID")
        assert result.state is SessionState.ERROR_REQUIRES_OPERATOR
        cid = broker.sent[0]
        assert result.detail.startswith("the venue's fill ")
        assert result.detail.endswith(f" of {cid}: {problem}")
        assert broker.sent == [cid]  # no flatten, no wind-down: a person decides
        assert not any(result.positions.values())  # the fill was not applied
        assert result.open_orders == (cid,)
        assert _events(run_dir, "ORDER_FILLED") == []
        assert _events(run_dir, "POSITION_CHANGED") == []
        (fault,) = [
            e for e in _events(run_dir, "STATE_CHANGED") if e["payload"]["trigger"] == "fault"
        ]
        assert fault["payload"]["detail"]["problem"] == problem
        assert fault["payload"]["detail"]["client_order_id"] == cid

    def test_a_bad_fill_of_the_wind_down_s_flatten_stops_the_wind_down(self, tmp_path: Path):
        """The flatten's fill is the one the book cannot take: the wind-down flattens no
        more and does not reach STOPPED; the operator is called from STOPPING."""
        fills = iter(range(1, 100))
        broker = UserBroker(fill=lambda f: {"quantity": f.quantity * 3} if next(fills) == 2 else {})
        run_dir, result = _run(tmp_path, "flatten", broker, at({2: [buy("0.010")]}))
        assert (result.status, result.reason) == (SessionStatus.FAILED, "BROKER_REPORT_INVALID")
        assert result.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert len(broker.sent) == 2  # the entry and one flatten, never a second
        # What it left at the venue is in the result (and the CLI's summary and --json):
        # the entry's position, and the flatten still open.
        assert list(result.positions.values()) == [D("0.010")]
        assert result.open_orders == (broker.sent[1],)
        assert [e["payload"]["trigger"] for e in _events(run_dir, "STATE_CHANGED")][-2:] == [
            "request_stop",
            "fault",
        ]

    def test_a_venue_filling_both_oco_legs_trips_the_kill_switch(self, tmp_path: Path):
        """A venue that does not hold reduce-only orders to it filled both legs of an OCO
        pair: the position went from long to short. Before, the run stayed short for the
        rest of the session without a word; now the book mirrors the venue and the step
        pulls the kill switch (REDUCE_ONLY_CROSSED), which flattens what nobody asked for."""
        broker = FillsEverything()
        protected = buy("0.010", take_profit_pct=D("0.01"), stop_loss_pct=D("0.01"))
        run_dir, result = _run(tmp_path, "both-legs", broker, at({2: [protected]}))
        assert result.status is SessionStatus.COMPLETED
        assert result.trading is TradingState.HALTED
        positions = [e["payload"]["position"] for e in _events(run_dir, "POSITION_CHANGED")]
        assert positions == ["0.010", "0.000", "-0.010", "0.000"]  # entry, legs, flatten
        (kill,) = _events(run_dir, "KILL_SWITCH")
        assert kill["payload"]["reason"] == "REDUCE_ONLY_CROSSED"
        assert kill["seq"] == _events(run_dir, "POSITION_CHANGED")[2]["seq"] + 1
        assert len(_events(run_dir, "KILL_SWITCH_FLAT")) == 1
        # The session's own kill: the evidence's re-run makes it again, nobody is told of it.
        assert [a.verb for a in recorded_actions(run_dir / "events.jsonl")] == ["request_stop"]
        kinds = [(o.order_type.value, o.side.value, o.reduce_only) for o in broker.orders]
        assert sorted(kinds) == [
            ("LIMIT", "SELL", True),  # take profit
            ("MARKET", "BUY", False),  # the entry
            ("MARKET", "BUY", True),  # the kill switch's flatten, and nothing more
            ("STOP", "SELL", True),  # stop loss
        ]

    def test_a_reduce_only_fill_that_adds_to_a_position_trips_the_kill_switch(self, tmp_path: Path):
        """The strategy went short past its protected long while the long's OCO legs (both
        reduce-only SELLs) still rested; the venue then filled both legs, each adding to
        the short. Before, only a fill from flat or across flat counted, so the short grew
        to twice what was asked without a word; now the first leg that adds pulls the kill
        switch (REDUCE_ONLY_CROSSED) and the kill flattens."""
        broker = FillsEverything(late_reduce_only=True)
        protected = buy("0.010", take_profit_pct=D("0.01"), stop_loss_pct=D("0.01"))
        run_dir, result = _run(tmp_path, "adds", broker, at({2: [protected, sell("0.030")]}))
        assert result.trading is TradingState.HALTED
        positions = [e["payload"]["position"] for e in _events(run_dir, "POSITION_CHANGED")]
        assert positions[:4] == ["0.010", "-0.020", "-0.030", "-0.040"]  # entry, short, legs
        assert positions[-1] == "0.000"  # the kill switch flattened
        (kill,) = _events(run_dir, "KILL_SWITCH")
        assert kill["payload"]["reason"] == "REDUCE_ONLY_CROSSED"
        assert len(_events(run_dir, "KILL_SWITCH_FLAT")) == 1

    @pytest.mark.parametrize("next_step", [False, True], ids=["same-step", "next-step"])
    def test_a_leg_reported_around_a_reversal_it_preceded_trips_no_kill(
        self, tmp_path: Path, next_step: bool
    ):
        """Long 0.045 with its stop resting; the strategy sells 0.033. The venue (which holds
        reduce-only orders to its position) fills the stop for the 0.045 first, then the
        sell, which opens a short of 0.033 as asked, but reports them out of that order:
        the sell, then the stop's two parts; or the stop's first part, the sell, and the
        stop's second part a step later. One report at a time, a stop's fill reads as
        flipping the long or growing the short. Before, that pulled the kill switch and
        flattened the short the strategy asked for. Now the step's fills, judged together,
        read as the stop only closing the long; or the stop filled no more than the long
        it found at its first fill."""

        class ReportsOutOfOrder(FillsEverything):
            def submit(self, order: Any, now_ns: int) -> None:
                if order.reduce_only:  # the stop rests: acknowledged, not filled
                    self.orders.append(order)
                    cid = order.client_order_id
                    self.owed.append(
                        AckReport(client_order_id=cid, ts_ns=now_ns, venue_order_id="s")
                    )
                    return
                super().submit(order, now_ns)
                if order.side is Side.BUY:
                    return
                stop = next(o for o in self.orders if o.reduce_only)
                first, second = (
                    FillReport(
                        client_order_id=stop.client_order_id,
                        ts_ns=now_ns,
                        trade_id=f"S{n}",
                        quantity=D(part),
                        price=self.close_price,
                    )
                    for n, part in enumerate(("0.022", "0.023"))
                )
                if next_step:
                    self.owed.insert(0, first)
                    self.later.append(second)
                else:
                    self.owed.extend([first, second])

        protected = buy("0.045", stop_loss_pct=D("0.01"))
        script = at({2: [protected], 4: [sell("0.033")]})
        run_dir, result = _run(tmp_path, "late-leg", ReportsOutOfOrder(), script)
        positions = [e["payload"]["position"] for e in _events(run_dir, "POSITION_CHANGED")]
        middle = "0.023" if next_step else "0.012"
        assert positions[:4] == ["0.045", middle, "-0.010", "-0.033"]
        assert not _events(run_dir, "KILL_SWITCH")
        assert result.trading is TradingState.ACTIVE

    @pytest.mark.parametrize(
        ("stop_at", "killed"), [(-1, False), (1, True)], ids=["stop-first", "stop-after"]
    )
    def test_a_leg_reported_steps_after_a_reversal_is_judged_at_its_fill_time(
        self, tmp_path: Path, stop_at: int, killed: bool
    ):
        """Long 0.010 with its stop resting; the strategy sells 0.020. The venue reports the
        sell at once and the stop's fill two polls later. Stop-first: the venue (which holds
        reduce-only orders to its position) filled the stop a nanosecond before the sell,
        closing the long, and the sell then opened the short of 0.020. Before, the stop
        read, in report order, as growing the strategy's short, and the kill switch
        flattened a position the strategy asked for; now it is judged at its fill time
        (``ts_ns``), where it closed the long. Stop-after: the venue filled the stop after
        the sell, beyond a position already short: a real crossing, which still kills."""

        class LateStop(FillsEverything):
            def __init__(self) -> None:
                super().__init__()
                self.delayed: list[Any] = []  # the stop's fill, owed two polls later

            def submit(self, order: Any, now_ns: int) -> None:
                if order.reduce_only and order.order_type.value != "MARKET":
                    self.orders.append(order)  # the stop rests: acknowledged, not filled
                    cid = order.client_order_id
                    self.owed.append(
                        AckReport(client_order_id=cid, ts_ns=now_ns, venue_order_id="s")
                    )
                    return
                super().submit(order, now_ns)
                if order.side is Side.SELL and not order.reduce_only:
                    stop = next(o for o in self.orders if o.reduce_only)
                    self.delayed.append(
                        FillReport(
                            client_order_id=stop.client_order_id,
                            ts_ns=now_ns + stop_at,
                            trade_id="S1",
                            quantity=stop.quantity,
                            price=self.close_price,
                        )
                    )

            def poll(self, now_ns: int) -> Any:
                reports = super().poll(now_ns)
                self.later.extend(self.delayed)  # owed after the next poll, not this one
                self.delayed = []
                return reports

        broker = LateStop()
        protected = buy("0.010", stop_loss_pct=D("0.01"))
        script = at({2: [protected], 4: [sell("0.020")]})
        run_dir, result = _run(tmp_path, "late-stop", broker, script)
        positions = [e["payload"]["position"] for e in _events(run_dir, "POSITION_CHANGED")]
        # entry, sell, stop; then the kill's flatten, or the wind-down's at the run's end
        assert positions == ["0.010", "-0.010", "-0.020", "0.000"]
        stop_fill = next(
            e for e in _events(run_dir, "ORDER_FILLED") if e["payload"]["trade_id"] == "S1"
        )
        sell_fill = next(
            e for e in _events(run_dir, "ORDER_FILLED") if e["payload"]["quantity"] == "0.020"
        )
        assert stop_fill["ts_sim"] > sell_fill["ts_sim"]  # reported a step or more later
        kills = [k["payload"]["reason"] for k in _events(run_dir, "KILL_SWITCH")]
        assert kills == (["REDUCE_ONLY_CROSSED"] if killed else [])
        assert result.trading is (TradingState.HALTED if killed else TradingState.ACTIVE)

    def test_a_crossing_during_an_operator_s_kill_trips_no_second_kill(self, tmp_path: Path):
        """Both legs fill inside the operator's kill (between steps): the kill flattens what
        they crossed, and no second kill is pulled while it does."""
        session = _protected_session(tmp_path, "kill-first", FillsEverything(late_reduce_only=True))
        session.run_n_steps(2)  # the entry filled, both legs working
        assert session.kill("desk")
        session.run_n_steps(5)
        session.close()
        run_dir = tmp_path / "kill-first"
        assert verify_run(run_dir).ok
        positions = [e["payload"]["position"] for e in _events(run_dir, "POSITION_CHANGED")]
        assert positions == ["0.010", "0.000", "-0.010", "0.000"]
        assert [k["payload"]["reason"] for k in _events(run_dir, "KILL_SWITCH")] == ["desk"]

    @pytest.mark.parametrize("verb", ["kill", "request_stop"])
    def test_a_bad_fill_inside_a_kill_or_wind_down_ends_it(self, tmp_path: Path, verb: str):
        """The kill (or the stop's wind-down) cancels both legs; the venue confirms, then
        reports a fill of one that raced its cancel, for twice what the leg held. The
        session faults, and nothing is flattened after it: a person looks at the venue."""

        class CancelRace(FillsEverything):
            def submit(self, order: Any, now_ns: int) -> None:
                super().submit(order, now_ns)
                self.later.clear()  # the legs rest: no fill of their own

            def cancel(self, client_order_id: str, now_ns: int) -> None:
                super().cancel(client_order_id, now_ns)
                self.owed.append(CancelReport(client_order_id=client_order_id, ts_ns=now_ns))
                if self.cancels == 2:  # a fill of the first leg that raced its cancel
                    first = self.orders[1]
                    self.owed.append(
                        FillReport(
                            client_order_id=first.client_order_id,
                            ts_ns=now_ns,
                            trade_id="R1",
                            quantity=first.quantity * 2,
                            price=self.close_price,
                        )
                    )

        broker = CancelRace(late_reduce_only=True)
        session = _protected_session(tmp_path, "bad-in-kill", broker)
        session.run_n_steps(3)  # long 0.010, both legs resting
        if verb == "kill":
            session.kill("desk")
        else:
            session.request_stop("end of day")
        result = session.result()
        session.close()
        assert verify_run(tmp_path / "bad-in-kill").ok
        assert (result.status, result.reason) == (SessionStatus.FAILED, "BROKER_REPORT_INVALID")
        assert broker.cancels == 2
        assert len(broker.orders) == 3  # the entry and its legs: no flatten after the fault

    def test_two_orders_may_share_the_venue_s_trade_id(self, tmp_path: Path):
        """Both sides of a self-trade carry one trade id: each order's fill is applied once,
        and the run verifies (verify refused a trade id seen on another order before)."""
        broker = UserBroker(fill=lambda f: {"trade_id": "T-1"})
        run_dir, result = _run(
            tmp_path, "selftrade", broker, at({2: [buy("0.010")], 5: [buy("0.010")]})
        )
        assert result.status is SessionStatus.COMPLETED
        fills = _events(run_dir, "ORDER_FILLED")
        assert [f["payload"]["trade_id"] for f in fills[:2]] == ["T-1", "T-1"]
        assert fills[1]["payload"]["client_order_id"] != fills[0]["payload"]["client_order_id"]
        positions = [e["payload"]["position"] for e in _events(run_dir, "POSITION_CHANGED")]
        assert positions[:2] == ["0.010", "0.020"]

    def test_a_refusal_in_free_text_leaves_a_run_that_verifies(self, tmp_path: Path):
        class Refusing(UserBroker):
            def submit(self, order: Any, now_ns: int) -> None:
                raise Rejected("no", reason=f"Account locked, password={SECRET}")

        run_dir, _ = _run(tmp_path, "refused", Refusing(), at({2: [buy("0.010")]}))
        (rejected,) = _events(run_dir, "ORDER_REJECTED")
        assert rejected["payload"]["reason"] == "ACCOUNT_LOCKED_PASSWORD"
        for path in run_dir.iterdir():
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path.name

    def test_on_market_raising_is_an_unexpected_error(self, tmp_path: Path):
        broker = UserBroker(market_at=4)
        run_dir, result = _run(tmp_path, "market", broker, at({2: [buy("0.010")]}))
        assert (result.status, result.reason, result.detail) == (
            SessionStatus.FAILED,
            "UNEXPECTED_ERROR",
            "ZeroDivisionError: bad mark",
        )
        assert result.state is SessionState.ERROR_REQUIRES_OPERATOR
        (changed,) = [
            e
            for e in _events(run_dir, "STATE_CHANGED")
            if e["payload"]["to_state"] == "ERROR_REQUIRES_OPERATOR"
        ]
        assert changed["payload"]["detail"] == {"error": "ZeroDivisionError", "message": "bad mark"}
        assert len(_events(run_dir, "BAR")) == 3  # bar 4 never recorded

    def test_the_equity_sealed_after_on_market_raised_is_marked_at_a_recorded_close(
        self, tmp_path: Path
    ):
        """Bar 4 (close 150) never reached the record: the venue raised on it. The sealed
        equity must be the one a reviewer rebuilds from events.jsonl, cash plus the position
        at the last recorded close (101), not at a close no file holds."""
        cfg = _config("marked")
        feed = ScriptedFeed(["100", "100", "101", "150"])
        session = create_run(
            cfg,
            tmp_path,
            broker=UserBroker(market_at=4),
            strategy=ScriptedStrategy(at({2: [buy("0.010")]})),
            feed=feed,
        )
        result = session.run_to_end(cfg.steps)
        session.close()
        assert verify_run(tmp_path / "marked").ok
        run_dir = tmp_path / "marked"
        closes = [b["payload"]["close"] for b in _events(run_dir, "BAR")]
        assert closes == ["100.00", "100.00", "101.00"]
        (last,) = _events(run_dir, "POSITION_CHANGED")[-1:]
        cash, held = D(last["payload"]["cash"]), D(last["payload"]["position"])
        assert held == D("0.010")  # the venue is broken: nothing flattened it
        (stopped,) = _events(run_dir, "SESSION_STOPPED")
        assert D(stopped["payload"]["equity"]) == cash + held * D("101")
        assert result.state is SessionState.ERROR_REQUIRES_OPERATOR

    def test_a_step_hook_raising_is_an_unexpected_error(self, tmp_path: Path):
        sinks = Sinks()
        orch = LiveSessionOrchestrator(
            _config("hook"), feed=ScriptedFeed(["100"]), **sinks.kwargs()
        )

        def hook(session: LiveSessionOrchestrator) -> None:
            if session.steps_done == 5:
                raise RuntimeError(f"dashboard down, api_key={SECRET}")

        orch.step_hooks.append(hook)
        assert orch.preflight()
        orch.activate()
        assert orch.run_n_steps(10) == 5
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert orch.trading_state is TradingState.HALTED
        assert orch.result().detail == "RuntimeError: dashboard down, api_key=***"
        orch.close()
        _verify_memory(sinks, tmp_path / "hook")
        assert SECRET.encode() not in sinks.events.getvalue()

    def test_a_step_hook_raising_a_cancelled_error_is_an_unexpected_error(self, tmp_path: Path):
        """Before, a ``BaseException`` but an interrupt escaped the last resort and tore the
        session, which then sealed nothing."""
        sinks = Sinks()
        orch = LiveSessionOrchestrator(
            _config("hook2"), feed=ScriptedFeed(["100"]), **sinks.kwargs()
        )

        def hook(session: LiveSessionOrchestrator) -> None:
            if session.steps_done == 3:
                raise asyncio.CancelledError("dashboard task cancelled")

        orch.step_hooks.append(hook)
        assert orch.preflight()
        orch.activate()
        assert orch.run_n_steps(10) == 3
        assert orch.result().detail == "CancelledError: dashboard task cancelled"
        orch.close()
        assert orch.result().reason == "UNEXPECTED_ERROR"
        _verify_memory(sinks, tmp_path / "hook2")
