"""A halt that does not flatten cancels what could add exposure; the legs of a position stay.

HALTED means no new exposure. The kill switch cancels every order and flattens; the
execution throttle's halt and an unhealthy broker's leave the position held, and cancel
the session's orders that could still add to it (a LIMIT or STOP entry resting at the
venue), so that none fills afterwards with its protective legs refused (HALTED sends no
legs). Each such cancel's ``ORDER_CANCELED`` says ``reason`` ``TRADING_HALTED``.
"""

from __future__ import annotations

from decimal import Decimal

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy, sell
from livesession import DryrunConfig, Order, OrderType, Side, TradingState, client_order_id
from livesession._rundir import create_run
from livesession._session.book import OpenOrder
from livesession.testing import FaultBroker
from livesession.verify import verify_run

from _helpers import session

D = Decimal
PROTECT = {"take_profit_pct": D("0.01"), "stop_loss_pct": D("0.01")}
SYMBOL = "BTC/USDT"


def _cid(seq: int, leg: str = "main") -> str:
    return client_order_id("t", "scripted", seq, leg)


def _run(prices: list[str], script: dict, *, steps: int, broker=None, **cfg):
    """A scripted session stepped ``steps`` times."""
    orch, sinks = session(
        feed=ScriptedFeed(prices),
        strategy=ScriptedStrategy(at(script)),
        broker=broker or FaultBroker(),
        **cfg,
    )
    orch.preflight()
    orch.activate()
    orch.run_n_steps(steps)
    return orch, sinks


def _canceled(sinks) -> dict[str, dict]:
    return {
        e["payload"]["client_order_id"]: e["payload"] for e in sinks.events_of("ORDER_CANCELED")
    }


def _filled(sinks) -> set[str]:
    return {e["payload"]["client_order_id"] for e in sinks.events_of("ORDER_FILLED")}


class TestTheThrottleHalt:
    def test_a_resting_entry_is_cancelled_when_the_throttle_halts_trading(self):
        """A LIMIT entry rests below the market; another order's fill reaches
        max_executions and the next intent halts trading: the entry is cancelled then, so
        the market trading through its price later fills nothing (before: it filled, and
        its legs were refused: a position with no protection)."""
        entry = buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39900.00"), **PROTECT)
        orch, sinks = _run(
            ["40000.00", "40000.00", "39800.00", "39800.00"],
            {1: [entry, buy("0.001")], 2: [buy("0.001")]},
            steps=4,
            risk={"max_executions": 1},
        )
        assert orch.trading_state is TradingState.HALTED
        assert orch.book.positions[SYMBOL] == D("0.001")  # the market buy only
        assert _cid(1) not in _filled(sinks)
        assert _canceled(sinks)[_cid(1)]["reason"] == "TRADING_HALTED"
        assert orch.book.open_orders == ()
        assert not [e for e in sinks.events_of("RISK_REJECTED") if e["payload"].get("leg")]

    def test_the_cancel_follows_the_halt_in_the_same_step(self):
        """The events tell why: TRADING_STATE_CHANGED to HALTED (EXECUTION_THROTTLE), then the
        entry's ORDER_CANCELED (reason TRADING_HALTED), on the step of the halt."""
        entry = buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39900.00"))
        _, sinks = _run(
            ["40000.00", "40000.00", "40000.00"],
            {1: [entry, buy("0.001")], 2: [buy("0.001")]},
            steps=2,
            risk={"max_executions": 1},
        )
        (halt,) = sinks.events_of("TRADING_STATE_CHANGED")
        assert halt["payload"]["reason"] == "EXECUTION_THROTTLE"
        (cancel,) = sinks.events_of("ORDER_CANCELED")
        assert cancel["seq"] > halt["seq"]
        assert cancel["ts_sim"] == halt["ts_sim"]
        assert cancel["payload"] == {
            "client_order_id": _cid(1),
            "filled": "0",
            "order_event_id": cancel["payload"]["order_event_id"],
            "reason": "TRADING_HALTED",
        }

    def test_the_legs_protecting_a_position_stay(self):
        """The filled entry's stop and take profit (reduce-only) are not cancelled at the
        halt; only the second, resting entry is, and the stop still protects the position."""
        first = buy("0.010", **PROTECT)
        resting = buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39900.00"))
        orch, sinks = _run(
            ["40000.00", "40000.00", "40000.00", "39500.00"],
            {1: [first], 2: [resting, buy("0.001")], 3: [buy("0.001")]},
            steps=4,
            risk={"max_executions": 2},
        )
        assert orch.trading_state is TradingState.HALTED
        canceled = _canceled(sinks)
        assert canceled[_cid(2)]["reason"] == "TRADING_HALTED"
        assert "reason" not in canceled[_cid(1, "tp")]  # by the stop's fill (OCO), not the halt
        assert _cid(1, "sl") in _filled(sinks)  # the stop fired at 39500
        assert orch.book.positions[SYMBOL] == D("0.001")  # the market buy of bar 2

    def test_an_exit_that_only_closes_the_position_stays(self):
        """A SELL LIMIT for the position's quantity, not reduce-only, can only close it: it is
        no exposure the halt must refuse, and it stays; one for more than the position could
        open a short, and is cancelled whole."""
        exit_ = sell("0.010", order_type=OrderType.LIMIT, limit_price=D("40500.00"))
        orch, sinks = _run(
            ["40000.00", "40000.00", "40000.00"],
            {1: [buy("0.010")], 2: [exit_, buy("0.001")], 3: [buy("0.001")]},
            steps=3,
            risk={"max_executions": 2},
        )
        assert orch.trading_state is TradingState.HALTED
        assert not sinks.events_of("ORDER_CANCELED")
        assert orch.book.open_orders == (_cid(2),)

        too_much = sell("0.020", order_type=OrderType.LIMIT, limit_price=D("40500.00"))
        orch, sinks = _run(
            ["40000.00", "40000.00", "40000.00"],
            {1: [buy("0.010")], 2: [too_much, buy("0.001")], 3: [buy("0.001")]},
            steps=3,
            risk={"max_executions": 2},
        )
        assert _canceled(sinks)[_cid(2)]["reason"] == "TRADING_HALTED"
        assert orch.book.open_orders == ()

    def test_an_entry_that_filled_before_its_cancel_keeps_its_position_without_legs(self):
        """The venue refuses the cancel: the entry had filled (its fill report still on the
        way). The fill is applied, the position exists, and its legs are refused while
        HALTED (RISK_REJECTED, rule TRADING_STATE, with the leg), as docs/risk.md says."""
        broker = FaultBroker()
        entry = buy("0.001", order_type=OrderType.LIMIT, limit_price=D("39900.00"), **PROTECT)
        orch, sinks = _run(
            ["40000.00", "40000.00"],
            {1: [entry, buy("0.001")], 2: [buy("0.001")]},
            steps=1,
            broker=broker,
            risk={"max_executions": 1},
        )
        broker.arm("fill_race")  # 0.001 cannot be split: all of it fills before the cancel
        orch.run_n_steps(4)  # its fill report comes late
        assert orch.trading_state is TradingState.HALTED
        assert _cid(1) in _filled(sinks)
        assert _cid(1) not in _canceled(sinks)
        assert orch.book.positions[SYMBOL] == D("0.002")
        refused = [e["payload"] for e in sinks.events_of("RISK_REJECTED")]
        assert [(r["rule"], r.get("leg")) for r in refused] == [
            ("EXECUTION_THROTTLE", None),
            ("TRADING_STATE", "sl"),
            ("TRADING_STATE", "tp"),
        ]


class TestABrokerHalt:
    def test_an_unhealthy_broker_s_halt_cancels_a_resting_entry(self):
        """Five failed sends in a row halt trading (BROKER_UNHEALTHY): the entry resting
        from before is cancelled on that step, and the market trading through its price
        fills nothing."""
        broker = FaultBroker()
        entry = buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39900.00"), **PROTECT)
        orch, sinks = _run(
            ["40000.00", "40000.00", "39800.00", "39800.00"],
            {1: [entry], 2: [buy("0.001")]},
            steps=1,
            broker=broker,
        )
        broker.arm("transient", times=5)
        orch.run_n_steps(1)
        assert orch.trading_state is TradingState.HALTED
        assert sinks.events_of("BROKER_UNHEALTHY")
        orch.run_n_steps(2)
        assert _canceled(sinks)[_cid(1)]["reason"] == "TRADING_HALTED"
        assert not any(orch.book.positions.values())


def test_a_run_with_a_halt_s_cancel_verifies(tmp_path):
    """The run's files hold the halt's cancel and still pass ``livesession verify``."""
    entry = buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39900.00"), **PROTECT)
    cfg = DryrunConfig(run_id="halt", strategy_id="scripted", steps=4, risk={"max_executions": 1})
    orch = create_run(
        cfg,
        tmp_path,
        idempotency_backend="memory",
        alerts=False,
        feed=ScriptedFeed(["40000.00", "40000.00", "39800.00", "39800.00"]),
        strategy=ScriptedStrategy(at({1: [entry, buy("0.001")], 2: [buy("0.001")]})),
    )  # the mock broker: a user broker must declare itself simulated
    result = orch.run_to_end(cfg.steps)
    assert result.status.value == "COMPLETED"
    events = (tmp_path / "halt" / "events.jsonl").read_text(encoding="utf-8")
    assert '"reason":"TRADING_HALTED"' in events
    report = verify_run(tmp_path / "halt")
    assert report.ok, report.violations


def test_a_checkpoint_keeps_why_the_session_cancelled():
    """A resumed session still says ``TRADING_HALTED`` for a cancel asked before the crash;
    an order cancelled for no such reason writes no key (checkpoint bytes unchanged)."""
    order = Order(client_order_id="ls1", symbol=SYMBOL, side=Side.BUY, quantity=D(1))
    asked = OpenOrder(order=order, cancel_requested=True, cancel_reason="TRADING_HALTED")
    assert OpenOrder.from_json(asked.to_json()).cancel_reason == "TRADING_HALTED"
    assert "cancel_reason" not in OpenOrder(order=order, cancel_requested=True).to_json()
