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

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import DryrunConfig, Side, create_run
from livesession._domain.model import Order
from livesession.report import render_report
from livesession.testing import FaultBroker

_LEFT = (
    "; left in ERROR_REQUIRES_OPERATOR, not wound down: the venue may still hold its orders "
    "and position (a person must look)"
)


class _SimulatedFaultBroker(FaultBroker):
    simulated = True


def _header(run: Path) -> str:
    return render_report(run).split("</header>", 1)[0]


def test_a_run_left_for_an_operator_says_it_was_not_wound_down(tmp_path: Path) -> None:
    broker = _SimulatedFaultBroker()
    cfg = DryrunConfig(run_id="left", strategy_id="scripted", steps=12)
    strategy = ScriptedStrategy(at({1: [buy("0.010")]}))
    feed = ScriptedFeed(["40000.00"] * 12)
    with create_run(cfg, tmp_path, broker=broker, feed=feed, strategy=strategy) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(2)
        foreign = Order(
            client_order_id="lsforeign", symbol="BTC/USDT", side=Side.BUY, quantity=Decimal("0.5")
        )
        broker.plant(foreign)  # an order no session sent: escalated after the grace
        session.run_to_end(12)
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
    assert "1 of 4 steps, faulted: STRATEGY_ERROR</p>" in header
    assert "not wound down" not in header
